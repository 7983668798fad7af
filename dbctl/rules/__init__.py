"""Schema design rules over a catalog snapshot: data in, findings out.

Each rule is a small module with ``check(catalog, context) -> list[Finding]``; ``RULES``
composes them (sqlglot's optimizer ``RULES`` is the model). They are shared by
``verify-schema`` and ``check-indexes``.
"""

from __future__ import annotations

from collections.abc import Callable

from dbctl.report import Finding
from dbctl.rules import duplicates, foreign_keys, naming, primary_key
from dbctl.rules.context import RuleContext
from dbctl.schema.catalog import Catalog

Rule = Callable[[Catalog, RuleContext], list[Finding]]

RULES: tuple[Rule, ...] = (
    primary_key.check,
    foreign_keys.check,
    duplicates.check,
    naming.check,
)


def run_rules(
    catalog: Catalog, context: RuleContext, rules: tuple[Rule, ...] = RULES
) -> list[Finding]:
    return [finding for rule in rules for finding in rule(catalog, context)]


__all__ = ["RULES", "RuleContext", "run_rules"]
