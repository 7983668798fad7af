"""Pydantic shapes of the API: ``XCreate`` in, ``XPublic`` out, ``XsPublic`` for lists."""

from service.schemas.catalog import (
    CategoryCreate,
    CategoryPublic,
    ProductCreate,
    ProductPublic,
    ProductsPublic,
    TopProductPublic,
    TopProductsPublic,
)
from service.schemas.customers import CustomerCreate, CustomerPublic
from service.schemas.orders import (
    OrderCreate,
    OrderItemCreate,
    OrderItemPublic,
    OrderPublic,
    OrdersPublic,
    OrderSummaryPublic,
)

__all__ = [
    "CategoryCreate",
    "CategoryPublic",
    "CustomerCreate",
    "CustomerPublic",
    "OrderCreate",
    "OrderItemCreate",
    "OrderItemPublic",
    "OrderPublic",
    "OrderSummaryPublic",
    "OrdersPublic",
    "ProductCreate",
    "ProductPublic",
    "ProductsPublic",
    "TopProductPublic",
    "TopProductsPublic",
]
