"""The catalog loader against a real PostgreSQL: what it reads, what it leaves out, what it
costs (a constant number of queries), and that it leaves the caller's session alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine

from dbctl.pg.catalog_loader import QUERY_COUNT, load_catalog
from dbctl.pg.connect import connect
from dbctl.schema.catalog import (
    Catalog,
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Sequence,
    Unique,
)

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA sales;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'done');
CREATE TABLE customers (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name varchar(100) COLLATE "C",
    CONSTRAINT uq_customers_email UNIQUE (email)
);
COMMENT ON TABLE customers IS 'who buys';
COMMENT ON COLUMN customers.email IS 'login';
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status order_status NOT NULL DEFAULT 'new',
    total_cents integer NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
    gross numeric GENERATED ALWAYS AS (total_cents * 1.2) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    email text
);
CREATE INDEX ix_orders_open ON orders (customer_id) WHERE status <> 'done';
CREATE INDEX ix_orders_lower_email ON orders (lower(email), id);
CREATE INDEX ix_orders_created ON orders (created_at DESC NULLS LAST) INCLUDE (total_cents);
CREATE INDEX ix_orders_email_hash ON orders USING hash (email);
CREATE INDEX ix_orders_email_pattern ON orders (email text_pattern_ops);
CREATE TABLE order_lines (
    order_id bigint REFERENCES orders ON DELETE CASCADE ON UPDATE RESTRICT
        DEFERRABLE INITIALLY DEFERRED,
    line_no integer,
    sku text NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE VIEW open_orders AS SELECT id, customer_id FROM orders WHERE status <> 'done';
CREATE MATERIALIZED VIEW customer_totals AS
    SELECT customer_id, sum(total_cents) AS total FROM orders GROUP BY customer_id;
CREATE UNIQUE INDEX ix_customer_totals ON customer_totals (customer_id);
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;
CREATE TABLE order_events (
    id bigint PRIMARY KEY, event_id bigint, at date, FOREIGN KEY (event_id, at) REFERENCES events
);
CREATE TABLE sales.invoices (id integer PRIMARY KEY, order_id bigint REFERENCES public.orders);
CREATE SEQUENCE sales.invoice_no AS integer START 1000 INCREMENT 10;
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
"""


@pytest.fixture(scope="module")
def url(make_database: Callable[[str], str]) -> str:
    url = make_database("catalog")
    with connect(url) as conn:
        conn.execute(SCHEMA)
    return url


@pytest.fixture(scope="module")
def catalog(url: str) -> Catalog:
    with connect(url) as conn:
        return load_catalog(conn, exclude_tables=("alembic_version",))


def test_tables_views_and_partitions_of_every_schema(catalog: Catalog) -> None:
    kinds = {name: table.kind for name, table in catalog.tables.items()}
    assert kinds == {
        "public.customers": "table",
        "public.orders": "table",
        "public.order_lines": "table",
        "public.order_events": "table",
        "public.open_orders": "view",
        "public.customer_totals": "materialized view",
        "public.events": "partitioned table",
        "public.events_2024": "table",
        "public.events_other": "table",
        "sales.invoices": "table",
    }  # no alembic_version (excluded), no pg_stat_statements or hypopg views (extensions')
    assert {"pg_stat_statements", "plpgsql"} <= catalog.extensions.keys()
    assert catalog.server_version_num >= 150000


def test_columns(catalog: Catalog) -> None:
    orders = catalog.tables["public.orders"]
    assert [column.name for column in orders.columns] == [
        "id",
        "customer_id",
        "status",
        "total_cents",
        "gross",
        "created_at",
        "email",
    ]
    assert orders.column("id") == Column(
        "id", "bigint", nullable=False, default="nextval('orders_id_seq'::regclass)"
    )
    assert orders.column("status") == Column(
        "status", "order_status", nullable=False, default="'new'::order_status"
    )
    assert orders.column("gross") == Column(
        "gross", "numeric", generated="((total_cents)::numeric * 1.2)"
    )
    assert orders.column("created_at") == Column(
        "created_at", "timestamp with time zone", nullable=False, default="now()"
    )
    customers = catalog.tables["public.customers"]
    assert customers.column("id") == Column("id", "integer", nullable=False, identity="always")
    assert customers.column("name") == Column("name", "character varying(100)", collation="C")
    assert customers.column("email") == Column("email", "text", nullable=False, comment="login")
    assert customers.comment == "who buys"


