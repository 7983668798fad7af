from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from service.api.deps import ReadSessionDep, SessionDep, SessionRoute
from service.db import orders
from service.schemas import OrderCreate, OrderPublic
from service.schemas.common import BIGINT_MAX

router = APIRouter(prefix="/orders", tags=["orders"], route_class=SessionRoute)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_order(session: SessionDep, order_in: OrderCreate) -> OrderPublic:
    """Place an order: 404 for an unknown customer or product, 409 when out of stock.

    One transaction, 3 queries; a failed order writes nothing.
    """
    return orders.create_order(session=session, order_in=order_in)


@router.get("/{order_id}")
def get_order(
    session: ReadSessionDep, order_id: Annotated[int, Path(gt=0, le=BIGINT_MAX)]
) -> OrderPublic:
    """An order with its items and their product names. 404 when unknown. 1 query."""
    return orders.get_order(session=session, order_id=order_id)
