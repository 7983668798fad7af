"""Catalog differences on a real PostgreSQL: each kind of schema change is reported as the
right kind, undoing a change leaves no difference, and two spellings of the same DDL,
normalised by PostgreSQL, compare equal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect
from dbctl.schema.catalog import Catalog
from dbctl.schema.diff import diff_catalogs

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TYPE order_status AS ENUM ('new', 'paid', 'done');
CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id integer NOT NULL,
    status order_status NOT NULL DEFAULT 'new',
    quantity integer NOT NULL DEFAULT 1,
    note text,
    placed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fk_orders_customer_id FOREIGN KEY (customer_id) REFERENCES customers (id),
    CONSTRAINT uq_orders_note UNIQUE (note)
);
CREATE INDEX ix_orders_customer_placed ON orders (customer_id, placed_at);
CREATE INDEX ix_orders_status ON orders (status);
CREATE INDEX ix_orders_open ON orders (customer_id) WHERE status <> 'done';
CREATE VIEW open_orders AS SELECT id, customer_id FROM orders WHERE status <> 'done';
"""

# (SQL run in a transaction that is rolled back afterwards, expected (kind, object) pairs)
CHANGES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "alter column type": (
        "ALTER TABLE orders ALTER COLUMN quantity TYPE bigint",
        [("column-type", "public.orders.quantity")],
    ),
    "set default": (
        "ALTER TABLE orders ALTER COLUMN quantity SET DEFAULT 2",
        [("column-default", "public.orders.quantity")],
    ),
    "drop not null": (
        "ALTER TABLE orders ALTER COLUMN customer_id DROP NOT NULL",
        [("column-nullable", "public.orders.customer_id")],
    ),
    "index column order": (
        "DROP INDEX ix_orders_customer_placed;"
        " CREATE INDEX ix_orders_customer_placed ON orders (placed_at, customer_id)",
        [("index-definition", "public.ix_orders_customer_placed")],
    ),
    "index made unique": (
        "DROP INDEX ix_orders_status; CREATE UNIQUE INDEX ix_orders_status ON orders (status)",
        [("index-definition", "public.ix_orders_status")],
    ),
    "index sort order": (
        "DROP INDEX ix_orders_status; CREATE INDEX ix_orders_status ON orders (status DESC)",
        [("index-definition", "public.ix_orders_status")],
    ),
    "partial predicate": (
        "DROP INDEX ix_orders_open;"
        " CREATE INDEX ix_orders_open ON orders (customer_id) WHERE status = 'new'",
        [("index-definition", "public.ix_orders_open")],
    ),
    "rename index": (
        "ALTER INDEX ix_orders_status RENAME TO orders_status_idx",
        [("index-name", "public.ix_orders_status")],
    ),
    "drop index": ("DROP INDEX ix_orders_status", [("missing-index", "public.ix_orders_status")]),
    "invalid index": (
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_orders_status'::regclass",
        [("index-validity", "public.ix_orders_status")],
    ),
    "enum value added": (
        "ALTER TYPE order_status ADD VALUE 'refunded'",
        [("enum-values", "public.order_status")],
    ),
    "check added": (
        "ALTER TABLE orders ADD CONSTRAINT ck_orders_quantity CHECK (quantity > 0)",
        [("extra-check", "public.orders.ck_orders_quantity")],
    ),
    "foreign key action": (
        "ALTER TABLE orders DROP CONSTRAINT fk_orders_customer_id,"
        " ADD CONSTRAINT fk_orders_customer_id FOREIGN KEY (customer_id)"
        " REFERENCES customers (id) ON DELETE CASCADE",
        [("foreign-key-definition", "public.orders.fk_orders_customer_id")],
    ),
    "foreign key renamed": (
        "ALTER TABLE orders RENAME CONSTRAINT fk_orders_customer_id TO orders_customer_id_fkey",
        [("foreign-key-name", "public.orders.fk_orders_customer_id")],
    ),
    "unique constraint renamed": (
        "ALTER TABLE orders RENAME CONSTRAINT uq_orders_note TO orders_note_key",
        [("index-name", "public.uq_orders_note")],
    ),
    "unique constraint becomes a unique index": (
        "ALTER TABLE orders DROP CONSTRAINT uq_orders_note;"
        " CREATE UNIQUE INDEX uq_orders_note ON orders (note)",
        [("missing-unique", "public.orders.uq_orders_note")],
    ),
    "primary key renamed": (
        "ALTER TABLE customers RENAME CONSTRAINT customers_pkey TO pk_customers",
        [("primary-key-name", "public.customers.customers_pkey")],
    ),
    "primary key dropped": (
        "ALTER TABLE customers DROP CONSTRAINT customers_pkey CASCADE",
        [
            ("primary-key", "public.customers.customers_pkey"),
            ("missing-foreign-key", "public.orders.fk_orders_customer_id"),
        ],
    ),
    "column added and dropped": (
        "ALTER TABLE orders ADD COLUMN paid_at timestamptz, DROP COLUMN note",
        [
            ("extra-column", "public.orders.paid_at"),
            ("missing-column", "public.orders.note"),
            ("missing-index", "public.uq_orders_note"),
            ("missing-unique", "public.orders.uq_orders_note"),
        ],
    ),
    "identity": (
        "ALTER TABLE customers ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY",
        [("column-identity", "public.customers.id")],
    ),
    "view replaced": (
        "CREATE OR REPLACE VIEW open_orders AS"
        " SELECT id, customer_id FROM orders WHERE status = 'new'",
        [("view-definition", "public.open_orders")],
    ),
    "table created and dropped": (
        "CREATE TABLE refunds (id int PRIMARY KEY); DROP VIEW open_orders",
        [("extra-table", "public.refunds"), ("missing-view", "public.open_orders")],
    ),
    "comment": ("COMMENT ON TABLE orders IS 'x'", [("table-comment", "public.orders")]),
    "sequence": (
        "ALTER SEQUENCE orders_id_seq AS integer",
        [("sequence-definition", "public.orders_id_seq")],
    ),
}


