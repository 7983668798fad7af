"""Read-only schema tests: the migrated database has the tables, keys and indexes expected."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

pytestmark = pytest.mark.integration

COLUMNS = {
    "customers": ["id", "email", "name", "created_at"],
    "categories": ["id", "name"],
    "products": ["id", "sku", "name", "category_id", "price_cents", "stock", "created_at"],
    "orders": ["id", "customer_id", "status", "total_cents", "item_count", "created_at"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price_cents"],
}

PRIMARY_KEYS = {
    "customers": ("pk_customers", ["id"]),
    "categories": ("pk_categories", ["id"]),
    "products": ("pk_products", ["id"]),
    "orders": ("pk_orders", ["id"]),
    "order_items": ("pk_order_items", ["order_id", "product_id"]),
}

FOREIGN_KEYS = {
    ("products", "fk_products_category_id_categories", ("category_id",), "categories"),
    ("orders", "fk_orders_customer_id_customers", ("customer_id",), "customers"),
    ("order_items", "fk_order_items_order_id_orders", ("order_id",), "orders"),
    ("order_items", "fk_order_items_product_id_products", ("product_id",), "products"),
}

# name -> (table, columns in order, sort order of each column)
INDEXES = {
    "ix_products_category_id_products_id": ("products", ["category_id", "id"], None),
    "ix_orders_customer_id_orders_created_at_orders_id": (
        "orders",
        ["customer_id", "created_at", "id"],
        {"created_at": ("desc",), "id": ("desc",)},
    ),
    "ix_orders_created_at": ("orders", ["created_at"], None),
    "ix_order_items_product_id": ("order_items", ["product_id"], None),
}

UNIQUE = {
    "customers": ("uq_customers_email", ["email"]),
    "categories": ("uq_categories_name", ["name"]),
    "products": ("uq_products_sku", ["sku"]),
}


@pytest.fixture(scope="module")
def inspector(engine: Engine) -> Any:
    return inspect(engine)


def test_tables(inspector: Any) -> None:
    # Besides the shop's tables: the bookkeeping of Alembic and dbctl.
    bookkeeping = ("alembic_", "dbctl_")
    tables = {t for t in inspector.get_table_names() if not t.startswith(bookkeeping)}
    assert tables == set(COLUMNS)


@pytest.mark.parametrize("table", COLUMNS)
def test_columns_are_not_null(inspector: Any, table: str) -> None:
    columns = inspector.get_columns(table)
    assert [c["name"] for c in columns] == COLUMNS[table]
    assert all(not c["nullable"] for c in columns)


@pytest.mark.parametrize("table", PRIMARY_KEYS)
def test_primary_keys(inspector: Any, table: str) -> None:
    pk = inspector.get_pk_constraint(table)
    assert (pk["name"], pk["constrained_columns"]) == PRIMARY_KEYS[table]


def test_foreign_keys(inspector: Any) -> None:
    found = {
        (table, fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
        for table in COLUMNS
        for fk in inspector.get_foreign_keys(table)
    }
    assert found == FOREIGN_KEYS


def test_indexes_and_their_column_order(inspector: Any) -> None:
    found = {
        index["name"]: (table, index["column_names"], index.get("column_sorting"))
        for table in COLUMNS
        for index in inspector.get_indexes(table)
        if not index.get("duplicates_constraint")  # the index behind a UNIQUE constraint
    }
    assert found == INDEXES


def test_every_foreign_key_leads_an_index(inspector: Any) -> None:
    for table in COLUMNS:
        leading = {tuple(ix["column_names"][:1]) for ix in inspector.get_indexes(table)}
        leading.add(tuple(inspector.get_pk_constraint(table)["constrained_columns"][:1]))
        for fk in inspector.get_foreign_keys(table):
            assert tuple(fk["constrained_columns"]) in leading, (table, fk["name"])


@pytest.mark.parametrize("table", UNIQUE)
def test_unique_constraints(inspector: Any, table: str) -> None:
    found = [(u["name"], u["column_names"]) for u in inspector.get_unique_constraints(table)]
    assert found == [UNIQUE[table]]


def test_check_constraints(inspector: Any) -> None:
    names = {ck["name"] for table in COLUMNS for ck in inspector.get_check_constraints(table)}
    assert names == {
        "ck_products_price_cents_nonnegative",
        "ck_products_stock_nonnegative",
        "ck_orders_status_known",
        "ck_orders_total_cents_nonnegative",
        "ck_orders_item_count_positive",
        "ck_order_items_quantity_positive",
        "ck_order_items_unit_price_cents_nonnegative",
    }


# The read model of GET /products/top (migrations 0002 and 0003): view -> (columns, the
# unique index that REFRESH ... CONCURRENTLY needs and the reads use).
VIEWS = {
    "product_sales_daily": (
        ["day", "product_id", "units", "revenue_cents"],
        "CREATE UNIQUE INDEX uq_product_sales_daily_day_product_id",
        "(day, product_id)",
    ),
    "top_products_by_window": (
        ["window_days", "rank", "product_id", "sku", "name", "units", "revenue_cents"],
        "CREATE UNIQUE INDEX uq_top_products_by_window_window_days_rank",
        "(window_days, rank)",
    ),
}


def test_materialized_views(inspector: Any) -> None:
    assert sorted(inspector.get_materialized_view_names()) == sorted(VIEWS)


@pytest.mark.parametrize("view", VIEWS)
def test_view_columns_and_unique_index(engine: Engine, view: str) -> None:
    columns, index_start, index_end = VIEWS[view]
    assert [c["name"] for c in inspect(engine).get_columns(view)] == columns
    with engine.connect() as connection:
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = :view"), {"view": view}
        ).scalar_one()
    assert definition.startswith(index_start)
    assert definition.endswith(index_end)
