"""The HTTP routes of the service, one router per aggregate."""

from fastapi import APIRouter

from service.api import catalog, customers, health, orders

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(customers.router)
api_router.include_router(catalog.router)
api_router.include_router(orders.router)

__all__ = ["api_router"]
