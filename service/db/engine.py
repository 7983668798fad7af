"""The engine, its connection pool, and the per-request session.

One engine per application, created in the app's lifespan (never at import) with a
``QueuePool`` sized by the settings: requests borrow a pooled connection and give it back,
they never open their own. ``get_session`` is the FastAPI dependency that hands a route its
``Session``; the session returns its connection to the pool when the request ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi import Request
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from service.settings import ServiceSettings

APPLICATION_NAME = "dbctl-service"


def create_db_engine(url: str, settings: ServiceSettings) -> Engine:
    """A pooled engine for ``url`` (a ``postgresql+psycopg://`` URL); connects lazily."""
    return create_engine(
        url,
        poolclass=QueuePool,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_pre_ping=settings.pool_pre_ping,
        pool_recycle=settings.pool_recycle,
        echo=settings.echo_sql,
        connect_args={
            "connect_timeout": settings.connect_timeout,
            "application_name": APPLICATION_NAME,
            # Session defaults sent in the startup packet: no extra round trip.
            "options": (
                f"-c statement_timeout={settings.statement_timeout_ms}"
                f" -c lock_timeout={settings.lock_timeout_ms}"
            ),
        },
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: serialising a response costs no extra SELECT.
    return sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def create_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads of one statement, in autocommit: a statement is atomic and sees
    one snapshot on its own, so the BEGIN and ROLLBACK round trips around it buy nothing
    (two of a read's four, with the pool's pre-ping). Same pool as ``engine``."""
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(bind=reader, autoflush=False, expire_on_commit=False)


# Clean-ups run on threads of their own. On the thread pool that runs the (sync) endpoints,
# a clean-up that would give a connection back could wait for a thread while every thread
# waits for a connection: requests then fail after pool_timeout. A clean-up never waits for
# the pool, so a few threads of its own always make progress.
CLEANUP_THREADS = 8


async def get_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: a session from the app's factory, closed after the request.
    (``SessionRoute`` closes it as the endpoint returns, on the endpoint's thread.)

    Creating a ``Session`` does no I/O (it connects on first use), so this runs on the event
    loop rather than costing a thread hop. Closing it does I/O (ROLLBACK, the connection back
    to the pool) only while it holds a connection; then it runs on ``CLEANUP_THREADS``.
    """
    async for session in _session(request, request.app.state.session_factory):
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: a session for a read of one statement (autocommit)."""
    async for session in _session(request, request.app.state.read_session_factory):
        yield session


async def _session(request: Request, factory: sessionmaker[Session]) -> AsyncIterator[Session]:
    state = request.app.state
    session: Session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close, limiter=state.cleanup_limiter)
        else:
            session.close()  # nothing held: no I/O


def cleanup_limiter() -> anyio.CapacityLimiter:
    """The threads of the sessions' clean-ups (see ``get_session``); made in the lifespan."""
    return anyio.CapacityLimiter(CLEANUP_THREADS)
