"""``dbctl query-budget``: queries per endpoint from the capture log, and their findings.

Per endpoint (method and route template) it gives the requests, the queries per request
(p50, p95, max), the time spent in the database (per request and per statement), the
latency (p50, p95, p99) and the statements run in a loop. The findings:

- ``query-budget-exceeded`` (error): an endpoint with a request over its budget; the worst
  request is named by its log line and its statements listed;
- ``looped-query`` (error): a statement an endpoint runs 2 or more times in one request;
- ``slo-breach`` (warning): an endpoint whose p99 latency is above the API objective.

The budget of a request is, first to last: ``--route-budget`` for its route, ``--max``, the
budget the application logged with it, ``[tool.dbctl] query_budget`` (3). Percentiles are
nearest-rank: always a value that was observed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from dbctl.budget.log import LoggedRequest, LoggedStatement, read_requests
from dbctl.errors import ConfigError
from dbctl.report import Finding, Location, Severity, one_line
from dbctl.rule_ids import BUDGET_RULE, LOOPED_RULE, SLO_RULE
from dbctl.when import MAX_BACK_DAYS, parse_when

__all__ = ["MAX_BACK_DAYS", "parse_when"]  # re-exported: their home is dbctl.when

_STATEMENTS_SHOWN = 10
_FIX_LOOP = (
    "fetch the rows in one statement: WHERE id = ANY(:ids), a join, or selectinload() / "
    "joinedload() on the relationship"
)
_FIX_BUDGET = (
    "load what the endpoint needs in fewer statements (joins, selectinload(), one INSERT of "
    "many rows), or give the route its own budget if it truly needs more"
)


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence (``share`` in 0-1)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def count_percentile(counts: Mapping[int, int], share: float) -> int:
    """Nearest-rank percentile of values given as ``value -> occurrences``."""
    total = sum(counts.values())
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise ValueError("no values")


@dataclass(frozen=True)
class BudgetRules:
    """The budgets to hold requests to (see the module doc for their order)."""

    default: int = 3
    override: int | None = None  # --max
    routes: Mapping[str, int] = field(default_factory=dict)  # "/path" or "GET /path"
    latency_slo_ms: float = 200.0

    def budget_for(self, request: LoggedRequest) -> int:
        for key in (f"{request.method} {request.route}", request.route):
            if key in self.routes:
                return self.routes[key]
        if self.override is not None:
            return self.override
        return request.budget if request.budget is not None else self.default


@dataclass
class Looped:
    """A statement an endpoint ran 2 or more times in one request."""

    fingerprint: str
    statement: str
    requests: int = 0  # requests in which it looped
    most: int = 0  # the most executions in one request
    executions: int = 0
    where: tuple[str, int] = ("", 0)  # the log line of the request where it ran ``most``


@dataclass
class Endpoint:
    """Everything the log says about one method and route template."""

    method: str
    route: str
    requests: int = 0
    server_errors: int = 0
    queries: Counter[int] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)
    db_ms: float = 0.0
    over: int = 0
    budgets: Counter[int] = field(default_factory=Counter)
    worst: LoggedRequest | None = None  # the request furthest over (or with most queries)
    worst_budget: int = 0
    looped: dict[str, Looped] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}"

    def add(self, request: LoggedRequest, budget: int) -> None:
        self.requests += 1
        self.server_errors += request.status >= 500
        self.queries[request.queries] += 1
        self.durations.append(request.duration_ms)
        self.db_ms += request.db_ms
        self.budgets[budget] += 1
        excess = request.queries - budget
        if excess > 0:
            self.over += 1
        if self.worst is None or excess > self.worst.queries - self.worst_budget:
            self.worst, self.worst_budget = request, budget
        for statement in request.statements:
            if statement.count >= 2:
                self._looped(statement, request)

    def _looped(self, statement: LoggedStatement, request: LoggedRequest) -> None:
        entry = self.looped.get(statement.fingerprint)
        if entry is None:
            entry = self.looped[statement.fingerprint] = Looped(
                statement.fingerprint, statement.statement
            )
        entry.requests += 1
        entry.executions += statement.count
        if statement.count > entry.most:
            entry.most, entry.where = statement.count, (request.path, request.line)

    @property
    def budget(self) -> int:
        """The budget most of the endpoint's requests had."""
        return self.budgets.most_common(1)[0][0]

    def as_dict(self) -> dict[str, Any]:
        durations = sorted(self.durations)
        executed = sum(n * c for n, c in self.queries.items())
        return {
            "method": self.method,
            "route": self.route,
            "requests": self.requests,
            "server_errors": self.server_errors,
            "queries_p50": count_percentile(self.queries, 0.50),
            "queries_p95": count_percentile(self.queries, 0.95),
            "queries_max": max(self.queries),
            "queries_mean": round(executed / self.requests, 3),
            "budget": self.budget,
            "over_budget": self.over,
            "db_ms_per_request": round(self.db_ms / self.requests, 3),
            "db_ms_per_query": round(self.db_ms / executed, 3) if executed else None,
            "latency_p50_ms": percentile(durations, 0.50),
            "latency_p95_ms": percentile(durations, 0.95),
            "latency_p99_ms": percentile(durations, 0.99),
            "looped": [
                {
                    "fingerprint": entry.fingerprint,
                    "statement": entry.statement,
                    "requests": entry.requests,
                    "most": entry.most,
                }
                for entry in self._looped_in_order()
            ],
        }

    def _looped_in_order(self) -> list[Looped]:
        return sorted(self.looped.values(), key=lambda e: (-e.requests, -e.most, e.statement))


