"""--validate chooses among the candidates of each access with the planner (HypoPG), on a
real database with data: covering indexes for index-only scans, the single column over the
pair, the grouping columns of an aggregate, budgets, time saved a day, write overhead."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from dbctl.access.analyze import analyze
from dbctl.access.model import Statement
from dbctl.advise.advisor import advise
from dbctl.advise.model import Advice, AdviceOptions
from dbctl.advise.whatif import validate
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect
from dbctl.pg.stats import load_statistics

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE customer (id int PRIMARY KEY, email text NOT NULL, store_id int NOT NULL)
    WITH (autovacuum_enabled = off);
CREATE TABLE rental (
    id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer,
    rental_date timestamptz NOT NULL, return_date timestamptz
) WITH (autovacuum_enabled = off);
CREATE TABLE payment (
    id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer,
    amount numeric(5, 2) NOT NULL, paid_at timestamptz NOT NULL, note text NOT NULL
) WITH (autovacuum_enabled = off);
SELECT setseed(0.5);
INSERT INTO customer SELECT g, 'c' || g || '@example.com', 1 + g % 2
    FROM generate_series(1, 20000) g;
INSERT INTO rental SELECT g, 1 + (random() * 19999)::int,
    now() - random() * interval '700 days',
    CASE WHEN random() < 0.02 THEN NULL ELSE now() - random() * interval '600 days' END
    FROM generate_series(1, 200000) g;
INSERT INTO payment SELECT g, 1 + (random() * 19999)::int, round((random() * 11.99)::numeric, 2),
    timestamptz '2025-01-01' + random() * interval '700 days', repeat('n', 300)
    FROM generate_series(1, 200000) g;
"""


def _all_visible(conn: psycopg.Connection[Any]) -> None:
    """VACUUM until the visibility map covers the tables (index-only scans are priced with
    it): an autovacuum worker analysing this new database's catalogs holds the horizon back
    for a moment, and a VACUUM meanwhile leaves every page not all-visible."""
    query = "SELECT bool_and(relallvisible >= relpages) FROM pg_class WHERE relname = ANY(%s)"
    for _ in range(50):
        conn.execute("VACUUM customer, rental, payment")
        row = conn.execute(query, [["customer", "rental", "payment"]]).fetchone()
        if row is not None and row[0]:
            return
        time.sleep(0.2)
    pytest.fail("VACUUM could not set the visibility map in 10 s")


@pytest.fixture(scope="module")
def url(make_database: Callable[[str], str]) -> str:
    url = make_database("advise_choice")
    with connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute("ANALYZE")
        _all_visible(conn)
        available = conn.execute(
            "SELECT FROM pg_available_extensions WHERE name = 'hypopg'"
        ).fetchone()
    if available is None:
        pytest.skip("hypopg is not installed: apt-get install postgresql-15-hypopg")
    return url


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(url) as conn:
        yield conn


def _validated(conn: psycopg.Connection[Any], statements: list[Statement], **budget: Any) -> Advice:
    catalog = load_catalog(conn)
    statistics = load_statistics(conn, list(catalog.tables))
    patterns = analyze(statements, catalog, workers=1)
    advice = advise(
        patterns, catalog, statistics=statistics, options=AdviceOptions(alternatives=True)
    )
    return validate(advice, conn, **budget)


def _chosen(advice: Advice) -> set[tuple[str, tuple[str, ...]]]:
    return {(s.table, s.columns) for s in advice.suggestions}


def _one(sql: str) -> list[Statement]:
    return [Statement(sql, "q.sql", 1)]


def test_a_covering_index_serves_a_semi_join_from_the_index_alone(
    conn: psycopg.Connection[Any],
) -> None:
    sql = (
        "SELECT id, email FROM customer "
        "WHERE id IN (SELECT customer_id FROM payment WHERE amount > 10.9)"
    )
    advice = _validated(conn, _one(sql))
    assert _chosen(advice) == {("public.payment", ("amount", "customer_id"))}
    [finding] = [f for f in advice.findings() if f.rule == "missing-index"]
    assert "reads (customer_id) from the index alone" in finding.message
    assert "planner cost" in finding.message  # the figures are in the text, not only JSON


def test_the_single_column_beats_the_pair_when_it_is_as_good(
    conn: psycopg.Connection[Any],
) -> None:
    sql = (
        "SELECT * FROM rental WHERE return_date IS NULL AND rental_date < now() - interval '7 days'"
    )
    advice = _validated(conn, _one(sql))
    assert _chosen(advice) == {("public.rental", ("return_date",))}
    [dropped] = [f for f in advice.notes if f.rule == "index-not-used"]
    assert dropped.columns == ("return_date", "rental_date")
    assert dropped.evidence["instead"] == [advice.suggestions[0].name]


