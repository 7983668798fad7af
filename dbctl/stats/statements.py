"""Read pg_stat_statements in one statement, with the columns of the installed version.

Column names changed across versions of the extension (not of the server): 1.8 split
``total_time`` into ``total_plan_time`` + ``total_exec_time``, 1.9 added ``toplevel`` and
``pg_stat_statements_info``, 1.11 split ``blk_read_time`` into shared and local times.
The version is ``pg_extension.extversion``. It comes back with the statistics, in the same
statement, so that a read is one round trip: the statement is first built for the version
the server ships (known from the connection, without a query) and run again with the
installed version's columns in the rare case they differ (an extension left at an older
version by ``pg_upgrade``). Only when the first try fails (the extension is missing, lives
in a schema outside the search path, or has other columns) does a second query look the
extension up, to retry or to say in one line what to fix.

Rows are grouped per ``queryid`` over the roles that ran the statement. dbctl's own
statements (they start with ``/* dbctl */``) are left out, and so is transaction control
(BEGIN, COMMIT, SAVEPOINT...: one entry for every client, nothing to optimise), and
psycopg's type lookup on connect (a driver's handshake). Entries whose text the role may
not see (``<insufficient privilege>``, their ``queryid`` hidden too) are kept apart: counted,
their time in the totals, never shown.

Errors (all exit 2, ``dbctl.errors``): ``ExtensionMissing`` when the library is not in
``shared_preload_libraries`` or the extension is not created or not installed, and
``PrivilegeMissing`` when the role lacks a privilege.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dbctl.errors import ExtensionMissing, PrivilegeMissing
from dbctl.pg.connect import TAG
from dbctl.pg.identifiers import quote_ident

if TYPE_CHECKING:
    import psycopg

DBCTL_TAG = TAG  # the one tag (dbctl.pg.connect), kept under this name for the readers
# BEGIN, COMMIT, SAVEPOINT...: every client sends them (dbctl's drivers too, untagged: psycopg
# sends its own), no index or rewrite speeds them, and one entry holds every client's.
# psycopg's type lookup (TypeInfo.fetch), sent on connect by SQLAlchemy's psycopg dialect
# with the driver's own cursor: the handshake of every such client, dbctl's included.
_DRIVER_LOOKUP = r"'^\s*SELECT\s+typname AS name, oid, typarray AS array_oid,'"
_TRANSACTION_CONTROL = (
    r"'^\s*(begin|commit|end|rollback|abort|savepoint|release|start\s+transaction)\M'"
)
HIDDEN = "<insufficient privilege>"
SORTS = ("total", "mean", "calls", "rows", "io")
_META = 5  # extversion, database, role, stats_reset, dealloc; then the entry's columns

# The pg_stat_statements version each server major version ships (server_version_num // 10000).
_SHIPPED = {13: "1.8", 14: "1.9", 15: "1.10", 16: "1.10", 17: "1.11", 18: "1.12"}


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One statement (one ``queryid``) of the current database, summed over its roles.

    Times are in milliseconds. ``max_ms`` and ``stddev_ms`` are of execution (planning
    has its own in pg_stat_statements); ``max_ms`` is None over a window, where it is not
    known. ``exec_sumsq`` (the sum of squared execution times) lets windows and groups of
    entries have a standard deviation. ``queryid`` is None for an entry of another role
    whose text (and id) the role may not see.
    """

    queryid: int | None
    query: str
    calls: int
    plan_ms: float
    exec_ms: float
    exec_sumsq: float
    max_ms: float | None
    stddev_ms: float
    rows: int
    shared_hit: int
    shared_read: int
    io_ms: float  # block read and write time (needs track_io_timing)
    toplevel: bool | None = None  # ran at top level (None before 1.9)

    @property
    def hidden(self) -> bool:
        return self.queryid is None

    @property
    def total_ms(self) -> float:
        return self.plan_ms + self.exec_ms

    @property
    def mean_ms(self) -> float:
        """Planning and execution per call: what the DB objective is about."""
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def mean_plan_ms(self) -> float:
        return self.plan_ms / self.calls if self.calls else 0.0

    @property
    def mean_exec_ms(self) -> float:
        return self.exec_ms / self.calls if self.calls else 0.0

    @property
    def rows_per_call(self) -> float:
        return self.rows / self.calls if self.calls else 0.0

    @property
    def hit_ratio(self) -> float | None:
        blocks = self.shared_hit + self.shared_read
        return self.shared_hit / blocks if blocks else None

    @property
    def variation(self) -> float | None:
        """stddev / mean of the execution time: how unsteady the statement is."""
        return self.stddev_ms / self.mean_exec_ms if self.mean_exec_ms else None


