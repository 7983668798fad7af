"""The one place where errors become HTTP responses; none of them carries a stack trace.

- ``NotFound`` -> 404, ``Conflict`` and ``OutOfStock`` -> 409, with ``{"detail": message}``
  like FastAPI's own ``HTTPException`` responses.
- A database too busy to answer in time (the lock or statement timeout, no pooled connection
  within pool_timeout) -> 503 with ``Retry-After``: the request may succeed if sent again.
- A database the service cannot use (refused or timed-out connection, authentication
  failed, database missing or shutting down, connection lost) -> 503 with ``Retry-After``,
  on every endpoint; the cause goes to the log in one line, not to the client.
- Invalid input -> 422 with ``{"detail": [{"loc", "msg", "type"}, ...]}``: FastAPI's shape
  without ``input`` and ``ctx``, which echo what the client sent (a 50 MB body came back in
  a 53 MB 422); at most ``MAX_ERRORS`` errors, each string at most ``MAX_TEXT`` characters.
- Anything else -> 500 ``{"detail": "internal server error"}``; the server logs it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.db.errors import Conflict, DataAccessError, NotFound, OutOfStock

logger = logging.getLogger(__name__)

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
# SQLSTATEs of a database that cannot serve: classes 08 (connection exception) and 28
# (invalid authorization: authentication failed, role may not log in), a database that
# does not exist, too many connections, and a server shutting down or starting up.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "28")
UNAVAILABLE_SQLSTATES = frozenset({"3D000", "53300", "57P01", "57P02", "57P03"})
RETRY_AFTER_SECONDS = 1
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "the database is unavailable: try again later"


def service_unavailable(detail: str, retry_after: int = RETRY_AFTER_SECONDS) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": detail},
        headers={"Retry-After": str(retry_after)},
    )


def database_unavailable(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the database cannot be used at all, rather than that a statement
    failed: a SQLSTATE of that kind when the server gave one; else (libpq's own failures:
    refused, timed out, connection lost) an operational or interface error raised while
    connecting (SQLAlchemy gives no statement then) or that invalidated the connection."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return (
            sqlstate.startswith(UNAVAILABLE_SQLSTATE_CLASSES) or sqlstate in UNAVAILABLE_SQLSTATES
        )
    return isinstance(exc, OperationalError | InterfaceError) and (
        exc.statement is None or exc.connection_invalidated
    )


def describe(exc: DBAPIError) -> str:
    """One line for the log: the driver's error class and the first line of its message
    (libpq's messages name host, port, user and database, never the password)."""
    lines = str(exc.orig).strip().splitlines()
    return f"{type(exc.orig).__name__}: {lines[0] if lines else ''}"


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES:
        return service_unavailable("the database is busy (a lock or statement timeout): try again")
    if database_unavailable(exc):
        logger.warning("database unavailable: %s", describe(exc))
        return service_unavailable(UNAVAILABLE, UNAVAILABLE_RETRY_AFTER_SECONDS)
    # Any other is a server error: logged here (answered here, the connection serves on).
    logger.error("unexpected database error", exc_info=exc)
    return _internal_error()


async def _pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    return service_unavailable(
        "the service is busy (no database connection free in time): try again"
    )


MAX_ERRORS = 20
MAX_TEXT = 100


def _text(value: Any) -> Any:
    """A string of an error fit to send back: at most ``MAX_TEXT`` characters, a lone
    surrogate escaped (UTF-8 cannot encode it). Other values (list indexes) as they are."""
    if not isinstance(value, str):
        return value
    short = value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 3] + "..."
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [_text(part) for part in error.get("loc", ())],
            "msg": _text(error.get("msg", "")),
            "type": _text(error.get("type", "")),
        }
        for error in exc.errors()[:MAX_ERRORS]
    ]
    return JSONResponse(status_code=422, content={"detail": errors})


def _internal_error() -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal server error"},
    )


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's ServerErrorMiddleware sends this, then re-raises: the server logs it (and
    # closes the connection).
    return _internal_error()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DataAccessError, _data_access_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
