"""Queries per endpoint for FastAPI + SQLAlchemy applications (issue 6, sections 1-3).

    capture.py   install(app, engine): the engine's cursor listeners, the per-request
                 RequestCapture (a ContextVar), the pure ASGI middleware, the budget and
                 looped-query rules, the optional JSON-lines log
    metrics.py   the Prometheus metrics (prometheus-client) and the /metrics endpoint

Nothing here is imported by ``dbctl`` itself: the CLI stays fast to start.
"""

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
