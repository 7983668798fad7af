"""Data access for categories, products and the top-products read model."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.errors import Conflict, NotFound, violated_constraint
from service.db.models import Category, Product, top_products_by_window
from service.schemas import CategoryCreate, ProductCreate

# The windows and the ranking precomputed by migration 0003 (top_products_by_window):
# windows of 1..SALES_WINDOW_DAYS days (all that product_sales_daily keeps, see 0002), the
# best TOP_PRODUCTS_LIMIT products of each. /products/top may ask for no more than these;
# changing them takes a new revision of the view.
SALES_WINDOW_DAYS = 90
TOP_PRODUCTS_LIMIT = 100
# Refreshed in this order: the second view is built from the first.
TOP_PRODUCTS_VIEWS = ("product_sales_daily", "top_products_by_window")


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


def top_products(
    *, session: Session, days: int, limit: int
) -> Sequence[Row[int, str, str, int, int]]:
    """The best-selling products of the last ``days`` days (UTC), one indexed query.

    Reads the precomputed ranking ``top_products_by_window`` (migration 0003): the rows
    ``window_days = days AND rank <= limit``, one range scan of its unique index
    (window_days, rank), no join (sku and name are in the view). ``days`` is at most
    ``SALES_WINDOW_DAYS`` and ``limit`` at most ``TOP_PRODUCTS_LIMIT``, the most the view
    holds. The figures, sku and name are as of the last ``refresh_top_products``, and the
    window ends on the UTC day of that refresh. Rows: product_id, sku, name, units,
    revenue_cents; units descending, ties by product_id.
    """
    top = top_products_by_window.c
    stmt = (
        select(top.product_id, top.sku, top.name, top.units, top.revenue_cents)
        .where(top.window_days == days, top.rank <= limit)
        .order_by(top.rank)
    )
    return session.execute(stmt).all()


def refresh_top_products(*, session: Session, concurrently: bool = True) -> None:
    """Recompute the top-products read model from orders and order_items, and commit.

    Refreshes ``product_sales_daily`` (migration 0002), then ``top_products_by_window``
    (migration 0003), which is built from it, in one transaction: readers see both change
    together at the commit. This is the refresh path of ``GET /products/top``: run it from
    cron with ``python -m service.jobs refresh-top-products`` (every few minutes is plenty).
    ``CONCURRENTLY`` (the default) keeps the views readable while they refresh; it needs
    each view's unique index and populated views, which the migrations provide.
    """
    mode = "CONCURRENTLY " if concurrently else ""
    for view in TOP_PRODUCTS_VIEWS:
        session.execute(text(f"REFRESH MATERIALIZED VIEW {mode}{view}"))
    session.commit()
