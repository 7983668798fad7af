"""Queries per endpoint for FastAPI + SQLAlchemy applications (issue 6, sections 1-3).

    capture.py   install(app, engine): the engine's cursor listeners, the per-request
                 RequestCapture (a ContextVar), the pure ASGI middleware, the budget and
                 looped-query rules, the optional JSON-lines log
    metrics.py   the Prometheus metrics (prometheus-client) and the /metrics endpoint
    pytest_plugin.py  the ``query_budget`` fixture and marker (entry point ``pytest11``)
    log.py       reading the JSON-lines log; report.py: ``dbctl query-budget``

Nothing here is imported by ``dbctl`` itself: the CLI stays fast to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbctl.budget.capture import (
        Breach,
        CaptureHandle,
        QueryBudgetExceeded,
        RequestCapture,
        StatementStats,
        breaches,
        install,
        statement_fingerprint,
    )

__all__ = [
    "Breach",
    "CaptureHandle",
    "QueryBudgetExceeded",
    "RequestCapture",
    "StatementStats",
    "breaches",
    "install",
    "statement_fingerprint",
]


def __getattr__(name: str) -> Any:
    """The names of ``capture`` on first use: the pytest plugin, a sibling module loaded by
    every test session, does not pay for prometheus-client."""
    if name in __all__:
        from dbctl.budget import capture

        return getattr(capture, name)
    raise AttributeError(f"module 'dbctl.budget' has no attribute {name!r}")