def test_indexes(catalog: Catalog) -> None:
    orders = catalog.tables["public.orders"]
    assert [index.name for index in orders.indexes] == [
        "ix_orders_created",
        "ix_orders_email_hash",
        "ix_orders_email_pattern",
        "ix_orders_lower_email",
        "ix_orders_open",
        "orders_pkey",
    ]
    assert orders.index("orders_pkey") == Index(
        "orders_pkey",
        ("id",),
        unique=True,
        primary=True,
        definition="CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)",
        constraint="orders_pkey",
    )
    partial = orders.index("ix_orders_open")
    assert partial is not None
    assert partial.predicate == "(status <> 'done'::order_status)"
    assert partial.columns == ("customer_id",)
    expression = orders.index("ix_orders_lower_email")
    assert expression is not None
    assert expression.columns == ("lower(email)", "id")
    assert expression.expressions == (True, False)
    created = orders.index("ix_orders_created")
    assert created is not None
    assert (created.columns, created.descending, created.nulls_first) == (
        ("created_at",),
        (True,),
        (False,),
    )
    assert created.include == ("total_cents",)
    assert created.definition == (
        "CREATE INDEX ix_orders_created ON public.orders USING btree "
        "(created_at DESC NULLS LAST) INCLUDE (total_cents)"
    )
    hashed = orders.index("ix_orders_email_hash")
    assert hashed is not None
    assert (hashed.method, hashed.unique) == ("hash", False)
    pattern = orders.index("ix_orders_email_pattern")
    assert pattern is not None
    assert pattern.opclasses == ("text_pattern_ops",)
    assert all(index.valid for index in orders.indexes)
    assert all(index.constraint is None for index in orders.indexes if not index.primary)
    totals = catalog.tables["public.customer_totals"]
    assert [(i.name, i.unique) for i in totals.indexes] == [("ix_customer_totals", True)]


def test_constraints(catalog: Catalog) -> None:
    orders = catalog.tables["public.orders"]
    assert orders.primary_key == PrimaryKey("orders_pkey", ("id",))
    assert orders.checks == (Check("orders_total_cents_check", "CHECK (total_cents >= 0)"),)
    assert orders.foreign_keys == (
        ForeignKey(
            "orders_customer_id_fkey",
            ("customer_id",),
            "public",
            "customers",
            ("id",),
            on_delete="CASCADE",
            definition="FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE",
        ),
    )
    customers = catalog.tables["public.customers"]
    assert customers.uniques == (Unique("uq_customers_email", ("email",)),)
    assert customers.index("uq_customers_email") is not None
    assert customers.index("uq_customers_email").constraint == "uq_customers_email"  # type: ignore[union-attr]
    lines = catalog.tables["public.order_lines"]
    assert lines.primary_key == PrimaryKey("order_lines_pkey", ("order_id", "line_no"))
    (fk,) = lines.foreign_keys
    assert (fk.on_update, fk.on_delete, fk.deferrable, fk.initially_deferred) == (
        "RESTRICT",
        "CASCADE",
        True,
        True,
    )
    # The other schema's foreign key names its target qualified, the same in either path.
    (invoice_fk,) = catalog.tables["sales.invoices"].foreign_keys
    assert (invoice_fk.ref_qualified_name, invoice_fk.ref_columns) == ("public.orders", ("id",))
    # A foreign key to a partitioned table: one, not one more per partition.
    (event_fk,) = catalog.tables["public.order_events"].foreign_keys
    assert (event_fk.ref_table, event_fk.columns) == ("events", ("event_id", "at"))


def test_views_partitions_enums_and_sequences(catalog: Catalog) -> None:
    view = catalog.tables["public.open_orders"]
    assert view.view_definition is not None
    assert "FROM orders" in view.view_definition
    assert [column.name for column in view.columns] == ["id", "customer_id"]
    assert catalog.tables["public.events"].partition_key == "RANGE (at)"
    partition = catalog.tables["public.events_2024"]
    assert partition.partition_of == "public.events"
    assert partition.partition_bound == "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    assert catalog.tables["public.events_other"].partition_bound == "DEFAULT"
    assert catalog.enums == {
        "public.order_status": Enum("public", "order_status", ("new", "paid", "done"))
    }
    # The identity column's own sequence belongs to the column: not listed.
    assert dict(catalog.sequences) == {
        "public.orders_id_seq": Sequence(
            "public", "orders_id_seq", "bigint", owned_by="public.orders.id"
        ),
        "sales.invoice_no": Sequence(
            "sales", "invoice_no", "integer", start=1000, increment=10, max_value=2147483647
        ),
    }


