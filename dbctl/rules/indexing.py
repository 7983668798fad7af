"""What an index can serve, and how a suggested index is named and written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from dbctl.pg.catalog import Index, Table

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


def quote_ident(name: str) -> str:
    plain = name.isidentifier() and name == name.lower() and name.isascii()
    return name if plain else '"' + name.replace('"', '""') + '"'


def index_name(table: str, columns: Iterable[str], prefix: str = "ix") -> str:
    """``ix_<table>_<col>_<col>``, shortened with a hash when over 63 characters."""
    name = "_".join([prefix, table, *columns]).lower()
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_IDENTIFIER - 9]}_{digest}"


def create_index_sql(table: Table, columns: Sequence[str], name: str | None = None) -> str:
    name = name or index_name(table.name, columns)
    target = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    cols = ", ".join(quote_ident(c) for c in columns)
    return f"CREATE INDEX CONCURRENTLY {quote_ident(name)} ON {target} ({cols});"


def drop_index_sql(table: Table, index: Index) -> str:
    return f"DROP INDEX CONCURRENTLY {quote_ident(table.schema)}.{quote_ident(index.name)};"
