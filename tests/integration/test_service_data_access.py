"""The service's data-access functions against a real PostgreSQL, one rolled-back
transaction per test (``db_session``), each held to the query budget of its endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from service.db import Order, Product, catalog, customers, health, orders
from service.db.errors import Conflict, NotFound, OutOfStock
from service.schemas import (
    CategoryCreate,
    CustomerCreate,
    OrderCreate,
    OrderItemCreate,
    ProductCreate,
    ProductPublic,
)

pytestmark = pytest.mark.integration

# Savepoints come from the test's outer transaction, not from the code under test.
_FIXTURE_STATEMENTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """Collect the SQL statements the session sends while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(_FIXTURE_STATEMENTS):
            seen.append(statement)

    connection = session.get_bind()
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def category_id(db_session: Session) -> int:
    category_in = CategoryCreate(name=unique("cat"))
    return catalog.create_category(session=db_session, category_in=category_in).id


@pytest.fixture
def customer_id(db_session: Session) -> int:
    customer_in = CustomerCreate(email=f"{unique('c')}@example.com", name="Ann")
    return customers.create_customer(session=db_session, customer_in=customer_in).id


@pytest.fixture
def make_product(db_session: Session, category_id: int) -> Callable[..., ProductPublic]:
    def make(*, stock: int = 10, price_cents: int = 500) -> ProductPublic:
        product_in = ProductCreate(
            sku=unique("SKU"),
            name=unique("product"),
            category_id=category_id,
            price_cents=price_cents,
            stock=stock,
        )
        product = catalog.create_product(session=db_session, product_in=product_in)
        # A plain copy: the session expires ORM objects on commit and reloads them on access.
        return ProductPublic.model_validate(product)

    return make


def order_in(customer_id: int, *lines: tuple[int, int]) -> OrderCreate:
    items = [OrderItemCreate(product_id=pid, quantity=qty) for pid, qty in lines]
    return OrderCreate(customer_id=customer_id, items=items)


def stock_of(session: Session, *product_ids: int) -> list[int]:
    stmt = select(Product.stock).where(Product.id.in_(product_ids)).order_by(Product.id)
    return list(session.scalars(stmt))


def orders_of(session: Session, customer_id: int) -> int:
    stmt = select(Order.id).where(Order.customer_id == customer_id)
    return len(session.scalars(stmt).all())


def test_create_customer_is_one_insert(db_session: Session) -> None:
    email = f"{unique('Mixed')}@Example.COM"
    with statements(db_session) as seen:
        customer = customers.create_customer(
            session=db_session, customer_in=CustomerCreate(email=email, name=" Ann ")
        )
    assert len(seen) == 1 and seen[0].startswith("INSERT INTO customers")
    assert (customer.email, customer.name) == (email.lower(), "Ann")
    assert customer.id > 0 and customer.created_at is not None


def test_duplicate_email_is_a_conflict(db_session: Session) -> None:
    customer_in = CustomerCreate(email=f"{unique('dup')}@example.com", name="Ann")
    customers.create_customer(session=db_session, customer_in=customer_in)
    with pytest.raises(Conflict, match="exists"):
        customers.create_customer(session=db_session, customer_in=customer_in)
    # The session is usable after the conflict.
    assert db_session.execute(text("SELECT 1")).scalar_one() == 1


def test_duplicate_category_is_a_conflict(db_session: Session) -> None:
    category_in = CategoryCreate(name=unique("cat"))
    catalog.create_category(session=db_session, category_in=category_in)
    with pytest.raises(Conflict):
        catalog.create_category(session=db_session, category_in=category_in)


def test_create_product(db_session: Session, category_id: int) -> None:
    product_in = ProductCreate(
        sku=unique("SKU"), name="Ball", category_id=category_id, price_cents=250, stock=3
    )
    with statements(db_session) as seen:
        product = catalog.create_product(session=db_session, product_in=product_in)
    assert len(seen) == 1
    assert (product.sku, product.category_id, product.stock) == (product_in.sku, category_id, 3)
    with pytest.raises(Conflict, match="sku"):
        catalog.create_product(session=db_session, product_in=product_in)


def test_product_of_unknown_category_is_not_found(db_session: Session) -> None:
    product_in = ProductCreate(
        sku=unique("SKU"), name="x", category_id=2**62, price_cents=1, stock=1
    )
    with pytest.raises(NotFound, match="category"):
        catalog.create_product(session=db_session, product_in=product_in)


def test_list_products_keyset_pages(
    db_session: Session, category_id: int, make_product: Callable[..., ProductPublic]
) -> None:
    made = [make_product().id for _ in range(5)]
    pages: list[list[int]] = []
    after = None
    while True:
        with statements(db_session) as seen:
            page, after = catalog.list_products(
                session=db_session, category_id=category_id, after=after, limit=2
            )
        assert len(seen) == 1
        pages.append([p.id for p in page])
        if after is None:
            break
    assert pages == [made[0:2], made[2:4], made[4:]]


