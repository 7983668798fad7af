from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from service.api.deps import ReadSessionDep, SessionDep, SessionRoute
from service.db import customers
from service.schemas import CustomerCreate, CustomerPublic, OrdersPublic, OrderSummaryPublic
from service.schemas.common import BIGINT_MAX

router = APIRouter(prefix="/customers", tags=["customers"], route_class=SessionRoute)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_customer(session: SessionDep, customer_in: CustomerCreate) -> CustomerPublic:
    """Create a customer. 409 when the email is taken. 1 query."""
    customer = customers.create_customer(session=session, customer_in=customer_in)
    return CustomerPublic.model_validate(customer)


@router.get("/{customer_id}/orders")
def list_customer_orders(
    session: ReadSessionDep,
    customer_id: Annotated[int, Path(gt=0, le=BIGINT_MAX)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> OrdersPublic:
    """The customer's most recent orders, newest first. 404 for an unknown customer. 1 query."""
    orders = customers.list_recent_orders(session=session, customer_id=customer_id, limit=limit)
    return OrdersPublic(data=[OrderSummaryPublic.model_validate(o) for o in orders])
