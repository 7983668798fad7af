"""The one place where domain errors of the data-access layer become HTTP responses.

``NotFound`` -> 404, ``Conflict`` and ``OutOfStock`` -> 409, with ``{"detail": message}``
like FastAPI's own ``HTTPException`` responses.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DataAccessError, _data_access_error)
