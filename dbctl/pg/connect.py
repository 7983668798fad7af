"""Connections with safe session settings, and the one place that resolves the database.

Every dbctl session is tagged ``application_name = dbctl`` so that its own statements can be
told apart in pg_stat_statements and pg_stat_activity. Connection failures become one-line
``ConnectionFailed`` errors with the password redacted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConfigError, ConnectionFailed
from dbctl.pg.url import driver, libpq_url, migration_url, normalize_url, redact, scrub

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
    return scrub(text.rstrip(".")) or type(original).__name__


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
    except psycopg.ProgrammingError as exc:  # libpq refuses the connection string itself
        raise ConfigError(f"libpq refuses the database URL {redact(url)}: {_reason(exc)}") from None


# Marks the pool records of dbctl's own engines (psycopg 3: its reads, scratch databases):
# the checks that hold the project's code to one database (``lifecycle.handoff``) leave
# them alone. Set when the DBAPI connection is made, before any pool event fires.
INTERNAL = "dbctl_internal"


def _mark_internal(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
    record.info[INTERNAL] = True


def create_engine(url: str) -> Engine:
    """A SQLAlchemy engine for dbctl's own work (psycopg 3): no pool kept, dbctl's
    application name, every statement tagged."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.pool import NullPool

    engine = sa_create_engine(
        normalize_url(url),
        poolclass=NullPool,
        # SQLAlchemy's native hstore support looks the type up on connect with psycopg's own
        # cursor, which dbctl cannot tag; dbctl needs no hstore adapter
        use_native_hstore=False,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": APPLICATION_NAME,
            "cursor_factory": tagged_cursor(),
        },
    )
    from sqlalchemy import event

    event.listen(engine, "do_connect", _mark_internal)
    return engine


@functools.cache
def _tagged_psycopg2_cursor() -> type[Any]:
    import psycopg2.extensions  # type: ignore[import-untyped]

    class TaggedCursor(psycopg2.extensions.cursor):  # type: ignore[misc]
        def execute(self, query: Any, vars: Any = None) -> Any:
            return super().execute(tag(query) if isinstance(query, str | bytes) else query, vars)

        def executemany(self, query: Any, vars_list: Any) -> Any:
            text = tag(query) if isinstance(query, str | bytes) else query
            return super().executemany(text, vars_list)

    return TaggedCursor


def migration_engine(url: str, *, prepared: bool = True) -> Engine:
    """The engine of the connection dbctl shares with the project's env.py: the URL's own
    driver when it blocks (revisions may depend on it), psycopg 3 otherwise; dbctl's
    application name; statements tagged where the driver lets dbctl do it. Without
    ``prepared`` (behind a transaction-mode pooler), psycopg prepares no statement: a
    prepared statement lives on one server connection, the next transaction may get another.
    """
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.pool import NullPool

    target = migration_url(url)
    name = driver(target)
    connect_args: dict[str, Any] = {"application_name": APPLICATION_NAME}
    if name in ("psycopg", "psycopg2", "psycopg2cffi"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    if name == "psycopg":
        connect_args["cursor_factory"] = tagged_cursor()
        if not prepared:
            connect_args["prepare_threshold"] = None
    elif name == "psycopg2":
        connect_args["cursor_factory"] = _tagged_psycopg2_cursor()
    elif name == "pg8000":
        connect_args = {"application_name": APPLICATION_NAME, "timeout": CONNECT_TIMEOUT}
    try:  # native hstore kept: the project's revisions may rely on it
        return sa_create_engine(target, poolclass=NullPool, connect_args=connect_args)
    except ModuleNotFoundError as exc:
        from dbctl.lifecycle.user_code import DRIVER_PACKAGES

        package = DRIVER_PACKAGES.get(exc.name or "", exc.name)
        raise ConfigError(
            f"the database URL names the {name} driver, which is not installed here: "
            f"pip install {package}, or write postgresql+psycopg:// to use psycopg 3"
        ) from None


def resolve_database_url(settings: Settings, notify: Notify | None = None) -> str:
    """The database the command works on: ``--database-url`` or else the sandbox.

    With no URL configured, the project's sandbox is started if needed and ``notify`` is
    told that the command is using it.
    """
    if settings.database_url:
        return settings.database_url
    from dbctl.pg.sandbox import Sandbox

    status = Sandbox(settings.state_path).start(notify=notify)
    assert status.url is not None
    if notify is not None:
        how = "started" if status.started else "running"
        notify(f"no --database-url given: using the sandbox ({how}) at {status.url}")
    return status.url
