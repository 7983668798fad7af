"""``duplicate-index``: an index whose key is a prefix of another's of the same kind.

Same table, method, predicate and key-part options on the shared prefix: the longer index
serves every lookup the shorter one does, so the shorter one only costs writes and space.
A unique index is kept unless its twin enforces the same uniqueness (the same columns).
"""

from __future__ import annotations

from dbctl.report import Finding, Severity
from dbctl.rules.context import RuleContext
from dbctl.rules.indexing import drop_index_sql
from dbctl.schema.catalog import Catalog, Index


def _parts(index: Index) -> list[tuple[object, ...]]:
    return list(
        zip(
            index.columns,
            index.expressions,
            index.descending,
            index.nulls_first,
            index.opclasses,
            strict=True,
        )
    )


def redundant_to(short: Index, long: Index) -> bool:
    """Whether ``long`` makes ``short`` redundant."""
    if short.name == long.name or not (short.valid and long.valid):
        return False
    if short.constraint is not None:
        return False  # it backs a constraint: that is the thing to drop, if anything
    if (short.method, short.predicate) != (long.method, long.predicate):
        return False
    if short.method not in ("btree", "hash"):
        return False
    a, b = _parts(short), _parts(long)
    if b[: len(a)] != a or (short.method == "hash" and a != b):
        return False
    if not set(short.include) <= set(long.include) | set(long.columns):
        return False
    if short.unique and not (long.unique and len(a) == len(b)):
        return False  # the short one enforces a uniqueness the long one does not
    twins = len(a) == len(b) and short.include == long.include and short.unique == long.unique
    # Of two exact twins report one: the one that backs no constraint, else the later name.
    return not (twins and long.constraint is None and short.name < long.name)


def check(catalog: Catalog, context: RuleContext) -> list[Finding]:
    findings: list[Finding] = []
    for table in catalog.tables.values():
        for short in table.indexes:
            twin = next((long for long in table.indexes if redundant_to(short, long)), None)
            if twin is None:
                continue
            findings.append(
                Finding(
                    rule="duplicate-index",
                    severity=Severity.warning,
                    message=f"index {short.name} on {table.qualified_name} "
                    f"({', '.join(short.columns)}) is covered by {twin.name} "
                    f"({', '.join(twin.columns)})",
                    table=table.qualified_name,
                    columns=short.columns,
                    suggestion=drop_index_sql(table, short),
                    location=context.location(table),
                    evidence={"index": short.name, "covered_by": twin.name},
                )
            )
    return findings
