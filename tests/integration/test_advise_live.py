"""Index advice against a real PostgreSQL with data and statistics: the statistics reader,
the filters that need them, unused-index, and --validate with HypoPG (generic plans)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from dbctl.access.model import AccessPattern, Kind, SortKey, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.model import Advice, AdviceOptions
from dbctl.advise.whatif import validate
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect
from dbctl.pg.stats import QUERY_COUNT, Statistics, load_statistics
from dbctl.pg.url import libpq_url
from dbctl.schema.catalog import Catalog

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email text NOT NULL,
    tier integer NOT NULL,
    deleted_at timestamptz
);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    status text NOT NULL,
    active boolean NOT NULL,
    total integer NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX ix_orders_total ON orders (total);
CREATE INDEX ix_orders_created_at ON orders (created_at);
CREATE TABLE settings (key text PRIMARY KEY, value text);
CREATE TABLE events (id integer, at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE events_2026_02 PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
INSERT INTO customers
    SELECT g, 'c' || g || '@example.com', g % 5,
           CASE WHEN g % 10 = 0 THEN now() END
    FROM generate_series(1, 20000) g;
INSERT INTO orders
    SELECT g, 1 + g % 20000, (ARRAY['placed', 'paid', 'shipped'])[1 + g % 3], g % 2 = 0,
           g % 1000, timestamptz '2026-01-01' + g * interval '1 minute'
    FROM generate_series(1, 200000) g;
INSERT INTO settings SELECT 'k' || g, 'v' FROM generate_series(1, 10) g;
INSERT INTO events SELECT g, date '2026-01-01' + g % 59, 'k' || g % 7
    FROM generate_series(1, 3000) g;
ANALYZE;
"""


