"""``load_catalog``: a whole database read into a ``Catalog`` in a constant number of queries.

One query per object kind, filtered on the wanted schemas, never per table
(``QUERY_COUNT``), pipelined in one round trip. It takes a psycopg 3 connection, its
primary API; a SQLAlchemy ``Connection`` is adapted to the psycopg connection it drives.
The reads run in a transaction (or a savepoint, when one is already open) that is rolled
back at the end, with ``search_path`` set to ``public`` for their duration, so deparsed
names are qualified the same way whatever the session's own path is.
"""

from __future__ import annotations

import fnmatch
import gc
from collections import abc
from collections.abc import Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from dbctl.schema.catalog import (
    FK_ACTIONS,
    FK_MATCH,
    IDENTITY,
    TABLE_KINDS,
    Catalog,
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Sequence,
    Table,
    Unique,
)

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import Connection as SAConnection


_NOT_EXTENSION_MEMBER = """NOT EXISTS (
    SELECT FROM pg_depend e
    WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"""

_IN_SCHEMAS = """(CASE WHEN %(schemas)s::text[] IS NULL
    THEN n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
    ELSE n.nspname = ANY(%(schemas)s::text[]) END)"""

_OF_RELATION = f"""JOIN pg_class c ON c.oid = {{oid}} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
JOIN pg_namespace n ON n.oid = c.relnamespace AND {_IN_SCHEMAS}"""

# Local to the load's transaction, which is rolled back: the caller's session keeps its own.
_SETTINGS_SQL = """SELECT current_setting('server_version_num')::int,
    set_config('search_path', 'public', true), set_config('work_mem', '64MB', true)"""

_EXTENSIONS_SQL = "SELECT extname, extversion FROM pg_extension ORDER BY extname"

# Operator classes shown per index key part: only the ones that are not their type's default.
_OPCLASSES_SQL = "SELECT oid, opcname FROM pg_opclass WHERE NOT opcdefault"

_ESTIMATED_SIZE = """(c.relpages::int8 + coalesce(toast.relpages, 0) + coalesce((
        SELECT sum(ic.relpages) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
        WHERE x.indrelid = c.oid), 0)) * current_setting('block_size')::int8"""

_EXACT_SIZE = "coalesce(pg_total_relation_size(c.oid), 0)"

_RELATIONS_SQL = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples::float8, {{size}},
    CASE WHEN c.relispartition THEN (
        SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
        JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid) END,
    CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
    CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
    CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END,
    d.description
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
LEFT JOIN pg_description d
    ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_IN_SCHEMAS}
    AND {_NOT_EXTENSION_MEMBER.format(catalog="pg_class", oid="c.oid")}
ORDER BY n.nspname, c.relname"""

_COLUMNS_SQL = f"""
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
    CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) END,
    a.attidentity,
    CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
    CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
    d.description
FROM pg_attribute a
{_OF_RELATION.format(oid="a.attrelid")}
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_description d
    ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum"""

_INDEXES_SQL = f"""
SELECT i.indrelid, ic.relname, i.indisunique, i.indisprimary, am.amname, i.indisvalid,
    pg_get_indexdef(i.indexrelid), pg_get_expr(i.indpred, i.indrelid), con.conname,
    i.indnkeyatts, i.indkey::int2[], i.indoption::int2[], i.indclass::oid[],
    CASE WHEN i.indexprs IS NOT NULL THEN ARRAY(
        SELECT pg_get_indexdef(i.indexrelid, k, true)
        FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) END
FROM pg_index i
{_OF_RELATION.format(oid="i.indrelid")}
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
    AND con.contype IN ('p', 'u', 'x')
ORDER BY i.indrelid, ic.relname"""

# A foreign key to a partitioned table has clones on the referencing table, one per
# partition of the referenced table (conparentid set, same conrelid): leave them out.
# Primary keys and unique constraints need no deparsing: their shape is their index's.
_CONSTRAINTS_SQL = f"""
SELECT con.conrelid, con.conname, con.contype, con.conkey, fn.nspname, fc.relname,
    CASE WHEN con.contype = 'f' THEN ARRAY(
        SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
        ORDER BY k.n) END,
    con.confupdtype, con.confdeltype, con.confmatchtype, con.condeferrable, con.condeferred,
    CASE WHEN con.contype IN ('f', 'c') THEN pg_get_constraintdef(con.oid, true) END
FROM pg_constraint con
{_OF_RELATION.format(oid="con.conrelid")}
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'f', 'c')
    AND NOT (con.contype = 'f' AND con.conparentid <> 0 AND EXISTS (
        SELECT FROM pg_constraint p WHERE p.oid = con.conparentid AND p.conrelid = con.conrelid))
ORDER BY con.conrelid, con.conname"""

_ENUMS_SQL = f"""
SELECT n.nspname, t.typname,
    ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
          ORDER BY e.enumsortorder)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND {_IN_SCHEMAS}
    AND {_NOT_EXTENSION_MEMBER.format(catalog="pg_type", oid="t.oid")}
