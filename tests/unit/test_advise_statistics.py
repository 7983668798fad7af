"""Advice weighed with statistics (hand-built): estimates, ordering, the filters, and
unused-index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dbctl.access.model import AccessPattern, Kind, SortKey, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.model import AdviceOptions
from dbctl.pg.stats import ColumnStats, IndexStats, Statistics, TableStats
from dbctl.schema.catalog import Catalog, ForeignKey, Index, PrimaryKey, Table

pytestmark = pytest.mark.unit


def pk(table: str) -> Index:
    return Index(f"pk_{table}", ("id",), unique=True, primary=True, constraint=f"pk_{table}")


ORDERS = Table(
    "public",
    "orders",
    primary_key=PrimaryKey("pk_orders", ("id",)),
    indexes=(
        pk("orders"),
        Index("ix_orders_customer_id", ("customer_id",)),
        Index("ix_orders_legacy", ("legacy",)),
        Index("ix_orders_tiny", ("tiny",)),
        Index("uq_orders_ref", ("ref",), unique=True, constraint="uq_orders_ref"),
    ),
)
SETTINGS = Table("public", "settings", indexes=(pk("settings"),))
NOTES = Table(
    "public",
    "notes",
    primary_key=PrimaryKey("pk_notes", ("id",)),
    indexes=(pk("notes"), Index("ix_notes_order_id", ("order_id",))),
    foreign_keys=(ForeignKey("fk_notes_order_id", ("order_id",), "public", "orders", ("id",)),),
)
CATALOG = Catalog.build([ORDERS, SETTINGS, NOTES])

MB = 1024 * 1024
STATS = Statistics(
    tables={
        "public.orders": TableStats(
            1_000_000,
            columns={
                "customer_id": ColumnStats(-0.05, 0.0, 0.1),  # 50,000 customers
                "status": ColumnStats(3, 0.0, 0.4, (0.34, 0.33, 0.33)),
                "active": ColumnStats(2, 0.0, 0.5, (0.5, 0.5)),
                "flagged": ColumnStats(2, 0.0, 0.9, (0.99, 0.01)),  # rare values exist
                "country": ColumnStats(40, 0.0, 0.0, (0.05,)),
                "email": ColumnStats(-1, 0.1, 0.0),
                "kind": ColumnStats(4, 0.0, 0.0),
            },
            indexes={
                "pk_orders": IndexStats(10, 50 * MB),
                "ix_orders_customer_id": IndexStats(5, 30 * MB),
                "ix_orders_legacy": IndexStats(0, 20 * MB),
                "ix_orders_tiny": IndexStats(0, 8192),
                "uq_orders_ref": IndexStats(0, 40 * MB),
            },
        ),
        "public.settings": TableStats(12, columns={"key": ColumnStats(-1)}),
        "public.notes": TableStats(1e6, indexes={"ix_notes_order_id": IndexStats(0, 90 * MB)}),
    },
    stats_reset=datetime(2026, 11, 1, tzinfo=UTC),
    now=datetime(2026, 12, 1, tzinfo=UTC),  # the index ages: the counters' (no file ages)
)


def pattern(table: str, line: int = 1, **access: object) -> AccessPattern:
    statement = Statement(f"SELECT 1 -- {line}", "q.sql", line, fingerprint=str(line))
    return AccessPattern(statement, Kind.select, (TableAccess(table, **access),))  # type: ignore[arg-type]


def keys(*patterns: AccessPattern, **options: object) -> list[tuple[str, ...]]:
    advice = advise(patterns, CATALOG, statistics=STATS, options=AdviceOptions(**options))  # type: ignore[arg-type]
    return [s.columns for s in advice.suggestions]


def notes(*patterns: AccessPattern) -> list[tuple[str, str]]:
    advice = advise(patterns, CATALOG, statistics=STATS)
    return sorted((f.rule, f.message) for f in advice.notes if f.rule != "unused-index")


def test_estimates() -> None:
    assert STATS.distinct_values("public.orders", "customer_id") == 50_000
    assert STATS.distinct_values("public.orders", "status") == 3
    assert STATS.distinct_values("public.orders", "nope") is None
    assert STATS.equality_selectivity("public.orders", "customer_id") == pytest.approx(2e-5)
    # Never above the most common value's frequency; nulls excluded.
    assert STATS.equality_selectivity("public.orders", "country") == pytest.approx(0.025)
    assert STATS.equality_selectivity("public.orders", "email") == pytest.approx(0.9e-6)
    assert STATS.rarest_fraction("public.orders", "flagged") == pytest.approx(0.01)
    assert STATS.rarest_fraction("public.orders", "status") == pytest.approx(0.33)
    # Values outside the MCV list share what the list leaves.
    assert STATS.rarest_fraction("public.orders", "country") == pytest.approx(0.95 / 39)
    assert STATS.rows("public.settings") == 12
    assert TableStats(-1).rows is None


def test_the_most_selective_equality_column_leads() -> None:
    found = keys(pattern("public.orders", equality=("status", "email")))
    assert found == [("email", "status")]


def test_without_statistics_the_statement_order_stays() -> None:
    advice = advise([pattern("public.orders", equality=("status", "email"))], CATALOG)
    assert [s.columns for s in advice.suggestions] == [("status", "email")]
    assert advice.structural
    assert [f.rule for f in advice.notes] == ["no-statistics"]


def test_a_small_table_gets_no_suggestion_and_a_note() -> None:
    found = notes(pattern("public.settings", equality=("key",)))
    assert found == [
        (
            "small-table",
            "public.settings has about 12 rows (below 1,000): a sequential scan reads it "
            "at once, no index suggested on (key)",
        )
    ]
    assert keys(pattern("public.settings", equality=("key",)), min_rows=10) == [("key",)]


@pytest.mark.parametrize("column", ["status", "active"])
def test_a_low_selectivity_key_is_dropped_with_a_note(column: str) -> None:
    advice = advise([pattern("public.orders", equality=(column,))], CATALOG, statistics=STATS)
    assert advice.suggestions == []
    (found,) = [f for f in advice.notes if f.rule == "low-selectivity"]
    assert found.table == "public.orders" and found.columns == (column,)
    assert "would not cut the rows read" in found.message
    assert found.location is not None and found.location.path == "q.sql"


def test_skewed_or_combined_keys_are_kept() -> None:
    assert keys(pattern("public.orders", equality=("flagged",))) == [("flagged",)]
    # A range or a sort after it: only the planner can say (the values, the LIMIT).
    sort = (SortKey("created_at", descending=True),)
    found = keys(pattern("public.orders", equality=("status",), sort=sort, limit=True))
    assert found == [("status", "created_at")]
    # Two weak columns that together keep under 10%.
    assert keys(pattern("public.orders", equality=("country", "kind"))) == [("country", "kind")]


def test_an_existing_index_that_narrows_enough() -> None:
    advice = advise(
        [pattern("public.orders", equality=("customer_id", "status"))], CATALOG, statistics=STATS
    )
    assert advice.suggestions == []
    (found,) = [f for f in advice.notes if f.rule == "existing-index-suffices"]
    assert "ix_orders_customer_id already narrows a lookup to about 20 rows" in found.message
    # Over the threshold, and the new key cuts the rows: suggested.
    assert keys(pattern("public.orders", equality=("customer_id", "country")), enough_rows=10) == [
        ("customer_id", "country")
    ]


def test_unused_indexes() -> None:
    advice = advise([], CATALOG, statistics=STATS)
    unused = [f for f in advice.notes if f.rule == "unused-index"]
    assert [f.evidence["index"] for f in unused] == ["ix_orders_legacy"]
    (finding,) = unused
    assert finding.severity == "warning"
    assert finding.suggestion == "DROP INDEX CONCURRENTLY public.ix_orders_legacy;"
    assert finding.message == (
        "index ix_orders_legacy on public.orders (legacy) has not been scanned on this node "
        "(a replica's scans are not seen) since the statistics were reset (2026-11-01 00:00) "
        "and takes 20.0 MB; it is at least 30 days old"
    )
    smaller = advise([], CATALOG, statistics=STATS, options=AdviceOptions(unused_min_bytes=0))
    names = {f.evidence["index"] for f in smaller.notes if f.rule == "unused-index"}
    # Never unique ones, nor the only index of a foreign key (ix_notes_order_id).
    assert names == {"ix_orders_legacy", "ix_orders_tiny"}


def test_no_unused_index_without_statistics() -> None:
    assert not [f for f in advise([], CATALOG).notes if f.rule == "unused-index"]
