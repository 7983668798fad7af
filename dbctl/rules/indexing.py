"""What an index can serve, and how a suggested index is named and written.

Names follow PostgreSQL's rules: at most 63 *bytes* (``NAMEDATALEN - 1`` in UTF-8, cut on a
character boundary), so that the server keeps them as written and never truncates two of
them into one; free among every relation of the schema (tables, views, sequences, indexes
share one namespace), a taken name getting ``_2``, ``_3``... Every identifier in the SQL
written here goes through ``quote_ident`` (the server's ``quote_identifier()``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableSet, Sequence

from dbctl.pg.identifiers import MAX_NAME_BYTES, quote_ident, truncate
from dbctl.schema.catalog import Catalog, Index, Table

MAX_IDENTIFIER = MAX_NAME_BYTES
_DIGEST = 8


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
    """``ix_<table>_<col>_<col>``, lower case, other characters than letters, digits and
    ``_`` made ``_``; over 63 bytes, cut to 54 (on a character boundary) plus ``_`` and 8
    hex digits of a hash of the whole name, so that names alike in their first 63 bytes
    stay apart. Deterministic."""
    name = "_".join([prefix, table, *columns]).lower()
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if truncate(name) == name:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:_DIGEST]
    return f"{truncate_to(name, MAX_IDENTIFIER - _DIGEST - 1)}_{digest}"


def truncate_to(name: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes of ``name``, never half a character."""
    data = name.encode()[: limit + 1]
    return data[:limit].decode(errors="ignore") if len(data) > limit else name


def taken_names(catalog: Catalog) -> set[str]:
    """``schema.name`` of every relation in the catalog (tables, views, their indexes,
    sequences): the names a new index must not take."""
    taken = set()
    for table in catalog.tables.values():
        taken.add(f"{table.schema}.{table.name}")
        taken.update(f"{table.schema}.{index.name}" for index in table.indexes)
    taken.update(f"{sequence.schema}.{sequence.name}" for sequence in catalog.sequences.values())
    return taken


def unique_index_name(table: Table, columns: Sequence[str], taken: MutableSet[str]) -> str:
    """``index_name``, or with ``_2``, ``_3``... when ``schema.name`` is in ``taken``
    (``taken_names``, plus the names chosen before); the name chosen is added to it."""
    name = index_name(table.name, columns)
    suffix = 2
    while f"{table.schema}.{name}" in taken:
        name = index_name(table.name, [*columns, str(suffix)])
        suffix += 1
    taken.add(f"{table.schema}.{name}")
    return name


def qualified_sql(table: Table) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


def key_part_sql(
    column: str,
    descending: bool = False,
    nulls_first: bool | None = None,
    opclass: str | None = None,
) -> str:
    """``created_at DESC``, ``title text_pattern_ops``: one key part, its operator class
    and sort options only where not the default (``nulls_first`` None means the
    direction's default: first for DESC, last for ASC)."""
    text = quote_ident(column) + (f" {quote_ident(opclass)}" if opclass else "")
    text += " DESC" if descending else ""
    if nulls_first is not None and nulls_first != descending:
        text += " NULLS FIRST" if nulls_first else " NULLS LAST"
    return text


def key_sql(
    columns: Sequence[str],
    descending: Sequence[bool] = (),
    nulls_first: Sequence[bool | None] = (),
    opclasses: Sequence[str | None] = (),
) -> str:
    """The key list of an index: ``customer_id, created_at DESC``."""
    return ", ".join(
        key_part_sql(
            column,
            descending[k] if k < len(descending) else False,
            nulls_first[k] if k < len(nulls_first) else None,
            opclasses[k] if k < len(opclasses) else None,
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
    opclasses: Sequence[str | None] = (),
) -> str:
    """``CREATE INDEX CONCURRENTLY <name> ON <schema.table> (<key>);``; without CONCURRENTLY
    on a partitioned table, where PostgreSQL does not support it."""
    name = name or index_name(table.name, columns)
    concurrently = "" if table.kind == "partitioned table" else "CONCURRENTLY "
    key = key_sql(columns, descending, nulls_first, opclasses)
    return f"CREATE INDEX {concurrently}{quote_ident(name)} ON {qualified_sql(table)} ({key});"


def drop_index_sql(table: Table, index: Index) -> str:
    return f"DROP INDEX CONCURRENTLY {quote_ident(table.schema)}.{quote_ident(index.name)};"