def _statements(request: LoggedRequest) -> list[dict[str, Any]]:
    ordered = sorted(request.statements, key=lambda s: -s.count)
    return [
        {"statement": one_line(s.statement), "count": s.count, "time_ms": s.time_ms}
        for s in ordered[:_STATEMENTS_SHOWN]
    ]


def _budget_finding(endpoint: Endpoint) -> Finding:
    worst = endpoint.worst
    assert worst is not None
    stats = endpoint.as_dict()
    message = (
        f"{endpoint.name}: {worst.queries} queries in one request, budget "
        f"{endpoint.worst_budget}; {endpoint.over} of {endpoint.requests} requests over "
        f"(p50 {stats['queries_p50']}, p95 {stats['queries_p95']})"
    )
    top = max(worst.statements, key=lambda s: s.count, default=None)
    return Finding(
        BUDGET_RULE,
        Severity.error,
        message,
        suggestion=_FIX_BUDGET,
        statement=top.statement if top is not None else None,
        location=Location(worst.path, worst.line),
        evidence={
            "method": endpoint.method,
            "route": endpoint.route,
            "requests": endpoint.requests,
            "over_budget": endpoint.over,
            "budget": endpoint.worst_budget,
            "queries_max": worst.queries,
            "queries_p95": stats["queries_p95"],
            "statements": _statements(worst),
        },
    )


def _looped_finding(endpoint: Endpoint, entry: Looped) -> Finding:
    message = (
        f"{endpoint.name} runs a statement up to {entry.most} times in one request "
        f"(in {entry.requests} of {endpoint.requests} requests): {one_line(entry.statement)}"
    )
    return Finding(
        LOOPED_RULE,
        Severity.error,
        message,
        suggestion=_FIX_LOOP,
        statement=entry.statement,
        location=Location(*entry.where),
        evidence={
            "method": endpoint.method,
            "route": endpoint.route,
            "fingerprint": entry.fingerprint,
            "requests": entry.requests,
            "most": entry.most,
            "executions": entry.executions,
        },
    )


def _slo_finding(endpoint: Endpoint, slo_ms: float) -> Finding | None:
    p99 = percentile(sorted(endpoint.durations), 0.99)
    if p99 <= slo_ms:
        return None
    return Finding(
        SLO_RULE,
        Severity.warning,
        f"{endpoint.name}: p99 latency {p99:,.1f} ms over {endpoint.requests} requests, "
        f"above the {slo_ms:g} ms objective",
        suggestion="see its statements with dbctl top-queries and dbctl check-indexes",
        evidence={"method": endpoint.method, "route": endpoint.route, "p99_ms": p99},
    )


