"""Prometheus metrics of the request capture, with low-cardinality labels only.

    http_request_duration_seconds{route,method,status}   histogram, 0.2 s bucket (the SLO)
    db_queries_per_request{route,method}                 histogram, buckets 1, 2, 3, 5, 10
    db_query_duration_seconds{route}                     histogram, one observation per
                                                         execution, 0.001 and 0.003 buckets
    db_query_budget_breaches_total{route,rule}           counter, rule is
                                                         query-budget-exceeded or looped-query

``route`` is always a route template (``/items/{id}``) or ``<unmatched>``, never a raw path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from dbctl.budget.capture import Breach, RequestCapture

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
QUERIES_BUCKETS = (1, 2, 3, 5, 10)
QUERY_BUCKETS = (0.0005, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


class CaptureMetrics:
    """The capture's metrics, registered in ``registry`` (a new one when not given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.request_duration = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests, per route template, method and status.",
            ["route", "method", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.queries_per_request = Histogram(
            "db_queries_per_request",
            "Database statements executed per HTTP request.",
            ["route", "method"],
            buckets=QUERIES_BUCKETS,
            registry=self.registry,
        )
        self.query_duration = Histogram(
            "db_query_duration_seconds",
            "Duration of each database statement executed during a request.",
            ["route"],
            buckets=QUERY_BUCKETS,
            registry=self.registry,
        )
        self.breaches = Counter(
            "db_query_budget_breaches_total",
            "Requests that broke a query rule (query-budget-exceeded, looped-query).",
            ["route", "rule"],
            registry=self.registry,
        )

    def observe(self, capture: RequestCapture, found: Iterable[Breach]) -> None:
        """Record one finished request and the breaches found in it."""
        route, method = capture.route, capture.method
        self.request_duration.labels(route, method, str(capture.status)).observe(capture.duration)
        self.queries_per_request.labels(route, method).observe(capture.queries)
        per_query = self.query_duration.labels(route)
        for seconds in capture.timings:
            per_query.observe(seconds)
        for breach in found:
            self.breaches.labels(route, breach.rule).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def endpoint(self, request: Request) -> Response:
        """The ``/metrics`` endpoint: the registry in Prometheus' text format."""
        from starlette.responses import Response

        return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)
