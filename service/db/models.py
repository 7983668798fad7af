"""The shop's tables, as SQLAlchemy 2 typed models.

Every table has a primary key, every foreign key is declared, and every join and hot filter
has an index whose leading columns serve it (each index notes the query it is for). The
constraint and index names come from the naming convention on ``Base.metadata``, so the
models, the migrations and ``dbctl verify-schema`` agree on them.

Not in ``Base.metadata``: the materialized views ``product_sales_daily`` (migration 0002) and
``top_products_by_window`` (migration 0003), refreshed by ``service.jobs``. Alembic's
autogenerate ignores views, so they are described here only as lightweight ``table()``s for
queries; change them in a migration, never here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    column,
    func,
    table,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_STATUSES = ("placed", "paid", "shipped", "cancelled")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created_at()


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_cents_nonnegative"),
        CheckConstraint("stock >= 0", name="stock_nonnegative"),
        # GET /products?category_id=&after=: WHERE category_id = ? AND id > ? ORDER BY id.
        # Its leading column also serves the foreign key to categories.
        Index(None, "category_id", "id"),
    )

    id: Mapped[int] = _id()
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("categories.id"))
    price_cents: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ORDER_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint("total_cents >= 0", name="total_cents_nonnegative"),
        CheckConstraint("item_count > 0", name="item_count_positive"),
    )

    id: Mapped[int] = _id()
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(20), server_default="placed")
    # Denormalised from order_items so that order lists need no join and no aggregate.
    total_cents: Mapped[int] = mapped_column(BigInteger)
    item_count: Mapped[int] = mapped_column(Integer)  # units, not lines
    # The refresh of product_sales_daily reads the last days of orders by created_at.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


# GET /customers/{id}/orders: WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT n.
# Its leading column also serves the foreign key to customers.
Index(None, Order.customer_id, Order.created_at.desc(), Order.id.desc())


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 0", name="unit_price_cents_nonnegative"),
    )

    # The primary key leads with order_id: it serves the join from orders.
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    # Its own index serves the join from products (and the foreign key).
    product_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("products.id"), primary_key=True, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)


# The materialized view of migration 0002 (not part of Base.metadata; see the module doc).
product_sales_daily = table(
    "product_sales_daily",
    column("day", Date),
    column("product_id", BigInteger),
    column("units", BigInteger),
    column("revenue_cents", BigInteger),
)

# The materialized view of migration 0003: the top 100 products of every window of 1..90 days,
# sku and name copied from products at refresh time.
top_products_by_window = table(
    "top_products_by_window",
    column("window_days", Integer),
    column("rank", Integer),
    column("product_id", BigInteger),
    column("sku", String(64)),
    column("name", String(200)),
    column("units", BigInteger),
    column("revenue_cents", BigInteger),
)

__all__ = [
    "ORDER_STATUSES",
    "Base",
    "Category",
    "Customer",
    "Order",
    "OrderItem",
    "Product",
    "product_sales_daily",
    "top_products_by_window",
]
