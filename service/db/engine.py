"""The engine, its connection pool, and the per-request session.

One engine per application, created in the app's lifespan (never at import) with a
``QueuePool`` sized by the settings: requests borrow a pooled connection and give it back,
they never open their own. ``get_session`` is the FastAPI dependency that hands a route its
``Session``; the session returns its connection to the pool when the request ends.
"""

from __future__ import annotations

from collections.abc import Iterator

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
        },
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: serialising a response costs no extra SELECT.
    return sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a session from the app's factory, closed after the request."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session
