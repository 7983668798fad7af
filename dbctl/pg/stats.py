"""Planner statistics and usage counters of a database: the data the index advice weighs.

``load_statistics`` reads, for the tables asked for, in a constant number of queries
(``QUERY_COUNT``) whatever their number:

- per table: ``reltuples`` (for a partitioned table, the sum over its leaf partitions)
  and ``n_live_tup``;
- per column (``pg_stats``): ``n_distinct``, ``null_frac``, ``correlation`` and the
  frequencies of the most common values;
- per index (``pg_stat_user_indexes``): ``idx_scan`` since the statistics were reset, and
  its size (``relpages`` times the block size, as of the last VACUUM, ANALYZE or CREATE INDEX, as
  ``load_catalog`` estimates sizes: no lock is taken on any relation); whether it must stay
  whatever its use (``protected``: unique, primary key, exclusion, replica identity, or the
  index of any constraint, a foreign key's referenced side included); and, when the role may
  call ``pg_stat_file`` (a superuser, or granted), the modification time of its file: PostgreSQL
  keeps no creation time, and the file is at least that old (a lower bound: the last write);
- the database's ``stats_reset``, the postmaster's start time and the server's ``now()``.

Read them before anything of dbctl plans a statement (``--validate``): the planner's own probes
of an index (the actual bounds of a range) count as scans.

Everything is a frozen dataclass: the analysis takes a ``Statistics``, never a connection,
and unit tests build one by hand.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dbctl.pg.catalog_loader import psycopg_connection
from dbctl.schema.catalog import FrozenMap

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import Connection as SAConnection


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """One column's row of ``pg_stats`` (the non-inherited one when both exist)."""

    n_distinct: float  # > 0: a count; < 0: minus the fraction of rows; 0: unknown
    null_frac: float = 0.0
    correlation: float | None = None
    mcv_freqs: tuple[float, ...] = ()  # most_common_freqs, most common first
    mcv_values: tuple[str, ...] = ()  # most_common_vals as text, in the same order

    @property
    def mcv_sum(self) -> float:
        """The share of rows that hold one of the most common values."""
        return sum(self.mcv_freqs)


@dataclass(frozen=True, slots=True)
class IndexStats:
    scans: int  # idx_scan since the statistics were reset
    size_bytes: int
    protected: bool = False  # unique, PK, exclusion, replica identity, or a constraint's index
    file_modified: datetime | None = None  # its file's last write: it is at least that old


@dataclass(frozen=True, slots=True)
class TableStats:
    reltuples: float  # -1 when never analysed or vacuumed
    live_tuples: int = 0  # n_live_tup
    columns: Mapping[str, ColumnStats] = field(default_factory=FrozenMap)
    indexes: Mapping[str, IndexStats] = field(default_factory=FrozenMap)  # by index name

    def __post_init__(self) -> None:
        for name in ("columns", "indexes"):
            value = getattr(self, name)
            if not isinstance(value, FrozenMap):
                object.__setattr__(self, name, FrozenMap(value))

    @property
    def rows(self) -> float | None:
        """The estimated row count, None when the table was never analysed."""
        return self.reltuples if self.reltuples >= 0 else None


@dataclass(frozen=True, slots=True)
class Statistics:
    """Statistics of some tables, keyed by qualified name (``public.orders``)."""

    tables: Mapping[str, TableStats] = field(default_factory=FrozenMap)
    stats_reset: datetime | None = None  # None: never reset since the cluster started
    server_version_num: int = 0
    now: datetime | None = None  # the server's clock when they were read
    postmaster_start: datetime | None = None  # counters start there when never reset
    file_ages: bool = False  # IndexStats.file_modified was readable (pg_stat_file allowed)

    @property
    def counting_since(self) -> datetime | None:
        """When the usage counters started: the last reset, else the server's start."""
        return self.stats_reset if self.stats_reset is not None else self.postmaster_start

    def __post_init__(self) -> None:
        if not isinstance(self.tables, FrozenMap):
            object.__setattr__(self, "tables", FrozenMap(self.tables))

    def table(self, table: str) -> TableStats | None:
        return self.tables.get(table)

    def column(self, table: str, column: str) -> ColumnStats | None:
        found = self.tables.get(table)
        return None if found is None else found.columns.get(column)

    def rows(self, table: str) -> float | None:
        found = self.tables.get(table)
        return None if found is None else found.rows

    def index(self, table: str, name: str) -> IndexStats | None:
        found = self.tables.get(table)
        return None if found is None else found.indexes.get(name)

    def distinct_values(self, table: str, column: str) -> float | None:
        """The number of distinct non-null values; a negative ``n_distinct`` (a fraction of
        the rows) is turned into a count with ``reltuples``. None when unknown."""
        stats = self.column(table, column)
        if stats is None or stats.n_distinct == 0:
            return None
        if stats.n_distinct > 0:
            return stats.n_distinct
        rows = self.rows(table)
        return None if rows is None else max(1.0, -stats.n_distinct * rows)

    def equality_selectivity(self, table: str, column: str) -> float | None:
        """The share of rows ``column = <unknown value>`` keeps, as PostgreSQL's planner
        estimates it for a generic plan (``var_eq_non_const``): the non-null share spread
        over the distinct values, never above the most common value's frequency."""
        stats = self.column(table, column)
        distinct = self.distinct_values(table, column)
        if stats is None or distinct is None:
            return None
        selectivity = (1.0 - stats.null_frac) / max(distinct, 1.0)
        if stats.mcv_freqs:
            selectivity = min(selectivity, max(stats.mcv_freqs))
        return selectivity

    def value_fraction(self, table: str, column: str, value: str) -> float | None:
        """The share of rows holding ``value`` (as pg_stats prints it) when it is one of the
        most common values, else None (rarer than those, or unknown)."""
        stats = self.column(table, column)
        if stats is None or len(stats.mcv_values) != len(stats.mcv_freqs):
            return None
        for listed, freq in zip(stats.mcv_values, stats.mcv_freqs, strict=True):
            if listed == value:
                return freq
        return None

    def rarest_fraction(self, table: str, column: str) -> float | None:
        """The share of rows of the least common value, as far as the statistics tell."""
        stats = self.column(table, column)
        distinct = self.distinct_values(table, column)
        if stats is None or distinct is None:
            return None
        listed = len(stats.mcv_freqs)
        if listed and listed >= distinct:
            return min(stats.mcv_freqs)  # every value is a "most common" one
        rest = max(0.0, 1.0 - stats.null_frac - stats.mcv_sum)
        others = rest / max(distinct - listed, 1.0)
        return min([others, *stats.mcv_freqs])


