"""Read pg_stat_statements in one query, with the columns of the installed version.

Column names changed across versions of the extension (not of the server): 1.8 split
``total_time`` into ``total_plan_time`` + ``total_exec_time``, 1.9 added ``toplevel``,
1.11 renamed ``blk_read_time`` to ``shared_blk_read_time``. The version is read from
``pg_extension.extversion``. dbctl's own statements (they start with ``/* dbctl */``) are
left out; statements whose text the role may not see (``<insufficient privilege>``) are
counted, not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbctl.errors import ExtensionMissing

if TYPE_CHECKING:
    import psycopg

DBCTL_TAG = "/* dbctl */"
HIDDEN = "<insufficient privilege>"
SORTS = {
    "total": "total_ms",
    "mean": "mean_ms",
    "calls": "calls",
    "rows": "rows",
    "io": "io_ms",
}


@dataclass(frozen=True, slots=True)
class StatementStats:
    queryid: int
    query: str
    calls: int
    total_ms: float  # planning + execution
    mean_ms: float
    max_ms: float
    stddev_ms: float
    rows: int
    shared_hit: int
    shared_read: int
    io_ms: float
    toplevel: bool | None

    @property
    def rows_per_call(self) -> float:
        return self.rows / self.calls if self.calls else 0.0

    @property
    def hit_ratio(self) -> float | None:
        blocks = self.shared_hit + self.shared_read
        return self.shared_hit / blocks if blocks else None

    @property
    def variation(self) -> float | None:
        """stddev / mean: how unsteady the statement's time is."""
        return self.stddev_ms / self.mean_ms if self.mean_ms else None


@dataclass(frozen=True, slots=True)
class StatsRead:
    rows: tuple[StatementStats, ...]
    all_total_ms: float  # every statement of this database, for shares
    all_statements: int
    hidden: int  # texts the role may not see
    version: str

    def share(self, row: StatementStats) -> float:
        return row.total_ms / self.all_total_ms if self.all_total_ms else 0.0


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _columns(version: str) -> dict[str, str]:
    v = _version_tuple(version)
    if v >= (1, 8):
        timing = {
            "total_ms": "total_plan_time + total_exec_time",
            "mean_ms": "(total_plan_time + total_exec_time) / nullif(calls, 0)",
            "max_ms": "max_exec_time",
            "stddev_ms": "stddev_exec_time",
        }
    else:
        timing = {
            "total_ms": "total_time",
            "mean_ms": "mean_time",
            "max_ms": "max_time",
            "stddev_ms": "stddev_time",
        }
    read_time = "shared_blk_read_time" if v >= (1, 11) else "blk_read_time"
    return {
        **timing,
        "io_ms": f"{read_time} + {'shared_blk_write_time' if v >= (1, 11) else 'blk_write_time'}",
        "toplevel": "toplevel" if v >= (1, 9) else "NULL::boolean",
    }


def extension_version(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute(
        f"{DBCTL_TAG} SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
    ).fetchone()
    if row is None:
        raise ExtensionMissing(
            "pg_stat_statements is not created in this database: run "
            "CREATE EXTENSION pg_stat_statements; (it also needs "
            "shared_preload_libraries = 'pg_stat_statements' and a restart)"
        )
    return str(row[0])


def read_statements(
    conn: psycopg.Connection[Any],
    *,
    limit: int | None = 20,
    sort: str = "total",
    toplevel_only: bool = True,
    min_calls: int = 0,
) -> StatsRead:
    """The costliest statements of the current database, in one query."""
    import psycopg

    version = extension_version(conn)
    cols = _columns(version)
    order = SORTS[sort]
    top = "AND toplevel" if toplevel_only and _version_tuple(version) >= (1, 9) else ""
    sql = f"""{DBCTL_TAG}
WITH s AS (
    SELECT queryid, query, calls, {cols["total_ms"]} AS total_ms, {cols["mean_ms"]} AS mean_ms,
           {cols["max_ms"]} AS max_ms, {cols["stddev_ms"]} AS stddev_ms, rows,
           shared_blks_hit, shared_blks_read, {cols["io_ms"]} AS io_ms,
           {cols["toplevel"]} AS toplevel
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) {top}
      AND coalesce(query, '') NOT LIKE '/* dbctl */%%'
), t AS (
    SELECT *, sum(total_ms) OVER () AS all_total, count(*) OVER () AS all_count,
           count(*) FILTER (WHERE query = %(hidden)s) OVER () AS hidden
    FROM s
)
SELECT * FROM t
WHERE calls >= %(min_calls)s AND query IS DISTINCT FROM %(hidden)s
ORDER BY {order} DESC NULLS LAST, queryid
LIMIT %(limit)s"""
    try:
        result = conn.execute(
            sql,
            {"hidden": HIDDEN, "min_calls": min_calls, "limit": limit},
        ).fetchall()
    except psycopg.errors.ObjectNotInPrerequisiteState:
        conn.rollback()
        raise ExtensionMissing(
            "pg_stat_statements is not loaded: add it to shared_preload_libraries in "
            "postgresql.conf (shared_preload_libraries = 'pg_stat_statements') and restart "
            "the server"
        ) from None
    rows = tuple(
        StatementStats(
            queryid=int(r[0]),
            query=r[1] or "",
            calls=int(r[2]),
            total_ms=float(r[3] or 0),
            mean_ms=float(r[4] or 0),
            max_ms=float(r[5] or 0),
            stddev_ms=float(r[6] or 0),
            rows=int(r[7]),
            shared_hit=int(r[8]),
            shared_read=int(r[9]),
            io_ms=float(r[10] or 0),
            toplevel=r[11],
        )
        for r in result
    )
    first = result[0] if result else None
    return StatsRead(
        rows=rows,
        all_total_ms=float(first[12]) if first else 0.0,
        all_statements=int(first[13]) if first else 0,
        hidden=int(first[14]) if first else 0,
        version=version,
    )
