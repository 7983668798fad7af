"""The top-products read model: the materialized views, their refresh and the one-query read.

``refresh_top_products`` refreshes ``product_sales_daily`` then ``top_products_by_window``;
``top_products`` looks the ranking up by (window_days, rank). Each test runs in a
transaction that is rolled back, the refreshes included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from service.db import Order, OrderItem, Product, catalog, customers, orders
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


def backdate(session: Session, order_id: int, days_ago: int) -> None:
    """Move an order to noon (UTC) of the UTC day ``days_ago`` days before today."""
    session.execute(
        text(
            "UPDATE orders SET created_at = "
            "  (((now() AT TIME ZONE 'UTC')::date - :days) + time '12:00') AT TIME ZONE 'UTC' "
            "WHERE id = :id"
        ),
        {"days": days_ago, "id": order_id},
    )


def top(
    session: Session, shop: dict[str, int], days: int, limit: int = 100
) -> list[tuple[str, int, int]]:
    """(name, units, revenue) of the shop's products among the top ``limit``."""
    mine = {shop["a"], shop["b"], shop["c"]}
    rows = catalog.top_products(session=session, days=days, limit=limit)
    return [(r.name, r.units, r.revenue_cents) for r in rows if r.product_id in mine]


def test_refresh_then_top_products_in_one_query(db_session: Session, shop: dict[str, int]) -> None:
    place(db_session, shop["customer"], (shop["a"], 1), (shop["b"], 2))
    place(db_session, shop["customer"], (shop["b"], 3), (shop["c"], 1))
    assert top(db_session, shop, days=7) == []  # not refreshed yet

    with statements(db_session) as seen:
        catalog.refresh_top_products(session=db_session)
    assert seen == [
        "REFRESH MATERIALIZED VIEW CONCURRENTLY product_sales_daily",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY top_products_by_window",
    ]

    with statements(db_session) as seen:
        ranked = top(db_session, shop, days=7)
    assert len(seen) == 1
    assert "top_products_by_window" in seen[0] and "product_sales_daily" not in seen[0]
    assert ranked == [("b", 5, 1000), ("a", 1, 100), ("c", 1, 300)]  # a, c tied: by id


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


def test_every_window_from_1_to_90_days(db_session: Session, shop: dict[str, int]) -> None:
    # A window of n days holds the UTC days today - n + 1 .. today.
    place(db_session, shop["customer"], (shop["a"], 1))  # today
    backdate(db_session, place(db_session, shop["customer"], (shop["b"], 2)), 10)
    backdate(db_session, place(db_session, shop["customer"], (shop["c"], 4)), 89)
    backdate(db_session, place(db_session, shop["customer"], (shop["a"], 8)), 90)  # too old
    catalog.refresh_top_products(session=db_session)

    assert top(db_session, shop, days=1) == [("a", 1, 100)]
    assert top(db_session, shop, days=10) == [("a", 1, 100)]
    assert top(db_session, shop, days=11) == [("b", 2, 400), ("a", 1, 100)]
    assert top(db_session, shop, days=89) == [("b", 2, 400), ("a", 1, 100)]
    assert top(db_session, shop, days=90) == [("c", 4, 1200), ("b", 2, 400), ("a", 1, 100)]
    windows = db_session.execute(
        text("SELECT min(window_days), max(window_days) FROM top_products_by_window")
    ).one()
    assert tuple(windows) == (1, catalog.SALES_WINDOW_DAYS)


def test_ties_rank_by_product_id(db_session: Session, shop: dict[str, int]) -> None:
    # The same units, c with the most revenue: revenue does not break a tie, the id does.
    place(db_session, shop["customer"], (shop["c"], 3), (shop["b"], 3), (shop["a"], 3))
    catalog.refresh_top_products(session=db_session)

    assert top(db_session, shop, days=7) == [("a", 3, 300), ("b", 3, 600), ("c", 3, 900)]
    # A second sale of c puts it first; the refresh applies the change to the ranking.
    place(db_session, shop["customer"], (shop["c"], 1))
    catalog.refresh_top_products(session=db_session)
    assert top(db_session, shop, days=7) == [("c", 4, 1200), ("a", 3, 300), ("b", 3, 600)]


def test_limit(db_session: Session, shop: dict[str, int]) -> None:
    place(db_session, shop["customer"], (shop["a"], 1), (shop["b"], 2), (shop["c"], 3))
    catalog.refresh_top_products(session=db_session)
    rows = catalog.top_products(session=db_session, days=1, limit=1)
    assert len(rows) == 1


def test_the_view_keeps_the_top_products_limit(db_session: Session, shop: dict[str, int]) -> None:
    """One more best seller than the endpoint's largest limit: the least of them is cut."""
    many = catalog.TOP_PRODUCTS_LIMIT + 1
    products = [
        Product(
            sku=f"many-{shop['a']}-{n}",
            name=f"many {n}",
            category_id=shop["category"],
            price_cents=1,
            stock=1,
        )
        for n in range(many)
    ]
    db_session.add_all(products)
    db_session.flush()
    # Far more units than anything else: product n sells 100_000 + n, the last one most.
    quantities = [100_000 + n for n in range(many)]
    order = Order(
        customer_id=shop["customer"], total_cents=sum(quantities), item_count=sum(quantities)
    )
    db_session.add(order)
    db_session.flush()
    db_session.add_all(
        OrderItem(order_id=order.id, product_id=p.id, quantity=q, unit_price_cents=1)
        for p, q in zip(products, quantities, strict=True)
    )
    db_session.flush()
    catalog.refresh_top_products(session=db_session)

    rows = catalog.top_products(session=db_session, days=1, limit=catalog.TOP_PRODUCTS_LIMIT)
    assert [r.product_id for r in rows] == [p.id for p in reversed(products)][:-1]
    assert [r.units for r in rows[:2]] == [100_000 + many - 1, 100_000 + many - 2]
    per_window = db_session.execute(
        text(
            "SELECT count(DISTINCT window_days), min(n), max(n), max(top) FROM ("
            "  SELECT window_days, count(*) AS n, max(rank) AS top"
            "  FROM top_products_by_window GROUP BY window_days) AS w"
        )
    ).one()
    limit = catalog.TOP_PRODUCTS_LIMIT
    assert tuple(per_window) == (catalog.SALES_WINDOW_DAYS, limit, limit, limit)


def test_sku_and_name_are_copied_at_refresh(db_session: Session, shop: dict[str, int]) -> None:
    place(db_session, shop["customer"], (shop["a"], 2))
    catalog.refresh_top_products(session=db_session)
    db_session.execute(text("UPDATE products SET name = 'a2' WHERE id = :id"), {"id": shop["a"]})

    assert top(db_session, shop, days=1) == [("a", 2, 200)]  # as of the last refresh
    catalog.refresh_top_products(session=db_session)
    assert top(db_session, shop, days=1) == [("a2", 2, 200)]