def test_schemas_and_exclusion_patterns(url: str) -> None:
    with connect(url) as conn:
        sales = load_catalog(conn, schemas=["sales"])
        patterns = load_catalog(conn, exclude_tables=("alembic_version", "events*", "sales.*"))
        everything = load_catalog(conn)
    assert list(sales.tables) == ["sales.invoices"]
    assert list(sales.sequences) == ["sales.invoice_no"]
    assert sales.enums == {}
    assert not any(name.startswith(("public.events", "sales.")) for name in patterns.tables)
    assert "sales.invoice_no" in patterns.sequences  # owned by no table: kept
    assert "public.alembic_version" in everything.tables


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_seen(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("invalid")
    with connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, code text)")
        conn.execute("INSERT INTO t VALUES (1, 'x'), (2, 'x')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_t_code ON t (code)")
        index = load_catalog(conn).tables["public.t"].index("ix_t_code")
    assert index is not None
    assert index.valid is False


def test_estimates_after_analyze(make_database: Callable[[str], str]) -> None:
    url = make_database("estimates")
    with connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, body text)")
        before = load_catalog(conn).tables["public.t"]
        conn.execute("INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 5000) i")
        conn.execute("ANALYZE t")
        after = load_catalog(conn).tables["public.t"]
        exact = load_catalog(conn, exact_sizes=True).tables["public.t"]
    assert before.row_estimate == -1
    assert after.row_estimate == 5000
    assert after.total_bytes > 500_000
    # The estimate (relpages) and pg_total_relation_size agree but for the small forks.
    assert 0.8 < after.total_bytes / exact.total_bytes <= 1


def test_the_callers_session_is_left_as_it_was(url: str) -> None:
    with connect(url) as conn:
        conn.execute("SET search_path = sales, public")
        conn.execute("CREATE TABLE sales.scratch (id int)")  # in an open transaction
        catalog = load_catalog(conn)
        assert "sales.scratch" in catalog.tables  # the load sees the caller's transaction
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("SHOW search_path").fetchone() == ("sales, public",)
        assert conn.execute("SELECT count(*) FROM scratch").fetchone() == (0,)
        conn.rollback()
    with connect(url, autocommit=True) as conn:
        load_catalog(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_sqlalchemy_connection_gives_the_same_catalog(url: str, catalog: Catalog) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert load_catalog(conn, exclude_tables=("alembic_version",)) == catalog
            conn.exec_driver_sql("SELECT 1")  # still usable afterwards
    finally:
        engine.dispose()


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError, match="psycopg"):
        load_catalog("postgresql://nowhere/db")  # type: ignore[arg-type]


def _generated_tables(count: int) -> str:
    statements = []
    for i in range(count):
        columns = ", ".join(f"c{j} {'text' if j % 2 else 'integer'}" for j in range(8))
        parent = f" REFERENCES t{i - 1} (id)" if i else ""
        statements += [
            f"CREATE TABLE t{i} (id bigserial PRIMARY KEY, parent_id bigint{parent}, {columns},"
            f" CHECK (c0 >= 0))",
            f"CREATE INDEX ix_t{i}_parent ON t{i} (parent_id)",
            f"CREATE INDEX ix_t{i}_c1 ON t{i} (c1, c2 DESC)" + (" WHERE c0 > 0" if i % 10 else ""),
        ]
    return ";\n".join(statements)


class CountingCursor(psycopg.Cursor[Any]):
    executed = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


@pytest.fixture
def generated(make_database: Callable[[str], str]) -> Iterator[Callable[[int], str]]:
    def make(count: int) -> str:
        url = make_database(f"gen{count}")
        with connect(url) as conn:
            conn.execute(_generated_tables(count))
        return url

    yield make


def _server_statements(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
        " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_number_of_queries_does_not_grow_with_the_tables(
    generated: Callable[[int], str],
) -> None:
    counts = []
    for size in (5, 200):
        url = generated(size)
        with connect(url) as measure, connect(url, autocommit=True) as conn:
            conn.cursor_factory = CountingCursor
            CountingCursor.executed = 0
            before = _server_statements(measure)
            measure.rollback()
            catalog = load_catalog(conn)
            after = _server_statements(measure)
        assert len(catalog.tables) == size
        assert sum(len(t.indexes) for t in catalog.tables.values()) == 3 * size
        counts.append((CountingCursor.executed, after - before))
    assert counts[0] == counts[1]
    assert counts[0][0] == QUERY_COUNT


def test_without_pipeline_support_the_same_catalog(
    url: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq before 14 has no pipeline mode: the queries then go one by one.
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    with connect(url) as conn:
        assert load_catalog(conn, exclude_tables=("alembic_version",)) == catalog
