"""The service's tables (``Base.metadata`` is what Alembic and dbctl compare against).

Data access lives next to the models, one module per aggregate: ``customers``, ``catalog``
(categories, products, top products) and ``orders``. Their functions take keyword
arguments and an explicit ``session`` and raise the domain errors of ``errors``.
"""

from service.db.models import (
    Base,
    Category,
    Customer,
    Order,
    OrderItem,
    Product,
    product_sales_daily,
    top_products_by_window,
)

__all__ = [
    "Base",
    "Category",
    "Customer",
    "Order",
    "OrderItem",
    "Product",
    "product_sales_daily",
    "top_products_by_window",
]
