"""The FastAPI application: ``uvicorn service.main:app``.

``create_app`` builds the app; the database engine (and its pool) is created in the
lifespan, when the server starts, and disposed when it stops. Importing this module never
connects to the database nor looks for one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from dbctl import redact_url
from service.api import api_router
from service.api.errors import install_error_handlers
from service.api.limits import BodySizeLimit
from service.db.engine import (
    cleanup_limiter,
    create_db_engine,
    create_read_session_factory,
    create_session_factory,
)
from service.settings import ServiceSettings, resolve_database_url

logger = logging.getLogger(__name__)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The shop API; ``settings`` default to the environment (read at start-up).

    Every request's queries are captured by dbctl (``dbctl.budget``): counted against the
    budget, looped queries detected, ``/metrics`` served in the Prometheus format; unless
    ``query_capture`` is off (the load benchmark's baseline).
    """
    from dbctl.budget import install

    budget = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or ServiceSettings()
        url = resolve_database_url(resolved)
        engine = create_db_engine(url, resolved)
        logger.info(
            "database %s, pool of %d (+%d overflow)",
            redact_url(url),
            resolved.pool_size,
            resolved.max_overflow,
        )
        app.state.engine = engine
        if capture is not None:
            capture.attach(engine)
        app.state.session_factory = create_session_factory(engine)
        app.state.read_session_factory = create_read_session_factory(engine)
        app.state.cleanup_limiter = cleanup_limiter()
        # The threads of the sync endpoints: fewer than anyio's 40, which only contend for
        # the GIL, and no more than the pool has connections (settings.threads).
        anyio.to_thread.current_default_thread_limiter().total_tokens = resolved.threads
        try:
            yield
        finally:
            if capture is not None:
                capture.remove()
            engine.dispose()

    app = FastAPI(title="dbctl companion shop", version="0.1.0", lifespan=lifespan)
    app.include_router(api_router)
    install_error_handlers(app)
    capture = None
    if budget.query_capture:
        capture = install(
            app,
            budget=budget.query_budget,
            on_breach=budget.query_budget_mode,
            log_path=budget.capture_log,
        )
    # Added last, so outermost: a body over the limit is refused before anything else runs
    # (the capture, which cannot label a request answered before routing, included).
    app.add_middleware(BodySizeLimit, max_bytes=budget.max_body_bytes)
    return app


app = create_app()
