"""``unused-index``: an index no statement has scanned for longer than the statistics window.

Reported only when both are older than the window (``window``, ``STATS_WINDOW`` = 7 days by
default): the usage counters (since ``pg_stat_database.stats_reset``, or the server's start
when never reset) and the index itself. PostgreSQL keeps no creation time: the index's age
is that of its file's last write (``pg_stat_file``, a lower bound) when the role may read it,
else it is taken to be the counters' age, and the finding says which.

Never reported: an INVALID index, one that must stay whatever its use (unique, primary key,
exclusion, replica identity, any constraint's index, the referenced side of a foreign key),
the only index that serves a foreign key (dropping it would make deletes of the referenced
rows scan the table: ``unindexed-foreign-key``), an index that serves a statement of the
analysed input (``used``: what ``Coverage`` found for each access), the index of a
partitioned table (it has no counters of its own; a partition's goes with its parent's) and
one under ``min_bytes``. The scan count is this node's: a standby that serves reads keeps
its own, and the message says so. The statistics must be read before dbctl plans anything:
the planner's probes of an index count as scans.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from dbctl.pg.stats import Statistics
from dbctl.report import Finding, Location, Severity
from dbctl.rules.indexing import drop_index_sql, serves_lookup
from dbctl.schema.catalog import Catalog, Index, Table

STATS_WINDOW = timedelta(days=7)
"""How long an index and the counters must both have existed before zero scans mean unused
(``AdviceOptions`` has no option for it; ``check(window=...)`` overrides it)."""


def _foreign_key_indexes(table: Table) -> set[str]:
    """The indexes that alone serve one of the table's foreign keys."""
    kept = set()
    for fk in table.foreign_keys:
        serving = [index.name for index in table.indexes if serves_lookup(index, fk.columns)]
        if len(serving) == 1:
            kept.add(serving[0])
    return kept


def _referenced(catalog: Catalog) -> set[tuple[str, frozenset[str]]]:
    """(table, columns) of every foreign key's referenced side."""
    return {
        (fk.ref_qualified_name, frozenset(fk.ref_columns))
        for table in catalog.tables.values()
        for fk in table.foreign_keys
    }


def _protected(index: Index, table: Table, referenced: set[tuple[str, frozenset[str]]]) -> bool:
    return (
        index.unique
        or index.primary
        or index.constraint is not None
        or (
            index.predicate is None
            and (table.qualified_name, frozenset(index.columns)) in referenced
        )
    )


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size //= 1024
    return f"{size} TB"  # pragma: no cover


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:,.0f} day{'s' * (round(days) != 1)}" if days >= 1 else "less than a day"


def check(
    catalog: Catalog,
    statistics: Statistics,
    *,
    min_bytes: int = 1024 * 1024,
    locations: dict[str, Location] | None = None,
    window: timedelta = STATS_WINDOW,
    used: Collection[tuple[str, str]] = (),
) -> list[Finding]:
    """The unused indexes; ``used`` holds (qualified table, index name) of the indexes that
    serve the analysed statements."""
    now, since = statistics.now, statistics.counting_since
    if now is None or since is None or now - since <= window:
        return []  # the counters cover too short a time (or an unknown one) to tell
    counted = now - since
    since_text = (
        f"since the statistics were reset ({since:%Y-%m-%d %H:%M})"
        if statistics.stats_reset is not None
        else f"since the server started ({since:%Y-%m-%d %H:%M})"
    )
    used = set(used)
    referenced = _referenced(catalog)
    findings: list[Finding] = []
    for table in catalog.tables.values():
        if table.partition_of is not None or table.kind == "partitioned table":
            continue  # its indexes belong to the parent's: dropped with them, if at all
        needed = _foreign_key_indexes(table)
        for index in table.indexes:
            if not index.valid or _protected(index, table, referenced):
                continue
            if index.name in needed or (table.qualified_name, index.name) in used:
                continue
            stats = statistics.index(table.qualified_name, index.name)
            if stats is None or stats.protected or stats.scans > 0:
                continue
            if stats.size_bytes < min_bytes:
                continue
            age = _age(statistics, stats.file_modified, now, counted)
            if age is None or age <= window:
                continue
            evidence = {
                "index": index.name,
                "scans": 0,
                "size_bytes": stats.size_bytes,
                "stats_reset": None
                if statistics.stats_reset is None
                else statistics.stats_reset.isoformat(),
                "counting_since": since.isoformat(),
                "index_age_days": round(age.total_seconds() / 86400, 1),
                "index_age_from": "index file" if statistics.file_ages else "stats_reset",
                "window_days": round(window.total_seconds() / 86400, 3),
            }
            findings.append(
                _finding(
                    table, index, since=since_text, age=age, evidence=evidence, locations=locations
                )
            )
    return findings


def _age(
    statistics: Statistics, modified: datetime | None, now: datetime, counted: timedelta
) -> timedelta | None:
    """How old the index is at least: its file's age, else the counters' (None: unknown)."""
    if statistics.file_ages:
        return None if modified is None else now - modified
    return counted


def _finding(
    table: Table,
    index: Index,
    *,
    since: str,
    age: timedelta,
    evidence: dict[str, Any],
    locations: dict[str, Location] | None,
) -> Finding:
    size = int(evidence["size_bytes"])
    return Finding(
        rule="unused-index",
        severity=Severity.warning,
        message=f"index {index.name} on {table.qualified_name} ({', '.join(index.columns)}) "
        f"has not been scanned on this node (a replica's scans are not seen) {since} and "
        f"takes {_size(size)}; it is at least {_days(age)} old",
        table=table.qualified_name,
        columns=index.columns,
        suggestion=drop_index_sql(table, index),
        location=(locations or {}).get(table.qualified_name),
        evidence=evidence,
    )
