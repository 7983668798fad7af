"""Public benchmark workloads for ``bench/public_workloads.py``: each module holds one
benchmark's schema (primary keys only, so that every secondary index is the advice's or the
expert's), a data generator in SQL (``generate_series``: nothing can be downloaded), the
workload's statements with their frequencies, and the expert's index set with why each.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    """One statement of the workload. ``weight`` is how often it runs per unit of the mix
    (a transaction mix's share times the statement's executions per transaction), so that
    the weighted planner cost is the cost of the mix, not of one run of each text."""

    name: str
    sql: str
    weight: float = 1.0


@dataclass(frozen=True)
class Expert:
    """One index of the hand-written expert set: the CREATE INDEX and why an expert builds it."""

    sql: str
    why: str


@dataclass(frozen=True)
class Benchmark:
    name: str
    source: str  # where the workload's text comes from
    schema: str  # DDL, primary keys only
    data: tuple[str, ...]  # SQL statements run in order, then ANALYZE
    statements: tuple[Statement, ...]
    expert: tuple[Expert, ...]


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark by name (imported here, not at module load, so that one module's
    import error names that module)."""
    from bench.public import pgbench, tpcc, tpch

    return {b.name: b for b in (tpcc.BENCHMARK, tpch.BENCHMARK, pgbench.BENCHMARK)}