def test_list_products_without_category(
    db_session: Session, make_product: Callable[..., ProductPublic]
) -> None:
    first, second = make_product().id, make_product().id
    page, next_after = catalog.list_products(session=db_session, after=first - 1, limit=1)
    assert [p.id for p in page] == [first]
    assert next_after == first
    page, _ = catalog.list_products(session=db_session, after=next_after, limit=1)
    assert [p.id for p in page] == [second]


def test_create_order_in_three_statements(
    db_session: Session, customer_id: int, make_product: Callable[..., ProductPublic]
) -> None:
    ball, kite = make_product(stock=5, price_cents=250), make_product(stock=2, price_cents=1000)
    with statements(db_session) as seen:
        order = orders.create_order(
            session=db_session, order_in=order_in(customer_id, (kite.id, 2), (ball.id, 3))
        )
    assert len(seen) == 3
    assert "FOR UPDATE" in seen[0] and seen[1].startswith("UPDATE products")
    assert seen[2].lstrip().startswith("WITH")
    assert (order.customer_id, order.status) == (customer_id, "placed")
    assert (order.total_cents, order.item_count) == (3 * 250 + 2 * 1000, 5)
    assert [
        (i.product_id, i.product_name, i.quantity, i.unit_price_cents) for i in order.items
    ] == [
        (ball.id, ball.name, 3, 250),
        (kite.id, kite.name, 2, 1000),
    ]
    assert stock_of(db_session, ball.id, kite.id) == [2, 0]


def test_get_order_is_one_query(
    db_session: Session, customer_id: int, make_product: Callable[..., ProductPublic]
) -> None:
    product = make_product()
    created = orders.create_order(
        session=db_session, order_in=order_in(customer_id, (product.id, 1))
    )
    with statements(db_session) as seen:
        fetched = orders.get_order(session=db_session, order_id=created.id)
    assert len(seen) == 1
    assert fetched == created
    with pytest.raises(NotFound, match="order"):
        orders.get_order(session=db_session, order_id=2**62)


def test_out_of_stock_writes_nothing(
    db_session: Session, customer_id: int, make_product: Callable[..., ProductPublic]
) -> None:
    plenty, scarce = make_product(stock=10), make_product(stock=1)
    with statements(db_session) as seen, pytest.raises(OutOfStock) as raised:
        orders.create_order(
            session=db_session, order_in=order_in(customer_id, (plenty.id, 1), (scarce.id, 2))
        )
    assert len(seen) == 1
    assert raised.value.shortages == {scarce.id: (2, 1)}
    assert stock_of(db_session, plenty.id, scarce.id) == [10, 1]
    assert orders_of(db_session, customer_id) == 0


def test_unknown_product_is_not_found(
    db_session: Session, customer_id: int, make_product: Callable[..., ProductPublic]
) -> None:
    product = make_product(stock=4)
    with pytest.raises(NotFound) as raised:
        orders.create_order(
            session=db_session, order_in=order_in(customer_id, (product.id, 1), (2**62, 1))
        )
    assert (raised.value.entity, raised.value.ids) == ("product", [2**62])
    assert stock_of(db_session, product.id) == [4]


def test_unknown_customer_is_not_found_and_stock_is_kept(
    db_session: Session, make_product: Callable[..., ProductPublic]
) -> None:
    product = make_product(stock=4)
    with statements(db_session) as seen, pytest.raises(NotFound, match="customer"):
        orders.create_order(session=db_session, order_in=order_in(2**62, (product.id, 1)))
    assert len(seen) == 3
    assert stock_of(db_session, product.id) == [4]


def test_recent_orders_newest_first_in_one_query(
    db_session: Session, customer_id: int, make_product: Callable[..., ProductPublic]
) -> None:
    product = make_product(stock=10)
    placed = [
        orders.create_order(session=db_session, order_in=order_in(customer_id, (product.id, 1))).id
        for _ in range(3)
    ]
    with statements(db_session) as seen:
        recent = customers.list_recent_orders(session=db_session, customer_id=customer_id, limit=2)
    assert len(seen) == 1
    # Orders of one transaction share created_at (now()); the id breaks the tie.
    assert [o.id for o in recent] == placed[::-1][:2]


def test_recent_orders_of_a_customer_without_orders(db_session: Session, customer_id: int) -> None:
    assert customers.list_recent_orders(session=db_session, customer_id=customer_id, limit=5) == []


def test_recent_orders_of_an_unknown_customer(db_session: Session) -> None:
    with statements(db_session) as seen, pytest.raises(NotFound, match="customer"):
        customers.list_recent_orders(session=db_session, customer_id=2**62, limit=5)
    assert len(seen) == 1


def test_ping(db_session: Session) -> None:
    with statements(db_session) as seen:
        health.ping(session=db_session)
    assert seen == ["SELECT 1"]