@pytest.fixture(scope="module")
def url(make_database: Callable[[str], str]) -> str:
    url = make_database("difflive")
    with connect(url) as conn:
        conn.execute(SCHEMA)
    return url


@pytest.fixture(scope="module")
def before(url: str) -> Catalog:
    with connect(url) as conn:
        return load_catalog(conn)


def _after(url: str, sql: str) -> Catalog:
    """The catalog with ``sql`` applied, seen from inside its transaction, then undone."""
    with connect(url) as conn:
        try:
            conn.execute(sql)
            return load_catalog(conn)
        finally:
            conn.rollback()


@pytest.mark.parametrize(("sql", "expected"), CHANGES.values(), ids=CHANGES.keys())
def test_each_change_is_reported_as_its_kind(
    url: str, before: Catalog, sql: str, expected: list[tuple[str, str]]
) -> None:
    differences = diff_catalogs(before, _after(url, sql))
    assert sorted((d.kind, d.object) for d in differences) == sorted(expected)


def test_no_difference_when_nothing_changed(url: str, before: Catalog) -> None:
    with connect(url) as conn:
        assert diff_catalogs(before, load_catalog(conn)) == []


def test_undone_changes_leave_no_difference(url: str, before: Catalog) -> None:
    # A downgrade and upgrade again: everything dropped and created the same way.
    after = _after(
        url,
        "DROP VIEW open_orders; DROP TABLE orders; DROP TABLE customers; DROP TYPE order_status;"
        + SCHEMA,
    )
    assert diff_catalogs(before, after) == []


def test_two_spellings_of_one_schema_are_equal(make_database: Callable[[str], str]) -> None:
    one = make_database("spelling")
    other = make_database("spelling")
    with connect(one) as conn:
        conn.execute(
            "CREATE TABLE t (id serial PRIMARY KEY, code varchar(20) NOT NULL DEFAULT 'x',"
            " at timestamp with time zone DEFAULT CURRENT_TIMESTAMP, n int4 CHECK (n > 0));"
            " CREATE INDEX ix_t ON t (code ASC NULLS LAST, lower(code))"
        )
        first = load_catalog(conn)
    with connect(other) as conn:
        conn.execute(
            "create table public.t (id integer not null generated by default as identity,"
            " code character varying(20) default 'x'::character varying not null,"
            " at timestamptz default current_timestamp, n integer,"
            " constraint t_n_check check (n > 0));"
            " alter table t add constraint t_pkey primary key (id);"
            " create index ix_t on public.t using btree (code, (lower(code)))"
        )
        second = load_catalog(conn)
    # The identity column and the serial one do differ, and only they (and the sequence).
    found = [(d.kind, d.object) for d in diff_catalogs(first, second)]
    assert found == [
        ("missing-sequence", "public.t_id_seq"),
        ("column-default", "public.t.id"),
        ("column-identity", "public.t.id"),
    ]


def test_labels_and_ignore_patterns(url: str, before: Catalog) -> None:
    after = _after(url, "ALTER TABLE orders ALTER COLUMN quantity TYPE bigint")
    (difference,) = diff_catalogs(
        before, after, expected_label="the models", actual_label="the database"
    )
    assert difference.message == (
        "public.orders.quantity: type is bigint in the database, integer in the models"
    )
    assert diff_catalogs(before, after, ignore=["column-type:public.orders.*"]) == []
