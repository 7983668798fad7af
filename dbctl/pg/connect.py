"""Connections with safe session settings, and the one place that resolves the database.

Every dbctl session is tagged ``application_name = dbctl`` so that its own statements can be
told apart in pg_stat_statements and pg_stat_activity. Connection failures become one-line
``ConnectionFailed`` errors with the password redacted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConnectionFailed
from dbctl.pg.url import libpq_url, normalize_url, redact

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import Engine

    from dbctl.config import Settings

APPLICATION_NAME = "dbctl"
CONNECT_TIMEOUT = 5
TAG = "/* dbctl */"  # leads every statement dbctl sends: top-queries leaves them out

Notify = Callable[[str], None]


def _reason(exc: BaseException) -> str:
    """The driver's own words on one line (SQLAlchemy wraps them in ``exc.orig``)."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    text = " ".join(lines).removeprefix("connection failed: ")
    return text.rstrip(".") or type(original).__name__


def connection_failed(url: str, exc: BaseException) -> ConnectionFailed:
    return ConnectionFailed(
        f"cannot connect to {redact(url)}: {_reason(exc)} "
        "(check that the server runs and that --database-url is right)"
    )


def tag(query: Any) -> Any:
    """``query`` led by dbctl's tag comment (str, bytes or a psycopg ``sql`` object)."""
    from psycopg import sql

    if isinstance(query, str):
        return query if query.startswith(TAG) else f"{TAG} {query}"
    if isinstance(query, bytes):
        prefix = TAG.encode()
        return query if query.startswith(prefix) else prefix + b" " + query
    if isinstance(query, sql.Composable):
        return sql.Composed([sql.SQL(TAG + " "), query])
    return query


@functools.cache
def tagged_cursor() -> type[Any]:
    """A psycopg cursor class that tags every statement it sends."""
    import psycopg

    class TaggedCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(tag(query), params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            return super().executemany(tag(query), params_seq, **kwargs)

    return TaggedCursor


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """A psycopg connection to ``url``: application_name ``dbctl``, every statement tagged
    ``/* dbctl */`` (pg_stat_statements keeps the comment), a bounded connect time."""
    import psycopg

    try:
        return psycopg.connect(
            libpq_url(url),
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT,
            application_name=APPLICATION_NAME,
            cursor_factory=tagged_cursor(),
        )
    except psycopg.OperationalError as exc:
        raise connection_failed(url, exc) from None


def create_engine(url: str) -> Engine:
    """A SQLAlchemy engine for one dbctl command: no pool kept, dbctl's application name."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.pool import NullPool

    return sa_create_engine(
        normalize_url(url),
        poolclass=NullPool,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": APPLICATION_NAME,
            "cursor_factory": tagged_cursor(),
        },
    )


def resolve_database_url(settings: Settings, notify: Notify | None = None) -> str:
    """The database the command works on: ``--database-url`` or else the sandbox.

    With no URL configured, the project's sandbox is started if needed and ``notify`` is
    told that the command is using it.
    """
    if settings.database_url:
        return settings.database_url
    from dbctl.pg.sandbox import Sandbox

    status = Sandbox(settings.state_path).start()
    assert status.url is not None
    if notify is not None:
        how = "started" if status.started else "running"
        notify(f"no --database-url given: using the sandbox ({how}) at {status.url}")
    return status.url
