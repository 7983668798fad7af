"""Service settings, read from the environment by pydantic-settings.

``DATABASE_URL`` names the database (``postgres://``, ``postgresql://`` and
``postgresql+psycopg://`` are all accepted). The pool is sized by ``SERVICE_POOL_SIZE``,
``SERVICE_MAX_OVERFLOW``, ``SERVICE_POOL_TIMEOUT`` and ``SERVICE_POOL_PRE_PING``; the
threads of the endpoints by ``SERVICE_THREADS``; the service's statements are bounded by
``SERVICE_STATEMENT_TIMEOUT_MS`` and ``SERVICE_LOCK_TIMEOUT_MS``; a request body by
``SERVICE_MAX_BODY_BYTES`` (larger: 413 before it is read further or parsed).
When ``DATABASE_URL`` is unset the service falls back to the running dbctl sandbox of the
project (``dbctl sandbox start``) and says so in its log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dbctl import normalize_url, redact_url

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DatabaseNotConfigured(RuntimeError):
    """Neither ``DATABASE_URL`` nor a running dbctl sandbox gives the service a database."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("database_url", "DATABASE_URL")
    )
    project_root: Path = PROJECT_ROOT
    pool_size: int = Field(default=8, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout: float = Field(default=5.0, gt=0)
    pool_pre_ping: bool = True
    pool_recycle: int = Field(default=1800, description="seconds; -1 never recycles")
    connect_timeout: int = Field(default=5, ge=1, description="seconds for a new connection")
    # Threads that run the sync endpoints (anyio's default is 40): more only contend for the
    # GIL (bench/load.py, 2 cores: 4 beat 8, 15 and 40 on throughput and p99). Keep it at
    # most pool_size, so that no thread waits for a connection and the pool does not churn.
    threads: int = Field(default=4, ge=1)
    # A request must not wait on the database for ever: with a few threads, a few stuck
    # requests would stop the service. Past these, it answers 503 (retry). 0: no limit.
    statement_timeout_ms: int = Field(default=5000, ge=0)
    lock_timeout_ms: int = Field(default=1000, ge=0)
    # The largest request body accepted, in bytes (the largest the API needs, an order of
    # 100 lines, is under 5 KiB). Larger is a 413, before the body is parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)

    def for_batch(self) -> ServiceSettings:
        """These settings for a batch job (seed, refresh): its statements may run long, so
        the request timeouts do not apply."""
        return self.model_copy(update={"statement_timeout_ms": 0, "lock_timeout_ms": 0})

    echo_sql: bool = False
    # Queries per request (dbctl.budget): a budget per request and what a breach does:
    # "raise" in development and tests, "log", or "count" (production: a metric only).
    # query_capture=False leaves the capture out (no /metrics): the load benchmark's baseline.
    query_capture: bool = True
    query_budget: int = Field(default=3, ge=1)
    query_budget_mode: Literal["raise", "log", "count"] = "log"
    capture_log: Path | None = Field(default=None, description="JSON-lines log of requests")


def resolve_database_url(settings: ServiceSettings) -> str:
    """The SQLAlchemy URL of the service's database: ``DATABASE_URL``, else the sandbox."""
    if settings.database_url:
        return normalize_url(settings.database_url)
    from dbctl import sandbox_url

    url = sandbox_url(settings.project_root)
    if url is None:
        raise DatabaseNotConfigured(
            "DATABASE_URL is unset and no dbctl sandbox runs for "
            f"{settings.project_root}: set DATABASE_URL or run `dbctl sandbox start`"
        )
    url = normalize_url(url)
    logger.warning("DATABASE_URL is unset; using the dbctl sandbox at %s", redact_url(url))
    return url
