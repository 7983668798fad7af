"""Data access for categories, products and the top-products read model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Date, Row, cast, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.errors import Conflict, NotFound, violated_constraint
from service.db.models import Category, Product, product_sales_daily
from service.schemas import CategoryCreate, ProductCreate

# product_sales_daily keeps this many days (see migration 0002); /products/top reads within it.
SALES_WINDOW_DAYS = 90


def create_category(*, session: Session, category_in: CategoryCreate) -> Category:
    """Insert a category (one INSERT ... RETURNING). A taken name raises ``Conflict``."""
    category = Category(name=category_in.name)
    session.add(category)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if violated_constraint(exc) == "uq_categories_name":
            raise Conflict(f"a category named {category_in.name!r} exists") from None
        raise
    session.commit()
    return category


def create_product(*, session: Session, product_in: ProductCreate) -> Product:
    """Insert a product (one INSERT ... RETURNING).

    An unknown category raises ``NotFound`` (from the foreign key, no SELECT first);
    a taken SKU raises ``Conflict``.
    """
    product = Product(**product_in.model_dump())
    session.add(product)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        constraint = violated_constraint(exc)
        if constraint == "fk_products_category_id_categories":
            raise NotFound("category", product_in.category_id) from None
        if constraint == "uq_products_sku":
            raise Conflict(f"a product with sku {product_in.sku!r} exists") from None
        raise
    session.commit()
    return product


def list_products(
    *, session: Session, category_id: int | None = None, after: int | None = None, limit: int
) -> tuple[list[Product], int | None]:
    """One page of products by id (keyset pagination), and the cursor of the next page.

    One query: it fetches ``limit + 1`` rows to know whether a next page exists. Filtered by
    category it walks ``ix_products_category_id_products_id``, else the primary key.
    """
    stmt = select(Product).order_by(Product.id).limit(limit + 1)
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if after is not None:
        stmt = stmt.where(Product.id > after)
    products = list(session.scalars(stmt))
    if len(products) > limit:
        return products[:limit], products[limit - 1].id
    return products, None


def top_products(*, session: Session, days: int, limit: int) -> Sequence[Row[Any]]:
    """The best-selling products of the last ``days`` days (UTC, today included), one query.

    Reads the materialized view ``product_sales_daily`` (its unique index leads with ``day``)
    and joins the few winners to ``products``. The figures are as fresh as the last
    ``refresh_top_products``. Rows: product_id, sku, name, units, revenue_cents.
    """
    sales = product_sales_daily.c
    today = cast(func.timezone("UTC", func.now()), Date)
    totals = (
        select(
            sales.product_id,
            cast(func.sum(sales.units), BigInteger).label("units"),
            cast(func.sum(sales.revenue_cents), BigInteger).label("revenue_cents"),
        )
        .where(sales.day > today - days)
        .group_by(sales.product_id)
        .order_by(func.sum(sales.units).desc(), sales.product_id)
        .limit(limit)
        .subquery("totals")
    )
    stmt = (
        select(
            Product.id.label("product_id"),
            Product.sku,
            Product.name,
            totals.c.units,
            totals.c.revenue_cents,
        )
        .join_from(totals, Product, Product.id == totals.c.product_id)
        .order_by(totals.c.units.desc(), Product.id)
    )
    return session.execute(stmt).all()


def refresh_top_products(*, session: Session, concurrently: bool = True) -> None:
    """Recompute ``product_sales_daily`` from orders and order_items, and commit.

    This is the refresh path of the top-products read model: run it from cron with
    ``python -m service.jobs refresh-top-products`` (every few minutes is plenty; the view
    covers the last 90 days). ``CONCURRENTLY`` (the default) keeps the view readable while
    it refreshes; it needs the view's unique index and a populated view, which migration
    0002 provides.
    """
    mode = "CONCURRENTLY " if concurrently else ""
    session.execute(text(f"REFRESH MATERIALIZED VIEW {mode}product_sales_daily"))
    session.commit()