@pytest.fixture(scope="module")
def url(make_database: Callable[[str], str]) -> str:
    url = make_database("advise_live")
    with connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        installed = conn.execute("SELECT FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    if installed is None:
        pytest.skip("hypopg is not installed: apt-get install postgresql-15-hypopg")
    with connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SELECT count(*) FROM orders WHERE created_at < '2026-01-02'")
    return url  # the session above ends: its index scans reach the statistics


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(url) as conn:
        yield conn


@pytest.fixture(scope="module")
def catalog(url: str) -> Catalog:
    with connect(url) as conn:
        return load_catalog(conn)


@pytest.fixture(scope="module")
def statistics(url: str, catalog: Catalog) -> Statistics:
    with connect(url) as conn:
        return load_statistics(conn, catalog.tables.keys())


def pattern(text: str, line: int, *accesses: TableAccess) -> AccessPattern:
    statement = Statement(text, "queries.sql", line, fingerprint=str(line))
    return AccessPattern(statement, Kind.select, accesses)


class CountingCursor(psycopg.Cursor[Any]):
    executed = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


def test_the_statistics(statistics: Statistics) -> None:
    orders = statistics.table("public.orders")
    assert orders is not None
    assert orders.reltuples == pytest.approx(200_000, rel=0.01)
    assert statistics.distinct_values("public.orders", "status") == 3
    # n_distinct is stored as a fraction of the rows for keys: counted with reltuples.
    assert statistics.distinct_values("public.orders", "id") == pytest.approx(200_000, rel=0.01)
    status = statistics.column("public.orders", "status")
    assert status is not None and status.mcv_sum == pytest.approx(1.0, abs=0.01)
    deleted = statistics.column("public.customers", "deleted_at")
    assert deleted is not None and deleted.null_frac == pytest.approx(0.9, abs=0.02)
    # A partitioned table counts its partitions' rows; pg_stats has its inherited row.
    assert statistics.rows("public.events") == pytest.approx(3000, rel=0.01)
    assert statistics.distinct_values("public.events", "kind") == 7
    total = statistics.index("public.orders", "ix_orders_total")
    assert total is not None and total.scans == 0 and total.size_bytes > 1024 * 1024
    created = statistics.index("public.orders", "ix_orders_created_at")
    assert created is not None and created.scans >= 1
    assert statistics.rows("public.settings") == 10


def test_the_statistics_take_a_constant_number_of_queries(url: str, catalog: Catalog) -> None:
    counts = []
    for tables in (["public.settings"], list(catalog.tables)):
        with connect(url) as conn:
            conn.cursor_factory = CountingCursor
            CountingCursor.executed = 0
            found = load_statistics(conn, tables)
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert set(found.tables) == set(tables)
        counts.append(CountingCursor.executed)
    assert counts == [QUERY_COUNT, QUERY_COUNT]


def test_advice_weighed_with_statistics(catalog: Catalog, statistics: Statistics) -> None:
    patterns = [
        pattern(
            "SELECT * FROM settings WHERE value = $1",
            1,
            TableAccess("public.settings", equality=("value",)),
        ),
        pattern(
            "SELECT * FROM orders WHERE status = $1",
            2,
            TableAccess("public.orders", equality=("status",)),
        ),
        pattern(
            "SELECT * FROM customers WHERE email = %s",
            3,
            TableAccess("public.customers", equality=("email",)),
        ),
        pattern(
            "SELECT * FROM orders WHERE customer_id = $1 AND active",
            4,
            TableAccess("public.orders", equality=("active", "customer_id")),
        ),
    ]
    advice = advise(patterns, catalog, statistics=statistics)
    assert not advice.structural
    # customer_id leads (selective), then active; email stays; small and weak ones go.
    assert [s.columns for s in advice.suggestions] == [
        ("customer_id", "active"),
        ("email",),
    ]
    rules = sorted((f.rule, f.table) for f in advice.notes)
    assert ("small-table", "public.settings") in rules
    assert ("low-selectivity", "public.orders") in rules
    unused = [f for f in advice.notes if f.rule == "unused-index"]
    assert unused == []  # ix_orders_total is unscanned, but created within the window


def structural(catalog: Catalog) -> Advice:
    """Advice without statistics, so the planner has something to turn down."""
    patterns = [
        pattern(
            "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1",
            1,
            TableAccess("public.customers", equality=("email",), joins=("id",)),
            TableAccess("public.orders", joins=("customer_id",)),
        ),
        pattern(
            "SELECT * FROM orders WHERE customer_id = %(customer)s "
            "ORDER BY created_at DESC LIMIT 10",
            2,
            TableAccess(
                "public.orders",
                equality=("customer_id",),
                sort=(SortKey("created_at", descending=True),),
                limit=True,
            ),
        ),
        pattern(
            "SELECT count(*) FROM orders WHERE active = :active",
            3,
            TableAccess("public.orders", equality=("active",)),
        ),
        pattern(
            "SELECT * FROM customers WHERE tier = 3 AND deleted_at IS NULL",
            4,
            TableAccess("public.customers", equality=("tier", "deleted_at"), nulls=("deleted_at",)),
        ),
    ]
    return advise(patterns, catalog)


def test_a_heavy_statement_keeps_a_smaller_cut(
    conn: psycopg.Connection[Any], catalog: Catalog
) -> None:
    """Issue 12: --min-savings is of the planner's cost; a suggestion whose statement takes
    a large share of the workload's time is kept for a smaller (still real) cut."""
    from dataclasses import replace

    advice = structural(catalog)
    strict = validate(advice, conn, min_savings=0.999)
    assert not strict.suggestions  # no index cuts 99.9% of a cost
    heavy = replace(
        advice,
        suggestions=[
            replace(s, statements=tuple(replace(t, share=0.4) for t in s.statements))
            for s in advice.suggestions
        ],
    )
    kept = {s.name for s in validate(heavy, conn, min_savings=0.999).suggestions}
    # used and cutting 5% or more of a heavy statement: kept; never used: still dropped
    assert kept == {
        "ix_orders_customer_id_created_at",
        "ix_customers_email",
        "ix_customers_tier_deleted_at",
    }
    conn.rollback()


def test_validate_prices_the_suggestions(conn: psycopg.Connection[Any], catalog: Catalog) -> None:
    advice = structural(catalog)
    names = [s.name for s in advice.suggestions]
    assert names == [
        "ix_orders_customer_id_created_at",
        "ix_customers_tier_deleted_at",
        "ix_customers_email",
        "ix_orders_active",
    ]
    validated = validate(advice, conn)
    assert validated.validated
    # Every statement was planned: $1, %(name)s and :name through a generic plan (on
    # PostgreSQL 15, PREPARE and EXPLAIN EXECUTE), the literal one directly.
    assert not [f for f in validated.notes if f.rule == "not-validated"]
    priced = {c.statement.line for s in validated.suggestions for c in s.costs}
    assert priced == {1, 2}
    kept = {s.name: s for s in validated.suggestions}
    assert set(kept) == {"ix_orders_customer_id_created_at", "ix_customers_email"}
    for suggestion in kept.values():
        best = suggestion.best_cost()
        assert best is not None and best.used
        assert best.after < 0.7 * best.before
    # The join and the keyset query both use the (customer_id, created_at) index.
    orders = kept["ix_orders_customer_id_created_at"]
    assert [c.used for c in orders.costs] == [True, True]
    finding = next(f for f in validated.findings() if f.suggestion == orders.sql)
    assert finding.evidence["cost_before"] > finding.evidence["cost_after"] > 0
    assert finding.evidence["size_bytes"] > 8192  # HypoPG's estimate of the index's size
    dropped = {f.evidence["index"]: f for f in validated.notes if f.rule == "index-not-used"}
    assert set(dropped) == {"ix_customers_tier_deleted_at", "ix_orders_active"}
    assert "the planner does not use it" in dropped["ix_orders_active"].message
    assert all(f.evidence["cost_before"] > 0 for f in dropped.values())  # lines 3 and 4
    # Nothing stays behind in the session: no transaction, prepared statement, hypothetical
    # index or setting.
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone() == (0,)
    assert conn.execute("SHOW plan_cache_mode").fetchone() == ("auto",)
    conn.rollback()


def test_a_statement_that_cannot_be_planned(
    conn: psycopg.Connection[Any], catalog: Catalog
) -> None:
    advice = advise(
        [
            pattern(
                "SELECT * FROM orders WHERE no_such_column = $1",
                1,
                TableAccess("public.orders", equality=("no_such_column",)),
            )
        ],
        catalog,
    )
    validated = validate(advice, conn)
    # HypoPG refuses an index on a column that does not exist: the static advice stands.
    assert [s.name for s in validated.suggestions] == ["ix_orders_no_such_column"]
    (found,) = [f for f in validated.notes if f.rule == "not-validated"]
    assert "could not be priced" in found.message


def test_without_hypopg_the_advice_stands(
    catalog: Catalog, make_database: Callable[[str], str]
) -> None:
    bare = make_database("advise_bare")
    with connect(bare, autocommit=True) as admin:
        admin.execute("DROP EXTENSION IF EXISTS hypopg")
        admin.execute("CREATE TABLE orders (id int PRIMARY KEY, active boolean)")
        admin.execute("DROP ROLE IF EXISTS advise_plain")
        admin.execute("CREATE ROLE advise_plain LOGIN PASSWORD 'plain'")
        admin.execute("GRANT SELECT ON orders TO advise_plain")
    only = TableAccess("public.orders", equality=("active",))
    advice = advise([pattern("SELECT * FROM orders WHERE active", 1, only)], catalog)
    plain = make_conninfo(libpq_url(bare), user="advise_plain", password="plain")
    try:
        # A role that may not create the extension: one note, the advice unchanged.
        with psycopg.connect(plain) as conn:
            validated = validate(advice, conn)
        assert validated.suggestions == advice.suggestions
        assert not validated.validated
        (found,) = [f for f in validated.notes if f.rule == "hypopg-missing"]
        assert "the static advice stands" in found.message
        assert "CREATE EXTENSION hypopg" in found.message
        # A superuser: created for the validation only, inside its rolled-back transaction.
        with connect(bare) as conn:
            validated = validate(advice, conn)
            assert validated.validated
            gone = conn.execute("SELECT FROM pg_extension WHERE extname = 'hypopg'").fetchone()
            assert gone is None
    finally:
        with connect(bare, autocommit=True) as admin:
            admin.execute("DROP OWNED BY advise_plain")
            admin.execute("DROP ROLE advise_plain")


SPEED_TABLES = 25


def test_validate_100_suggestions(make_database: Callable[[str], str]) -> None:
    """Every one of 100 suggestions on 25 tables priced and kept (the time it takes is
    bench/whatif_speed.py's, not an assertion here)."""
    url = make_database("advise_speed")
    columns = ", ".join(f"c{k} integer" for k in range(4))
    values = ", ".join(f"(g * {k + 7}) % 5000" for k in range(4))
    ddl = "".join(
        f"CREATE TABLE t{n} (id integer PRIMARY KEY, {columns});"
        f"INSERT INTO t{n} SELECT g, {values} FROM generate_series(1, 5000) g;"
        for n in range(SPEED_TABLES)
    )
    with connect(url, autocommit=True) as conn:
        conn.execute(ddl + "ANALYZE")
        catalog = load_catalog(conn)
    patterns = [
        pattern(
            f"SELECT * FROM t{n} WHERE c{k} = $1",
            n * 4 + k,
            TableAccess(f"public.t{n}", equality=(f"c{k}",)),
        )
        for n in range(SPEED_TABLES)
        for k in range(4)
    ]
    advice = advise(patterns, catalog)
    assert len(advice.suggestions) == 100
    with connect(url) as conn:
        validated = validate(advice, conn)
    assert len(validated.suggestions) == 100
    assert all(s.best_cost() is not None for s in validated.suggestions)


def test_advice_options_reach_the_filters(catalog: Catalog, statistics: Statistics) -> None:
    small = pattern(
        "SELECT * FROM settings WHERE value = $1",
        1,
        TableAccess("public.settings", equality=("value",)),
    )
    options = AdviceOptions(min_rows=5)
    advice = advise([small], catalog, statistics=statistics, options=options)
    # No longer too small, but one value in every row.
    assert [f.rule for f in advice.notes if f.table == "public.settings"] == ["low-selectivity"]
    options = AdviceOptions(min_rows=5, max_selectivity=1.0)
    advice = advise([small], catalog, statistics=statistics, options=options)
    assert [s.columns for s in advice.suggestions] == [("value",)]
