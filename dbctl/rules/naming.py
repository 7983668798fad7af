"""``naming-convention``: constraint and index names follow the models' naming convention.

The convention is SQLAlchemy's ``MetaData(naming_convention=...)``: templates such as
``ix_%(column_0_label)s`` or ``fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s``.
A name matches when it fits the template with the table's name in ``%(table_name)s`` and
any text in the other tokens. Without a convention the rule is silent.

SQLAlchemy applies a convention only to the constraints and indexes a model leaves unnamed
(or whose template has ``%(constraint_name)s``): a name the models spell out is their
choice, and is not judged (``RuleContext.explicit_names``). Names the database has and the
models do not are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from dbctl.report import Finding, Severity
from dbctl.rules.context import RuleContext
from dbctl.rules.indexing import MAX_IDENTIFIER
from dbctl.schema.catalog import Catalog, Table

_TOKEN = re.compile(r"%\((\w+)\)s")
_KINDS = {"ix": "index", "uq": "unique constraint", "ck": "check constraint",
          "fk": "foreign key", "pk": "primary key"}  # fmt: skip


def template_pattern(template: str, table: str) -> re.Pattern[str]:
    pattern, last = "", 0
    for match in _TOKEN.finditer(template):
        pattern += re.escape(template[last : match.start()])
        pattern += re.escape(table) if match.group(1) == "table_name" else ".+"
        last = match.end()
    pattern += re.escape(template[last:])
    return re.compile(pattern)


def _named_objects(table: Table) -> Iterator[tuple[str, str]]:
    if table.primary_key is not None:
        yield "pk", table.primary_key.name
    for unique in table.uniques:
        yield "uq", unique.name
    for check in table.checks:
        yield "ck", check.name
    for fk in table.foreign_keys:
        yield "fk", fk.name
    for index in table.indexes:
        if index.constraint is None:
            yield "ix", index.name


def _matches(template: str, table: str, name: str) -> bool:
    if template_pattern(template, table).fullmatch(name):
        return True
    # PostgreSQL truncates long names to 63 bytes (a character boundary may leave up to 3
    # fewer); SQLAlchemy shortens them with a hash.
    literal = _TOKEN.split(template)[0]
    return len(name.encode()) >= MAX_IDENTIFIER - 8 and name.startswith(literal)


def check(catalog: Catalog, context: RuleContext) -> list[Finding]:
    convention = context.naming_convention
    findings: list[Finding] = []
    for table in catalog.tables.values():
        if table.kind not in ("table", "partitioned table") or table.partition_of:
            continue
        explicit = context.explicit(table)
        for kind, name in _named_objects(table):
            template = convention.get(kind)
            if not isinstance(template, str) or name in explicit:
                continue  # no convention for the kind, or a name the models spell out
            if _matches(template, table.name, name):
                continue
            findings.append(
                Finding(
                    rule="naming-convention",
                    severity=Severity.warning,
                    message=f"{_KINDS[kind]} {name} on {table.qualified_name} does not follow "
                    f"the naming convention {template!r}",
                    table=table.qualified_name,
                    location=context.location(table),
                    evidence={"name": name, "convention": template},
                )
            )
    return findings
