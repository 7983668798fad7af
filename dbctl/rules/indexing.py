"""What an index can serve, and how a suggested index is named and written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from dbctl.pg.catalog import Index, Table
from dbctl.pg.identifiers import quote_ident

MAX_IDENTIFIER = 63


def leading_columns(index: Index) -> tuple[str, ...]:
    """The plain-column key parts an index starts with (stops at the first expression)."""
    columns: list[str] = []
    for column, expression in zip(index.columns, index.expressions, strict=True):
        if expression:
            break
        columns.append(column)
    return tuple(columns)


def serves_lookup(index: Index, columns: Sequence[str]) -> bool:
    """Whether ``index`` serves equality lookups on all of ``columns`` (in any order).

    Its leading key parts must be exactly those columns; it must be valid and not partial.
    A hash index serves equality on its single column only.
    """
    if not index.valid or index.predicate is not None or not columns:
        return False
    if index.method == "hash":
        return len(columns) == 1 and index.columns == tuple(columns)
    if index.method != "btree":
        return False
    leading = leading_columns(index)[: len(columns)]
    return len(leading) == len(columns) and set(leading) == set(columns)


def lookup_served(table: Table, columns: Sequence[str]) -> Index | None:
    return next((i for i in table.indexes if serves_lookup(i, columns)), None)


def index_name(table: str, columns: Iterable[str], prefix: str = "ix") -> str:
    """``ix_<table>_<col>_<col>``, shortened with a hash when over 63 characters."""
    name = "_".join([prefix, table, *columns]).lower()
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_IDENTIFIER - 9]}_{digest}"


def qualified_sql(table: Table) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


def key_part_sql(column: str, descending: bool = False, nulls_first: bool | None = None) -> str:
    """``created_at DESC``: one key part, its sort options only where not the default
    (``nulls_first`` None means the direction's default: first for DESC, last for ASC)."""
    text = quote_ident(column) + (" DESC" if descending else "")
    if nulls_first is not None and nulls_first != descending:
        text += " NULLS FIRST" if nulls_first else " NULLS LAST"
    return text


def key_sql(
    columns: Sequence[str],
    descending: Sequence[bool] = (),
    nulls_first: Sequence[bool | None] = (),
) -> str:
    """The key list of an index: ``customer_id, created_at DESC``."""
    return ", ".join(
        key_part_sql(
            column,
            descending[k] if k < len(descending) else False,
            nulls_first[k] if k < len(nulls_first) else None,
        )
        for k, column in enumerate(columns)
    )


def create_index_sql(
    table: Table,
    columns: Sequence[str],
    name: str | None = None,
    *,
    descending: Sequence[bool] = (),
    nulls_first: Sequence[bool | None] = (),
) -> str:
    """``CREATE INDEX CONCURRENTLY <name> ON <schema.table> (<key>);``; without CONCURRENTLY
    on a partitioned table, where PostgreSQL does not support it."""
    name = name or index_name(table.name, columns)
    concurrently = "" if table.kind == "partitioned table" else "CONCURRENTLY "
    key = key_sql(columns, descending, nulls_first)
    return f"CREATE INDEX {concurrently}{quote_ident(name)} ON {qualified_sql(table)} ({key});"


def drop_index_sql(table: Table, index: Index) -> str:
    return f"DROP INDEX CONCURRENTLY {quote_ident(table.schema)}.{quote_ident(index.name)};"