ORDER BY n.nspname, t.typname"""

# Identity columns' sequences (dependency 'i') belong to their column: not listed.
_SEQUENCES_SQL = f"""
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
    s.seqmin, s.seqmax, s.seqcycle, own_n.nspname, own_c.relname, own_a.attname
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
    AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class own_c ON own_c.oid = d.refobjid
LEFT JOIN pg_namespace own_n ON own_n.oid = own_c.relnamespace
LEFT JOIN pg_attribute own_a ON own_a.attrelid = d.refobjid AND own_a.attnum = d.refobjsubid
WHERE {_IN_SCHEMAS} AND d.deptype IS DISTINCT FROM 'i'
    AND {_NOT_EXTENSION_MEMBER.format(catalog="pg_class", oid="c.oid")}
ORDER BY n.nspname, c.relname"""

QUERY_COUNT = 9
"""Statements ``load_catalog`` sends, whatever the size of the database (besides the
BEGIN or SAVEPOINT and the ROLLBACK around them)."""

Row = tuple[Any, ...]
Names = dict[tuple[int, int], str]  # (table oid, attnum) -> column name


def load_catalog(
    conn: psycopg.Connection[Any] | SAConnection,
    *,
    schemas: abc.Sequence[str] | None = None,
    exclude_tables: Collection[str] = (),
    exact_sizes: bool = False,
) -> Catalog:
    """Read the schema of the database behind ``conn`` into a ``Catalog``.

    ``conn``: a psycopg 3 connection, or a SQLAlchemy ``Connection`` on the psycopg driver.
    ``schemas``: the schemas to read; by default every schema but ``pg_catalog``,
    ``information_schema``, ``pg_toast`` and the temporary ones. Objects that belong to an
    extension (``pg_stat_statements``' views, ``hypopg``'s...) are always left out.
    ``exclude_tables``: names or fnmatch patterns of tables to leave out with their indexes,
    constraints and owned sequences; a pattern without a dot matches the table name in any
    schema, one with a dot matches ``schema.name``.
    ``exact_sizes``: ``Table.total_bytes`` from ``pg_total_relation_size``, which opens
    every table and index (about 0.1 s more per 1,000 tables on a new session); by default
    it is estimated from ``relpages`` (as of the last VACUUM, ANALYZE or CREATE INDEX), like
    ``row_estimate`` from ``reltuples``.
    """
    import psycopg
    from psycopg.rows import tuple_row

    pg = psycopg_connection(conn)
    wanted = {"schemas": list(schemas) if schemas is not None else None}
    size = _EXACT_SIZE if exact_sizes else _ESTIMATED_SIZE
    queries: list[tuple[str, Mapping[str, object] | None]] = [
        (_SETTINGS_SQL, None),
        (_EXTENSIONS_SQL, None),
        (_OPCLASSES_SQL, None),
        (_RELATIONS_SQL.format(size=size), wanted),
        (_COLUMNS_SQL, wanted),
        (_INDEXES_SQL, wanted),
        (_CONSTRAINTS_SQL, wanted),
        (_ENUMS_SQL, wanted),
        (_SEQUENCES_SQL, wanted),
    ]
    pipeline = pg.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()
    with collector_paused(), pg.transaction(force_rollback=True), pipeline, ExitStack() as stack:
        cursors = [stack.enter_context(pg.cursor(row_factory=tuple_row)) for _ in queries]
        for cursor, (sql, params) in zip(cursors, queries, strict=True):
            cursor.execute(sql, params)
        results = (cursor.fetchall() for cursor in cursors)
        version = int(next(results)[0][0])
        extensions: dict[str, str] = dict(next(results))
        opclasses: dict[int, str] = dict(next(results))
        builder = _TableBuilder(
            [row for row in next(results) if not _excluded(row[1], row[2], exclude_tables)],
            opclasses,
        )
        builder.add_columns(next(results))
        builder.add_indexes(next(results))
        builder.add_constraints(next(results))
        enums = [Enum(schema, name, tuple(values)) for schema, name, values in next(results)]
        sequences = [
            _sequence(row)
            for row in next(results)
            if row[9] is None or not _excluded(row[8], row[9], exclude_tables)
        ]
    return Catalog.build(
        builder.tables(),
        enums,
        sequences,
        server_version_num=version,
        extensions=extensions,
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off meanwhile, then back as it was. Building a catalog makes
    tens of thousands of small objects, which trigger full collections of the caller's
    whole heap (the models, another catalog): at 2,000 tables, 0.45 s of a 1 s load."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def psycopg_connection(conn: object) -> psycopg.Connection[Any]:
    """The psycopg connection itself, or the one a SQLAlchemy ``Connection`` drives."""
    import psycopg

    if isinstance(conn, psycopg.Connection):
        return conn
    driver = getattr(getattr(conn, "connection", None), "driver_connection", None)
    if isinstance(driver, psycopg.Connection):
        return driver
    raise TypeError(
        "dbctl needs a psycopg 3 connection or a SQLAlchemy Connection using the "
        f"psycopg driver, not {type(conn).__name__}"
    )


def _excluded(schema: str, name: str, patterns: Collection[str]) -> bool:
    if not patterns:
        return False
    qualified = f"{schema}.{name}"
    return any(
        fnmatch.fnmatchcase(qualified if "." in pattern else name, pattern) for pattern in patterns
    )


class _TableBuilder:
    """Gathers the rows of each query under the relations kept, then makes the tables."""

    def __init__(self, relations: list[Row], opclasses: dict[int, str]) -> None:
        self.relations = relations
        self.opclasses = opclasses
        self.names: Names = {}
        self.columns: dict[int, list[Column]] = {row[0]: [] for row in relations}
        self.indexes: dict[int, list[Index]] = {row[0]: [] for row in relations}
        self.constraints: dict[int, dict[str, list[Any]]] = {
            row[0]: {"p": [], "u": [], "f": [], "c": []} for row in relations
        }

    def add_columns(self, rows: list[Row]) -> None:
        for oid, attnum, name, type_, nullable, default, identity, *rest in rows:
            into = self.columns.get(oid)
            if into is not None:
                self.names[oid, attnum] = name  # rest: generated, collation, comment
                into.append(Column(name, type_, nullable, default, IDENTITY[identity], *rest))

    def add_indexes(self, rows: list[Row]) -> None:
        for row in rows:
            into = self.indexes.get(row[0])
            if into is not None:
                into.append(_index(row, self.names, self.opclasses))

    def add_constraints(self, rows: list[Row]) -> None:
        names = self.names
        for row in rows:
            oid, name, contype, keys = row[0], row[1], row[2], row[3]
            owned = self.constraints.get(oid)
            if owned is None:
                continue
            if contype == "f":
                owned["f"].append(_foreign_key(row, names))
            elif contype == "c":
                owned["c"].append(Check(name, row[12]))
            else:
                cls = PrimaryKey if contype == "p" else Unique
                columns = tuple(names[oid, key] for key in keys)
                owned[contype].append(cls(name, columns, row[10], row[11]))

    def tables(self) -> list[Table]:
        tables = []
        for row in self.relations:
            oid, schema, name, relkind, reltuples, size, parent, bound, key, view, comment = row
            owned = self.constraints[oid]
            tables.append(
                Table(
                    schema=schema,
                    name=name,
                    kind=TABLE_KINDS[relkind],
                    columns=tuple(self.columns[oid]),
                    primary_key=owned["p"][0] if owned["p"] else None,
                    indexes=tuple(self.indexes[oid]),
                    foreign_keys=tuple(owned["f"]),
                    checks=tuple(owned["c"]),
                    uniques=tuple(owned["u"]),
                    row_estimate=int(reltuples),
                    total_bytes=int(size),
                    partition_of=parent,
                    partition_bound=bound,
                    partition_key=key,
                    view_definition=view,
                    comment=comment,
                )
            )
        return tables


def _index(row: Row, names: Names, nondefault: dict[int, str]) -> Index:
    table, name, unique, primary, method, valid, definition, predicate, constraint = row[:9]
    key_count, attnums, options, opclasses, texts = row[9:]
    keys = attnums[:key_count]
    return Index(
        name,
        tuple([texts[k] if n == 0 else names[table, n] for k, n in enumerate(keys)]),
        unique,
        primary,
        method,
        predicate,
        definition,
        valid,
        tuple([names[table, n] for n in attnums[key_count:]]),
        tuple([n == 0 for n in keys]),
        tuple([option & 1 == 1 for option in options]),
        tuple([option & 2 == 2 for option in options]),
        tuple([nondefault.get(opclass) for opclass in opclasses]),
        constraint,
    )


def _foreign_key(row: Row, names: Names) -> ForeignKey:
    return ForeignKey(
        name=row[1],
        columns=tuple(names[row[0], key] for key in row[3]),
        ref_schema=row[4],
        ref_table=row[5],
        ref_columns=tuple(row[6]),
        on_update=FK_ACTIONS[row[7]],
        on_delete=FK_ACTIONS[row[8]],
        match=FK_MATCH[row[9]],
        deferrable=row[10],
        initially_deferred=row[11],
        definition=row[12],
    )


def _sequence(row: Row) -> Sequence:
    schema, name, data_type, start, increment, min_value, max_value, cycle = row[:8]
    owner = None if row[9] is None else f"{row[8]}.{row[9]}.{row[10]}"
    return Sequence(schema, name, data_type, owner, start, increment, min_value, max_value, cycle)