@dataclass
class BudgetResult:
    endpoints: list[Endpoint]
    findings: list[Finding]

    @property
    def requests(self) -> int:
        return sum(endpoint.requests for endpoint in self.endpoints)


def summarize(requests: Iterable[LoggedRequest], rules: BudgetRules) -> BudgetResult:
    """Fold the requests into endpoints (busiest first) and judge them."""
    endpoints: dict[tuple[str, str], Endpoint] = {}
    for request in requests:
        key = (request.method, request.route)
        endpoint = endpoints.get(key)
        if endpoint is None:
            endpoint = endpoints[key] = Endpoint(request.method, request.route)
        endpoint.add(request, rules.budget_for(request))
    ordered = sorted(endpoints.values(), key=lambda e: (-e.requests, e.route, e.method))
    findings: list[Finding] = []
    for endpoint in ordered:
        if endpoint.over:
            findings.append(_budget_finding(endpoint))
        findings.extend(_looped_finding(endpoint, e) for e in endpoint._looped_in_order())
        slo = _slo_finding(endpoint, rules.latency_slo_ms)
        if slo is not None:
            findings.append(slo)
    return BudgetResult(ordered, findings)


OUTSIDE = "requests outside the window"
TIMELESS = "requests without a time"


def _utc(stamp: str | None) -> datetime | None:
    """A logged ``at`` as an aware UTC time; ``None`` when it is none, not a time, or out of
    the calendar's range once moved to UTC."""
    if not stamp:
        return None
    try:
        at = datetime.fromisoformat(stamp)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class TimeWindow:
    """``--since`` / ``--until``: the requests that arrived in ``[since, until)``."""

    since: datetime | None = None
    until: datetime | None = None

    def __bool__(self) -> bool:
        return self.since is not None or self.until is not None

    def keep(
        self, requests: Iterable[LoggedRequest], left: Counter[str]
    ) -> Iterator[LoggedRequest]:
        for request in requests:
            at = _utc(request.at)
            if at is None:
                left[TIMELESS] += 1
                continue
            if (self.since is not None and at < self.since) or (
                self.until is not None and at >= self.until
            ):
                left[OUTSIDE] += 1
                continue
            yield request


def query_budget(
    paths: Sequence[str],
    rules: BudgetRules,
    stdin: BinaryIO | None = None,
    window: TimeWindow | None = None,
) -> tuple[BudgetResult, Counter[str], Counter[str]]:
    """Read the capture logs (``-``: stdin) and judge their endpoints: the result, the
    lines skipped (by reason) and the requests left out by the window (by reason). A log
    without one request record (in the window) is an error: a gate that saw nothing must
    not pass; requests that all fall outside the window are a pass with an ``empty-window``
    note (a quiet window is not a broken log)."""
    skipped: Counter[str] = Counter()
    left: Counter[str] = Counter()
    requests: Iterable[LoggedRequest] = read_requests(paths, skipped, stdin)
    if window:
        requests = window.keep(requests, left)
    result = summarize(requests, rules)
    if not result.endpoints and window and left.get(OUTSIDE):
        # The log has requests, none in the window (no traffic in the last 10 minutes):
        # nothing broke a budget, and the report says why it judged nothing.
        outside = left[OUTSIDE]
        note = Finding(
            rule="empty-window",
            severity=Severity.info,
            message=f"no request in the window ({outside:,} in the log, outside it): "
            "nothing to judge",
            evidence={"outside_window": outside},
        )
        return BudgetResult([], [note]), skipped, left
    if not result.endpoints:
        what = ", ".join(f"{n} {reason}" for reason, n in (skipped + left).items()) or "empty"
        raise ConfigError(
            f"no request record in {', '.join(paths)} ({what}); the log is written by "
            "dbctl.budget.install(app, engine, log_path=...)"
        )
    return result, skipped, left


def unmatched_routes(result: BudgetResult, rules: BudgetRules) -> list[str]:
    """The ``--route-budget`` keys that name no endpoint of the log (a typo, or a route that
    saw no traffic): said, so that a budget that applies to nothing is not mistaken for one
    that holds."""
    names = {e.route for e in result.endpoints} | {e.name for e in result.endpoints}
    return [key for key in rules.routes if key not in names]
