"""Orders and their items."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.schemas.common import Id

MAX_ITEMS = 100


class OrderItemCreate(BaseModel):
    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=10_000)]


class OrderCreate(BaseModel):
    """An order: each product at most once (a repeated product_id is a 422, not merged)."""

    customer_id: Id
    items: Annotated[list[OrderItemCreate], Field(min_length=1, max_length=MAX_ITEMS)]

    @field_validator("items")
    @classmethod
    def _distinct_products(cls, items: list[OrderItemCreate]) -> list[OrderItemCreate]:
        counts = Counter(item.product_id for item in items)
        repeated = sorted(pid for pid, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(f"each product may appear once; repeated product_id: {repeated}")
        return items


class OrderItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    product_name: str
    quantity: int
    unit_price_cents: int


class OrderSummaryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    status: str
    total_cents: int
    item_count: int = Field(description="units in the order (sum of the quantities)")
    created_at: datetime


class OrderPublic(OrderSummaryPublic):
    items: list[OrderItemPublic]


class OrdersPublic(BaseModel):
    data: list[OrderSummaryPublic]
