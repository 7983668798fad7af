"""dbctl: a developer CLI for the life of a PostgreSQL database behind a Python service.

The public Python API (what an application or a test suite may import; everything else is
internal and may change):

- ``dbctl.budget.install(app, engine, ...)``: queries per request for FastAPI + SQLAlchemy,
  and the ``query_budget`` pytest fixture (entry point ``pytest11``);
- ``dbctl.redact_url(url)``: a database URL (or libpq keyword string) with its password
  and secret parameters hidden, for logs;
- ``dbctl.normalize_url(url)``: a URL in the form SQLAlchemy and psycopg 3 take
  (``postgres://`` and driverless URLs to ``postgresql+psycopg://``);
- ``dbctl.sandbox_url(project_root)``: the URL of the project's running sandbox, or None.

Loaded lazily: ``import dbctl`` costs nothing, so the CLI starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "normalize_url", "redact_url", "sandbox_url"]

if TYPE_CHECKING:
    from pathlib import Path

    def redact_url(url: str) -> str: ...
    def normalize_url(url: str) -> str: ...
    def sandbox_url(project_root: Path, state_dir: Path | None = None) -> str | None: ...


def __getattr__(name: str) -> Any:
    if name == "redact_url":
        from dbctl.pg.url import redact

        return redact
    if name == "normalize_url":
        from dbctl.pg.url import normalize_url

        return normalize_url
    if name == "sandbox_url":
        from dbctl.pg.sandbox import sandbox_url_for

        return sandbox_url_for
    raise AttributeError(f"module 'dbctl' has no attribute {name!r}")
