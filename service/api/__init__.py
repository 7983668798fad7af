"""The HTTP routes of the service, one router per aggregate."""

from fastapi import APIRouter, Depends

from service.api import catalog, customers, health, orders
from service.api.deps import storable_url_text

api_router = APIRouter(dependencies=[Depends(storable_url_text)])
api_router.include_router(health.router)
api_router.include_router(customers.router)
api_router.include_router(catalog.router)
api_router.include_router(orders.router)

__all__ = ["api_router"]