def stddev_from(calls: int, exec_ms: float, exec_sumsq: float) -> float:
    """Population standard deviation from a count, a sum and a sum of squares."""
    if calls <= 0:
        return 0.0
    mean = exec_ms / calls
    return math.sqrt(max(exec_sumsq / calls - mean * mean, 0.0))


@dataclass(frozen=True, slots=True)
class StatsRead:
    """What one read of pg_stat_statements returns for the current database."""

    rows: tuple[StatsRow, ...]  # visible statements, sorted and limited as asked
    hidden_rows: tuple[StatsRow, ...]  # entries whose text the role may not see
    all_total_ms: float  # every entry of this database (hidden ones too), for shares
    all_statements: int  # visible statements + hidden entries, before any filter
    version: str  # extversion
    database: str = ""
    role: str = ""
    schema: str | None = None  # the extension's schema when it is not on the search path
    stats_reset: datetime | None = None  # pg_stat_statements_info (1.9+)
    dealloc: int | None = None  # entries evicted since stats_reset (1.9+)
    toplevel_only: bool = True

    @property
    def hidden(self) -> int:
        return len(self.hidden_rows)

    def share(self, row: StatsRow) -> float:
        return row.total_ms / self.all_total_ms if self.all_total_ms else 0.0


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def shipped_version(server_version_num: int) -> str:
    """The pg_stat_statements version a server major version ships (a guess to verify)."""
    major = server_version_num // 10000
    if major in _SHIPPED:
        return _SHIPPED[major]
    return _SHIPPED[max(_SHIPPED)] if major > max(_SHIPPED) else "1.7"


def columns(version: str) -> dict[str, str]:
    """The SQL of each figure in the given extension version."""
    v = version_tuple(version)
    if v >= (1, 8):
        timing = {
            "plan_ms": "total_plan_time",
            "exec_ms": "total_exec_time",
            "mean_exec": "mean_exec_time",
            "stddev": "stddev_exec_time",
            "max_ms": "max_exec_time",
        }
    else:
        timing = {
            "plan_ms": "0::float8",
            "exec_ms": "total_time",
            "mean_exec": "mean_time",
            "stddev": "stddev_time",
            "max_ms": "max_time",
        }
    if v >= (1, 11):  # blk_*_time covered shared and local blocks; 1.11 split them
        io = (
            "shared_blk_read_time + shared_blk_write_time"
            " + local_blk_read_time + local_blk_write_time"
        )
    else:
        io = "blk_read_time + blk_write_time"
    return {
        **timing,
        "io_ms": io,
        "toplevel": "toplevel" if v >= (1, 9) else "NULL::boolean",
    }


def _qualified(schema: str | None, name: str) -> str:
    if schema is None:
        return name
    return f"{quote_ident(schema)}.{name}"


