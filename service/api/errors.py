"""The one place where domain errors of the data-access layer become HTTP responses.

``NotFound`` -> 404, ``Conflict`` and ``OutOfStock`` -> 409, with ``{"detail": message}``
like FastAPI's own ``HTTPException`` responses. A database too busy to answer in time (the
lock or statement timeout, no pooled connection within pool_timeout) -> 503 with
``Retry-After``: the request may succeed if sent again.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.db.errors import Conflict, DataAccessError, NotFound, OutOfStock

STATUS_CODES: dict[type[DataAccessError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    OutOfStock: status.HTTP_409_CONFLICT,
}


async def _data_access_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (code for kind, code in STATUS_CODES.items() if isinstance(exc, kind)),
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    return JSONResponse(status_code=code, content={"detail": str(exc)})


# SQLSTATEs of a statement that gave up waiting: lock_not_available, query_canceled.
BUSY_SQLSTATES = frozenset({"55P03", "57014"})
RETRY_AFTER_SECONDS = 1


def _busy(detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": detail},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _operational_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES:
        return _busy("the database is busy (a lock or statement timeout): try again")
    raise exc  # anything else is a server error, left to the default handler


async def _pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    return _busy("the service is busy (no database connection free in time): try again")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DataAccessError, _data_access_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
