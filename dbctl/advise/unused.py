"""``unused-index``: an index no statement has scanned since the statistics were reset.

Reported when it is valid, not unique, backs no constraint, is not the only index that
serves a foreign key (dropping it would make deletes of the referenced rows scan the
table: ``unindexed-foreign-key``), is on a plain table (the index of a partitioned table
has no counters of its own, and a partition's index goes with its parent's) and takes at
least ``min_bytes``. Its scan count is this server's: a
standby that serves reads keeps its own, and a recent reset makes every index look
unused, so the finding says since when.
"""

from __future__ import annotations

from dbctl.pg.catalog import Catalog, Table
from dbctl.pg.stats import Statistics
from dbctl.report import Finding, Location, Severity
from dbctl.rules.indexing import drop_index_sql, serves_lookup


def _foreign_key_indexes(table: Table) -> set[str]:
    """The indexes that alone serve one of the table's foreign keys."""
    kept = set()
    for fk in table.foreign_keys:
        serving = [index.name for index in table.indexes if serves_lookup(index, fk.columns)]
        if len(serving) == 1:
            kept.add(serving[0])
    return kept


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size //= 1024
    return f"{size} TB"  # pragma: no cover


def check(
    catalog: Catalog,
    statistics: Statistics,
    *,
    min_bytes: int = 1024 * 1024,
    locations: dict[str, Location] | None = None,
) -> list[Finding]:
    since = (
        f"since the statistics were reset ({statistics.stats_reset:%Y-%m-%d %H:%M})"
        if statistics.stats_reset is not None
        else "since the server started collecting statistics"
    )
    findings: list[Finding] = []
    for table in catalog.tables.values():
        if table.partition_of is not None:
            continue  # its indexes belong to the parent's: dropped with them, if at all
        needed = _foreign_key_indexes(table)
        for index in table.indexes:
            if not index.valid or index.unique or index.constraint is not None:
                continue
            if index.name in needed:
                continue
            stats = statistics.index(table.qualified_name, index.name)
            if stats is None or stats.scans > 0 or stats.size_bytes < min_bytes:
                continue
            findings.append(
                Finding(
                    rule="unused-index",
                    severity=Severity.warning,
                    message=f"index {index.name} on {table.qualified_name} "
                    f"({', '.join(index.columns)}) has not been scanned {since} and takes "
                    f"{_size(stats.size_bytes)}",
                    table=table.qualified_name,
                    columns=index.columns,
                    suggestion=drop_index_sql(table, index),
                    location=(locations or {}).get(table.qualified_name),
                    evidence={
                        "index": index.name,
                        "scans": stats.scans,
                        "size_bytes": stats.size_bytes,
                        "stats_reset": None
                        if statistics.stats_reset is None
                        else statistics.stats_reset.isoformat(),
                    },
                )
            )
    return findings