def test_an_aggregate_gets_its_grouping_columns_with_what_it_sums(
    conn: psycopg.Connection[Any],
) -> None:
    sql = (
        "SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id "
        "ORDER BY sum(amount) DESC LIMIT 10"
    )
    # an index-only scan feeding a GroupAggregate instead of a seq scan and a HashAggregate:
    # the planner's cut here is 29.5%, just under the default 30%
    advice = _validated(conn, _one(sql), min_savings=0.2)
    assert _chosen(advice) == {("public.payment", ("customer_id", "amount"))}
    assert "grouped by (customer_id)" in advice.suggestions[0].reasons[0]


def test_without_validation_no_other_shape_is_suggested(conn: psycopg.Connection[Any]) -> None:
    catalog = load_catalog(conn)
    sql = "SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id"
    patterns = analyze(_one(sql), catalog, workers=1)
    advice = advise(patterns, catalog, statistics=load_statistics(conn, list(catalog.tables)))
    assert advice.suggestions == [] and advice.alternatives == []


def test_budgets_keep_the_indexes_that_save_most_and_name_the_rest(
    conn: psycopg.Connection[Any],
) -> None:
    statements = [
        Statement("SELECT * FROM payment WHERE paid_at > now() - interval '1 day'", "q.sql", 1),
        Statement("SELECT * FROM rental WHERE customer_id = 42", "q.sql", 2),
        Statement("SELECT * FROM payment WHERE customer_id = 7", "q.sql", 3),
    ]
    everything = _validated(conn, statements)
    assert len(everything.suggestions) == 3
    one = _validated(conn, statements, max_indexes=1)
    assert len(one.suggestions) == 1
    [over] = [f for f in one.notes if f.rule == "over-budget"]
    assert len(over.evidence["indexes"]) == 2
    smallest = min(s.size_bytes or 0 for s in everything.suggestions)
    small = _validated(conn, statements, max_size=smallest)
    assert [s.size_bytes for s in small.suggestions] == [smallest]


def test_timed_statements_say_the_time_saved_a_day(
    conn: psycopg.Connection[Any],
) -> None:
    # pg_stat_statements' figures: 2,000 calls, 30 s in all, over a two-day window
    statement = Statement(
        "SELECT * FROM rental WHERE customer_id = $1",
        "pg_stat_statements",
        queryid=1,
        calls=2000,
        total_time_ms=30_000.0,
        share=0.6,
    )
    advice = _validated(conn, [statement], window_seconds=2 * 86400.0)
    [suggestion] = advice.suggestions
    best = suggestion.best_cost()
    assert best is not None and best.used
    assert suggestion.saved_ms_per_day == pytest.approx(15_000.0 * best.savings, rel=1e-6)
    # This cluster's statistics are minutes old: the bulk load is no write rate to believe.
    assert suggestion.writes_per_day is None and suggestion.overhead_ms_per_day is None
    [finding] = [f for f in advice.findings() if f.rule == "missing-index"]
    assert finding.evidence["saved_ms_per_day"] > 10_000
    assert "a day" in finding.message


def test_a_common_constant_gets_no_index_a_rare_one_does(
    make_database: Callable[[str], str],
) -> None:
    """From live statistics alone: status = 'done' (90% of the rows) is a low-selectivity
    note even though rare values exist; status = 'new' (5%) and status = $1 keep the index."""
    url = make_database("advise_literals")
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE jobs (id int PRIMARY KEY, status text NOT NULL);"
            "INSERT INTO jobs SELECT g, CASE WHEN g % 20 = 0 THEN 'new' "
            "WHEN g % 20 = 1 THEN 'failed' ELSE 'done' END FROM generate_series(1, 100000) g;"
            "ANALYZE jobs"
        )
        catalog = load_catalog(conn)
        statistics = load_statistics(conn, list(catalog.tables))

    def advice(sql: str) -> Advice:
        return advise(analyze(_one(sql), catalog, workers=1), catalog, statistics=statistics)

    common = advice("SELECT * FROM jobs WHERE status = 'done'")
    assert common.suggestions == []
    [note] = [n for n in common.notes if n.rule == "low-selectivity"]
    assert "status = 'done' (90%" in note.message
    for sql in ("SELECT * FROM jobs WHERE status = 'new'", "SELECT * FROM jobs WHERE status = $1"):
        assert [s.columns for s in advice(sql).suggestions] == [("status",)], sql
