"""Data access for customers and their order history."""

from __future__ import annotations

from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from service.db.errors import Conflict, NotFound, violated_constraint
from service.db.models import Customer, Order
from service.schemas import CustomerCreate


def create_customer(*, session: Session, customer_in: CustomerCreate) -> Customer:
    """Insert a customer (one INSERT ... RETURNING). A taken email raises ``Conflict``."""
    customer = Customer(email=customer_in.email, name=customer_in.name)
    session.add(customer)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if violated_constraint(exc) == "uq_customers_email":
            raise Conflict(f"a customer with email {customer_in.email!r} exists") from None
        raise
    session.commit()
    return customer


def list_recent_orders(*, session: Session, customer_id: int, limit: int) -> list[Order]:
    """The customer's latest orders, newest first, in one query.

    ``customers LEFT JOIN LATERAL (latest orders)`` tells an unknown customer (no row:
    ``NotFound``) from one without orders (a single row with no order). The lateral subquery
    walks ``ix_orders_customer_id_orders_created_at_orders_id`` backwards from the newest.
    """
    latest = (
        select(Order)
        .where(Order.customer_id == Customer.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .lateral("latest")
    )
    order = aliased(Order, latest)
    stmt = (
        select(Customer.id, order)
        .select_from(Customer)
        .outerjoin(order, true())
        .where(Customer.id == customer_id)
    )
    rows = session.execute(stmt).all()
    if not rows:
        raise NotFound("customer", customer_id)
    return [row[1] for row in rows if row[1] is not None]
