"""Categories and products."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.schemas.common import Cents, Id, Name, PgText

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=SKU_PATTERN), PgText
]


class CategoryCreate(BaseModel):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), PgText
    ]


class CategoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    name: str


class ProductCreate(BaseModel):
    sku: Sku
    name: Name
    category_id: Id
    price_cents: Cents
    stock: Annotated[int, Field(ge=0, le=1_000_000_000)]


class ProductPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    sku: str
    name: str
    category_id: int
    price_cents: int
    stock: int
    created_at: datetime


class ProductsPublic(BaseModel):
    """One page of products; pass ``next_after`` as ``after`` for the next (null: no more)."""

    data: list[ProductPublic]
    next_after: int | None


class TopProductPublic(BaseModel):
    product_id: int
    sku: str
    name: str
    units: int
    revenue_cents: int


class TopProductsPublic(BaseModel):
    days: int
    data: list[TopProductPublic]
