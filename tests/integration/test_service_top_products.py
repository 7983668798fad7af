"""The top-products read model: the materialized view, its refresh and its one-query read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from service.db import catalog, customers, orders
from service.schemas import (
    CategoryCreate,
    CustomerCreate,
    OrderCreate,
    OrderItemCreate,
    ProductCreate,
)

pytestmark = pytest.mark.integration


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "SAVEPOINT" not in statement:  # the test's outer transaction, not the code
            seen.append(statement)

    connection = session.get_bind()
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


@pytest.fixture
def shop(db_session: Session) -> dict[str, int]:
    """A customer and three products (price 100, 200, 300 cents), ids by name."""
    tag = uuid.uuid4().hex[:10]
    category = catalog.create_category(session=db_session, category_in=CategoryCreate(name=tag))
    ids = {"category": category.id}
    for n, name in enumerate(["a", "b", "c"], start=1):
        product_in = ProductCreate(
            sku=f"{name}-{tag}",
            name=name,
            category_id=ids["category"],
            price_cents=100 * n,
            stock=100,
        )
        ids[name] = catalog.create_product(session=db_session, product_in=product_in).id
    customer_in = CustomerCreate(email=f"{tag}@example.com", name="Top")
    ids["customer"] = customers.create_customer(session=db_session, customer_in=customer_in).id
    return ids


def place(session: Session, customer_id: int, *lines: tuple[int, int]) -> int:
    items = [OrderItemCreate(product_id=pid, quantity=qty) for pid, qty in lines]
    order_in = OrderCreate(customer_id=customer_id, items=items)
    return orders.create_order(session=session, order_in=order_in).id


def top(session: Session, shop: dict[str, int], days: int) -> list[tuple[str, int, int]]:
    """(name, units, revenue) of the shop's products among the top 100."""
    mine = {shop["a"], shop["b"], shop["c"]}
    rows = catalog.top_products(session=session, days=days, limit=100)
    return [(r.name, r.units, r.revenue_cents) for r in rows if r.product_id in mine]


def test_refresh_then_top_products_in_one_query(db_session: Session, shop: dict[str, int]) -> None:
    place(db_session, shop["customer"], (shop["a"], 1), (shop["b"], 2))
    place(db_session, shop["customer"], (shop["b"], 3), (shop["c"], 1))
    assert top(db_session, shop, days=7) == []  # not refreshed yet

    with statements(db_session) as seen:
        catalog.refresh_top_products(session=db_session)
    assert seen == ["REFRESH MATERIALIZED VIEW CONCURRENTLY product_sales_daily"]

    with statements(db_session) as seen:
        ranked = top(db_session, shop, days=7)
    assert len(seen) == 1
    assert ranked == [("b", 5, 1000), ("a", 1, 100), ("c", 1, 300)]


def test_days_window_and_cancelled_orders(db_session: Session, shop: dict[str, int]) -> None:
    old = place(db_session, shop["customer"], (shop["a"], 4))
    cancelled = place(db_session, shop["customer"], (shop["b"], 2))
    place(db_session, shop["customer"], (shop["c"], 1))
    db_session.execute(
        text("UPDATE orders SET created_at = now() - interval '10 days' WHERE id = :id"),
        {"id": old},
    )
    db_session.execute(
        text("UPDATE orders SET status = 'cancelled' WHERE id = :id"), {"id": cancelled}
    )
    catalog.refresh_top_products(session=db_session, concurrently=False)

    assert top(db_session, shop, days=7) == [("c", 1, 300)]
    assert top(db_session, shop, days=30) == [("a", 4, 400), ("c", 1, 300)]


def test_limit(db_session: Session, shop: dict[str, int]) -> None:
    place(db_session, shop["customer"], (shop["a"], 1), (shop["b"], 2), (shop["c"], 3))
    catalog.refresh_top_products(session=db_session)
    rows = catalog.top_products(session=db_session, days=1, limit=1)
    assert len(rows) == 1