def build_sql(version: str, *, schema: str | None = None, toplevel_only: bool = True) -> str:
    """The one statement of a read: the metadata row left-joined to every grouped entry."""
    cols = columns(version)
    v = version_tuple(version)
    if v >= (1, 9):
        info = _qualified(schema, "pg_stat_statements_info")
        info_cols = f"(SELECT stats_reset FROM {info}), (SELECT dealloc FROM {info})"
    else:
        info_cols = "NULL::timestamptz, NULL::bigint"
    top = "AND toplevel" if toplevel_only and v >= (1, 9) else ""
    view = _qualified(schema, "pg_stat_statements")
    return f"""{DBCTL_TAG}
WITH e AS (
    SELECT queryid, query, calls, {cols["plan_ms"]} AS plan_ms, {cols["exec_ms"]} AS exec_ms,
           {cols["mean_exec"]} AS mean_exec, {cols["stddev"]} AS stddev,
           {cols["max_ms"]} AS max_ms, rows, shared_blks_hit, shared_blks_read,
           {cols["io_ms"]} AS io_ms, {cols["toplevel"]} AS toplevel,
           row_number() OVER () AS n
    FROM {view}
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) {top}
      AND coalesce(query, '') NOT LIKE '{TAG}%'
      AND coalesce(query, '') !~* {_TRANSACTION_CONTROL}
      AND coalesce(query, '') !~ {_DRIVER_LOOKUP}
), g AS (
    SELECT queryid, min(query) AS query, sum(calls)::bigint AS calls, sum(plan_ms) AS plan_ms,
           sum(exec_ms) AS exec_ms,
           sum(calls * (stddev * stddev + mean_exec * mean_exec)) AS exec_sumsq,
           CASE WHEN count(*) = 1 THEN min(stddev) END AS stddev, max(max_ms) AS max_ms,
           sum(rows)::bigint AS rows, sum(shared_blks_hit)::bigint AS shared_hit,
           sum(shared_blks_read)::bigint AS shared_read, sum(io_ms) AS io_ms,
           bool_or(toplevel) AS toplevel
    FROM e
    GROUP BY queryid, CASE WHEN queryid IS NULL THEN n END
)
SELECT m.*, g.*
FROM (SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'),
             current_database(), current_user::text, {info_cols}) AS m
LEFT JOIN g ON true"""


def _row(r: tuple[Any, ...]) -> StatsRow:
    queryid, query, calls, plan, exec_, sumsq, stddev, max_ms = r[:8]
    rows, hit, read, io, toplevel = r[8:]
    calls, exec_ms, exec_sumsq = int(calls), float(exec_ or 0), float(sumsq or 0)
    return StatsRow(
        queryid=None if queryid is None else int(queryid),
        query=query or "",
        calls=calls,
        plan_ms=float(plan or 0),
        exec_ms=exec_ms,
        exec_sumsq=exec_sumsq,
        max_ms=float(max_ms or 0),
        stddev_ms=float(stddev) if stddev is not None else stddev_from(calls, exec_ms, exec_sumsq),
        rows=int(rows or 0),
        shared_hit=int(hit or 0),
        shared_read=int(read or 0),
        io_ms=float(io or 0),
        toplevel=toplevel,
    )


def sort_key(sort: str) -> Any:
    """The key that puts the costliest first (ties by queryid, for a stable order)."""
    keys = {
        "total": lambda s: (-s.total_ms, s.queryid or 0),
        "mean": lambda s: (-s.mean_ms, s.queryid or 0),
        "calls": lambda s: (-s.calls, s.queryid or 0),
        "rows": lambda s: (-s.rows, s.queryid or 0),
        # I/O time needs track_io_timing; blocks read from outside shared buffers break ties.
        "io": lambda s: (-s.io_ms, -s.shared_read, s.queryid or 0),
    }
    return keys[sort]


def quote_role(role: str) -> str:
    return quote_ident(role)  # the one quoter (keywords too: a role named "user")


def _not_loaded() -> ExtensionMissing:
    return ExtensionMissing(
        "pg_stat_statements is not loaded: add it to shared_preload_libraries in "
        "postgresql.conf (shared_preload_libraries = 'pg_stat_statements', keeping any "
        "library already listed) and restart the server (a reload is not enough)"
    )


