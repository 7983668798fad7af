from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.api.deps import ReadSessionDep, SessionRoute
from service.api.errors import UNAVAILABLE_RETRY_AFTER_SECONDS
from service.db.health import ping

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"], route_class=SessionRoute)


class Health(BaseModel):
    status: str


@router.get("/health", responses={503: {"model": Health}})
def health(session: ReadSessionDep, response: Response) -> Health:
    """200 ``{"status": "ok"}`` after ``SELECT 1``; 503 when the database is unreachable."""
    try:
        ping(session=session)
    except (DBAPIError, PoolTimeout) as exc:
        logger.warning("health check failed: %s", type(exc).__name__)
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
        return Health(status="unavailable")
    return Health(status="ok")