# --- the live loader ------------------------------------------------------------------

_SETTINGS_SQL = """SELECT current_setting('server_version_num')::int,
    (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
    now(), pg_postmaster_start_time(),
    has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE')"""

_WANTED = "n.nspname || '.' || c.relname = ANY(%(tables)s::text[])"

_TABLES_SQL = f"""
SELECT n.nspname || '.' || c.relname,
    CASE WHEN c.relkind = 'p' THEN coalesce((
        SELECT sum(greatest(leaf.reltuples, 0)) FROM pg_partition_tree(c.oid) t
        JOIN pg_class leaf ON leaf.oid = t.relid WHERE t.isleaf AND leaf.relkind = 'r'), -1)
    ELSE c.reltuples END::float8,
    coalesce(s.n_live_tup, 0)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'f') AND {_WANTED}"""

# A table that has inheritance children has two rows per column: its own (inherited false)
# and one over the whole hierarchy; a partitioned table has only the latter.
_COLUMNS_SQL = """
SELECT s.schemaname || '.' || s.tablename, s.attname, s.inherited, s.null_frac::float8,
    s.n_distinct::float8, s.correlation::float8, s.most_common_freqs::float8[],
    s.most_common_vals::text::text[]
FROM pg_stats s
WHERE s.schemaname || '.' || s.tablename = ANY(%(tables)s::text[])
ORDER BY s.inherited"""

# The privilege of a function is checked when the statement starts, even in a CASE branch
# never taken: the file's time is asked for only when the settings say it may be.
_FILE_MODIFIED = "(pg_stat_file(pg_relation_filepath(ic.oid), true)).modification"

_INDEXES_SQL = f"""
SELECT n.nspname || '.' || c.relname, ic.relname, coalesce(s.idx_scan, 0),
    ic.relpages::int8 * current_setting('block_size')::int8,
    i.indisunique OR i.indisprimary OR i.indisexclusion OR i.indisreplident
        OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid),
    {{modified}}
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE {_WANTED}"""

QUERY_COUNT = 4
"""Statements ``load_statistics`` sends, whatever the number of tables (besides the BEGIN or
SAVEPOINT and the ROLLBACK around them): the settings first, then the rest pipelined."""


def load_statistics(
    conn: psycopg.Connection[Any] | SAConnection, tables: Collection[str]
) -> Statistics:
    """The statistics of ``tables`` (qualified names) of the database behind ``conn``.

    Tables the database does not have are left out. ``conn`` is a psycopg 3 connection or a
    SQLAlchemy ``Connection`` on the psycopg driver; the reads run in a transaction (or a
    savepoint) that is rolled back.
    """
    import psycopg
    from psycopg.rows import tuple_row

    pg = psycopg_connection(conn)
    wanted = {"tables": sorted(set(tables))}
    with pg.transaction(force_rollback=True):
        with pg.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(_SETTINGS_SQL)
            settings = cursor.fetchall()
        file_ages = bool(settings[0][4])
        modified = _FILE_MODIFIED if file_ages else "NULL::timestamptz"
        queries: list[tuple[str, Mapping[str, object] | None]] = [
            (_TABLES_SQL, wanted),
            (_COLUMNS_SQL, wanted),
            (_INDEXES_SQL.format(modified=modified), wanted),
        ]
        pipeline = pg.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()
        with pipeline, ExitStack() as stack:
            cursors = [stack.enter_context(pg.cursor(row_factory=tuple_row)) for _ in queries]
            for cursor, (sql, params) in zip(cursors, queries, strict=True):
                cursor.execute(sql, params)
            table_rows, column_rows, index_rows = (c.fetchall() for c in cursors)
    columns: dict[str, dict[str, ColumnStats]] = {}
    for table, name, _inherited, null_frac, n_distinct, correlation, freqs, values in column_rows:
        # Rows come non-inherited first: the table's own statistics win.
        columns.setdefault(table, {}).setdefault(
            name,
            ColumnStats(
                n_distinct, null_frac, correlation, tuple(freqs or ()), tuple(values or ())
            ),
        )
    indexes: dict[str, dict[str, IndexStats]] = {}
    for table, name, scans, size, protected, file_modified in index_rows:
        indexes.setdefault(table, {})[name] = IndexStats(
            int(scans), int(size), bool(protected), file_modified
        )
    return Statistics(
        tables=FrozenMap(
            (
                name,
                TableStats(
                    float(reltuples),
                    int(live),
                    FrozenMap(columns.get(name, {})),
                    FrozenMap(indexes.get(name, {})),
                ),
            )
            for name, reltuples, live in table_rows
        ),
        stats_reset=settings[0][1],
        server_version_num=int(settings[0][0]),
        now=settings[0][2],
        postmaster_start=settings[0][3],
        file_ages=file_ages,
    )