def _execute(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    try:
        return conn.cursor(binary=True).execute(sql).fetchall()
    except psycopg.errors.ObjectNotInPrerequisiteState:
        _recover(conn)
        raise _not_loaded() from None
    except psycopg.errors.InsufficientPrivilege:
        _recover(conn)
        role = quote_role(str(conn.info.user))
        raise PrivilegeMissing(
            f"role {role} may not read pg_stat_statements: "
            f"GRANT SELECT ON pg_stat_statements TO {role}; (or GRANT pg_read_all_stats)"
        ) from None


def _recover(conn: psycopg.Connection[Any]) -> None:
    import psycopg

    if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
        conn.rollback()


def locate_extension(conn: psycopg.Connection[Any]) -> tuple[str, str]:
    """(extversion, schema) of pg_stat_statements, or the one-line reason it cannot be used."""
    row = conn.execute(
        f"""{DBCTL_TAG} SELECT e.extversion, n.nspname, current_database(),
    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'),
    EXISTS (SELECT 1 FROM pg_settings
            WHERE name = 'pg_stat_statements.max' AND vartype = 'integer')
FROM (SELECT 1) AS one
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace"""
    ).fetchone()
    assert row is not None
    version, schema, database, available, loaded = row
    if version is not None:
        return str(version), str(schema)
    create = f"run CREATE EXTENSION pg_stat_statements; in database {database}"
    if not available:
        raise ExtensionMissing(
            "pg_stat_statements is not installed on the server: install PostgreSQL's "
            "contrib modules (the postgresql-contrib package where it is separate), add it "
            f"to shared_preload_libraries, restart the server, then {create}"
        )
    if not loaded:
        raise ExtensionMissing(
            "pg_stat_statements is neither loaded nor created: add it to "
            "shared_preload_libraries in postgresql.conf, restart the server, then "
            f"{create}"
        )
    raise ExtensionMissing(
        f"pg_stat_statements is not created in database {database}: "
        "run CREATE EXTENSION pg_stat_statements; there"
    )


def read_statements(
    conn: psycopg.Connection[Any],
    *,
    limit: int | None = 20,
    sort: str = "total",
    toplevel_only: bool = True,
    min_calls: int = 0,
) -> StatsRead:
    """The statements of the current database, the costliest first, in one round trip.

    ``limit=None`` keeps them all. The totals (``all_total_ms``, ``all_statements``,
    ``hidden_rows``) cover every entry whatever ``limit`` and ``min_calls``.
    """
    import psycopg

    guess = shipped_version(conn.info.server_version)
    schema: str | None = None
    try:
        result = _execute(conn, build_sql(guess, toplevel_only=toplevel_only))
        version = result[0][0]
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
        _recover(conn)
        version, schema = locate_extension(conn)
        result = None
    if version is None:  # a view of that name, but no extension: say what to create
        version, schema = locate_extension(conn)
    if result is None or columns(version) != columns(guess):
        result = _execute(conn, build_sql(version, schema=schema, toplevel_only=toplevel_only))
    meta = result[0]
    entries = [_row(r[_META:]) for r in result if r[_META + 2] is not None]  # LEFT JOIN: none
    visible = [s for s in entries if not s.hidden]
    hidden = tuple(s for s in entries if s.hidden)
    chosen = sorted((s for s in visible if s.calls >= min_calls), key=sort_key(sort))
    return StatsRead(
        rows=tuple(chosen if limit is None else chosen[:limit]),
        hidden_rows=hidden,
        all_total_ms=sum(s.total_ms for s in entries),
        all_statements=len(entries),
        version=str(version),
        database=str(meta[1]),
        role=str(meta[2]),
        schema=schema,
        stats_reset=meta[3],
        dealloc=None if meta[4] is None else int(meta[4]),
        toplevel_only=toplevel_only,
    )


def reset_statements(conn: psycopg.Connection[Any], read: StatsRead) -> None:
    """Reset pg_stat_statements for the current database only (every role, every statement)."""
    import psycopg

    function = _qualified(read.schema, "pg_stat_statements_reset")
    v = version_tuple(read.version)
    if v < (1, 7):
        raise ExtensionMissing(
            f"pg_stat_statements {read.version} can only reset every database at once: "
            "run ALTER EXTENSION pg_stat_statements UPDATE; to reset one database"
        )
    try:
        conn.execute(
            f"{DBCTL_TAG} SELECT {function}(dbid => "
            "(SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
    except psycopg.errors.InsufficientPrivilege:
        _recover(conn)
        args = "oid, oid, bigint, boolean" if v >= (1, 11) else "oid, oid, bigint"
        role = quote_role(str(conn.info.user))
        raise PrivilegeMissing(
            f"role {role} may not reset pg_stat_statements: run as a superuser or "
            f"GRANT EXECUTE ON FUNCTION pg_stat_statements_reset({args}) TO {role};"
        ) from None
