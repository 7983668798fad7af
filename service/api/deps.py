"""Dependencies shared by the routers, and the route class that ends their sessions.

A sync endpoint runs on a thread of the server's pool; FastAPI then validates its return
value on another thread of the same pool, and runs the dependencies' clean-up after that.
A session that held its connection across those hops could deadlock the server under load:
every thread blocked waiting for a pooled connection, and the requests holding the
connections waiting for a thread to finish on. ``SessionRoute`` therefore closes the
endpoint's session on the endpoint's own thread, as it returns: the connection goes back to
the pool before the thread is given up. Objects it returns stay readable (loaded columns;
``expire_on_commit=False``); a relationship left unloaded fails loudly rather than running a
hidden query while the response is serialised.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import Session

from service.db.engine import get_read_session, get_session
from service.schemas.common import storable_text

SessionDep = Annotated[Session, Depends(get_session)]
# For an endpoint that reads with one statement: no transaction around it (autocommit).
ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def _closing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, Session):
                    value.close()

    # The endpoint's signature with its annotations evaluated (the modules use postponed
    # annotations): FastAPI reads its parameters from it whatever its version.
    run.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    return run


class SessionRoute(APIRoute):
    """An ``APIRoute`` whose sync endpoint closes its ``Session`` on its own thread.

    Two things it cannot guard, so do neither: a sync sub-dependency that queries with the
    session (its connection would be held across the thread hop to the endpoint), and an
    ``async def`` endpoint that takes a ``SessionDep`` (its queries would block the event
    loop; an async endpoint wants an ``AsyncSession``).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(inspect.unwrap(endpoint)):
            endpoint = _closing_sessions(endpoint)
        super().__init__(path, endpoint, **kwargs)


async def storable_url_text(request: Request) -> None:
    """Router dependency: a path or query parameter, declared or not, holding a NUL (or a
    lone surrogate) is a 422 naming it, before any parameter is converted. PostgreSQL's text
    cannot hold one and no URL of this API has a use for one. (The server decodes invalid
    UTF-8 in a URL to U+FFFD, so a surrogate cannot come from there today.)"""
    path, query = request.path_params.items(), request.query_params.multi_items()
    for where, items in (("path", path), ("query", query)):
        for name, value in items:
            try:
                storable_text(name)
                storable_text(value)
            except PydanticCustomError as exc:
                error = {"loc": (where, name), "msg": exc.message(), "type": exc.type}
                raise RequestValidationError([error]) from None
