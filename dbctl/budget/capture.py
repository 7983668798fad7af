"""Per-request capture of the SQL a FastAPI + SQLAlchemy application runs.

``install(app, engine)`` wires three pieces together:

- SQLAlchemy ``before_cursor_execute`` / ``after_cursor_execute`` listeners on the engine
  time every statement and add it to the current request's ``RequestCapture``, found in a
  ``ContextVar``; statements run outside a request are ignored; a statement the server
  refuses (``handle_error``) counts too: it made the round trip;
- a pure ASGI middleware opens the capture when a request arrives and closes it when the
  application returns: route template (``scope["route"].path``, ``<unmatched>`` when no
  route matched), method, status, duration;
- then the rules (``breaches``: over the route's budget, a fingerprint run 2 or more times),
  the metrics (``dbctl.budget.metrics``) and the optional JSON-lines log.

What a breach does (``on_breach``):

- ``"count"`` (production): only ``db_query_budget_breaches_total`` is incremented;
- ``"log"``: also a warning on the ``dbctl.budget`` logger, the statements listed;
- ``"raise"`` (development and test): the response is buffered; on a breach the client gets
  a 500 whose body lists the statements instead of the application's response, and the
  middleware then raises ``QueryBudgetExceeded``, so that the server logs it and
  ``TestClient`` re-raises it in the test. The breach is only known once the handler has
  returned, hence the buffering; streaming responses are held until they end.

The counter is incremented in every mode. ``/metrics`` is served and never captured.

Observers (``observe_requests``) are told of every finished request with the budget its
route has: the pytest plugin (``dbctl.budget.pytest_plugin``) holds a test's requests to its
own budget through one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast

from dbctl.access.lexer import fingerprint
from dbctl.budget.metrics import CaptureMetrics
from dbctl.report import one_line
from dbctl.rule_ids import BUDGET_RULE, LOOPED_RULE

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry
    from sqlalchemy import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
OnBreach = Literal["raise", "log", "count"]

UNMATCHED = "<unmatched>"
METRICS_PATH = "/metrics"
_NO_ROUTES: Mapping[str, int] = MappingProxyType({})
_START_KEY = "dbctl.budget.started"
logger = logging.getLogger("dbctl.budget")


@functools.lru_cache(maxsize=4096)
def statement_fingerprint(text: str) -> str:
    """``dbctl.access.lexer.fingerprint`` of ``text``, cached: an application runs the
    same few texts again and again."""
    return fingerprint(text)


@dataclass
class StatementStats:
    """One fingerprint within one request: the first text seen, executions, total time."""

    fingerprint: str
    statement: str
    count: int = 0
    time: float = 0.0  # seconds


@dataclass
class RequestCapture:
    """Everything one request did: filled by the listeners, closed by the middleware."""

    method: str
    route: str = UNMATCHED
    status: int = 0
    started_at: float = 0.0  # time.time() when the request arrived
    duration: float = 0.0  # seconds
    statements: dict[str, StatementStats] = field(default_factory=dict)
    timings: list[float] = field(default_factory=list)  # seconds, one per execution
    closed: bool = False  # once the response is complete: later statements are not its own

    def record(self, text: str, seconds: float) -> None:
        if self.closed:  # a background task, or a task the handler left running
            return
        key = statement_fingerprint(text)
        stats = self.statements.get(key)
        if stats is None:
            stats = self.statements[key] = StatementStats(key, text)
        stats.count += 1
        stats.time += seconds
        self.timings.append(seconds)

    @property
    def queries(self) -> int:
        return len(self.timings)

    @property
    def db_time(self) -> float:
        return sum(self.timings)

    @property
    def looped(self) -> list[str]:
        """Fingerprints executed 2 or more times in this request."""
        return [key for key, stats in self.statements.items() if stats.count >= 2]

    def to_record(self, budget: int | None = None) -> dict[str, Any]:
        """The JSON-lines log record of this request (``budget``: the route's, when known)."""
        record: dict[str, Any] = {
            "at": datetime.fromtimestamp(self.started_at, UTC).isoformat(timespec="milliseconds"),
            "route": self.route,
            "method": self.method,
            "status": self.status,
            "duration_ms": round(self.duration * 1000, 3),
            "statements": [
                {
                    "fingerprint": stats.fingerprint,
                    "statement": stats.statement,
                    "count": stats.count,
                    "time_ms": round(stats.time * 1000, 3),
                }
                for stats in self.statements.values()
            ],
            "queries": self.queries,
            "looped": self.looped,
        }
        if budget is not None:
            record["budget"] = budget
        return record


@dataclass(frozen=True)
class Breach:
    """A rule one request broke: ``query-budget-exceeded`` or ``looped-query``."""

    rule: str
    message: str
    statements: tuple[StatementStats, ...]


def breaches(capture: RequestCapture, budget: int) -> list[Breach]:
    """The rules ``capture`` breaks with a budget of ``budget`` statements: pure."""
    found: list[Breach] = []
    if capture.queries > budget:
        found.append(
            Breach(
                BUDGET_RULE,
                f"{capture.queries} queries, budget {budget}",
                tuple(capture.statements.values()),
            )
        )
    looped = tuple(capture.statements[key] for key in capture.looped)
    if looped:
        found.append(Breach(LOOPED_RULE, f"{len(looped)} statement(s) run in a loop", looped))
    return found


def describe(capture: RequestCapture, found: list[Breach]) -> str:
    """A message for the person who reads it: the request, the rules, the statements."""
    lines = [f"{capture.method} {capture.route}: " + "; ".join(b.message for b in found)]
    shown: set[str] = set()
    for breach in found:
        for stats in breach.statements:
            if stats.fingerprint not in shown:
                shown.add(stats.fingerprint)
                text = one_line(stats.statement)
                lines.append(f"  {stats.count}x {stats.time * 1000:.2f} ms  {text}")
    return "\n".join(lines)


class QueryBudgetExceeded(Exception):
    """A request broke its query budget or ran a statement in a loop (``on_breach="raise"``)."""

    def __init__(self, capture: RequestCapture, found: list[Breach]) -> None:
        super().__init__(describe(capture, found))
        self.capture = capture
        self.breaches = found


RequestObserver = Callable[[RequestCapture, int], None]
_observers: list[RequestObserver] = []
_attached: list[Engine] = []  # every engine with the listeners, however many installs


def capturing() -> bool:
    """Whether some engine's statements are being captured (``attach`` and not ``remove``)."""
    return bool(_attached)


@contextmanager
def observe_requests(observer: RequestObserver) -> Iterator[None]:
    """Call ``observer(capture, budget)`` for every request any installed app finishes
    within the block, in the thread that served it, before the response's last byte is sent.
    """
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


_current: ContextVar[RequestCapture | None] = ContextVar("dbctl_request_capture", default=None)


def current_capture() -> RequestCapture | None:
    """The capture of the request being served in this context, if any."""
    return _current.get()


def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if _current.get() is not None:
        conn.info[_START_KEY] = time.perf_counter()


def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    capture = _current.get()
    started = conn.info.pop(_START_KEY, None)
    if capture is not None and started is not None:
        capture.record(statement, time.perf_counter() - started)


def _failed(context: Any) -> None:
    """``handle_error``: a statement the server refused still ran, and counts."""
    conn = context.connection
    capture = _current.get()
    started = conn.info.pop(_START_KEY, None) if conn is not None else None
    if capture is not None and started is not None and context.statement is not None:
        capture.record(context.statement, time.perf_counter() - started)


_LISTENERS = (
    ("before_cursor_execute", _before),
    ("after_cursor_execute", _after),
    ("handle_error", _failed),
)


@dataclass(frozen=True)
class CaptureSettings:
    """What ``install`` was given."""

    budget: int = 3
    routes: Mapping[str, int] = field(default_factory=dict)
    on_breach: OnBreach = "count"
    log_path: Path | None = None

    def budget_for(self, route: str) -> int:
        return self.routes.get(route, self.budget)


def _route_path(scope: Scope) -> str:
    """The path the app routes on: ``path`` without the ``root_path`` it is mounted at."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class _LogFile:
    """The JSON-lines log: one ``write`` per request on a descriptor opened once in append
    mode, so that lines stay whole with several workers on one file; reopened after a
    failure (and after ``logrotate``'s ``copytruncate``, which needs nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def write(self, line: bytes) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(self.fd, line)
        except OSError:
            os.close(self.fd)
            self.fd = None
            raise


class QueryCaptureMiddleware:
    """Pure ASGI middleware: one ``RequestCapture`` per HTTP request (see the module doc).

    The request is closed when its last body byte is ready (or when the app fails): what
    runs after, a background task, is not the request's. Nothing of the capture (metrics,
    observers, the log) can fail a response: its errors are logged, once per kind.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: CaptureSettings,
        metrics: CaptureMetrics,
        routes: Callable[[], Sequence[Any]] = tuple,
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.routes = routes  # the app's routes, to name a request no route claimed
        self.log = _LogFile(settings.log_path) if settings.log_path is not None else None
        self.failed: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or _current.get() is not None  # a mounted app installed too: the outer counts
            or _route_path(scope) == METRICS_PATH
        ):
            await self.app(scope, receive, send)
            return
        entry = {"path": scope.get("path", ""), "root_path": scope.get("root_path", "")}
        capture = RequestCapture(method=scope.get("method", ""), started_at=time.time())
        buffered: list[Message] | None = [] if self.settings.on_breach == "raise" else None
        started = time.perf_counter()
        found: list[Breach] | None = None
        error: QueryBudgetExceeded | None = None

        def close() -> list[Breach]:
            capture.closed = True
            return self._close(capture, scope, entry, started)

        async def send_wrapper(message: Message) -> None:
            nonlocal found, error, buffered
            if message["type"] == "http.response.start":
                capture.status = int(message["status"])
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if last and found is None:
                # Closed before the last byte leaves: a client that reads /metrics right
                # after its response sees its request counted.
                found = close()
            if buffered is None:
                await send(message)
                return
            buffered.append(message)
            if not last:
                return
            held, buffered = buffered, None
            if found:
                error = QueryBudgetExceeded(capture, found)
                await _send_error(send, error)
                return
            for item in held:
                await send(item)

        token = _current.set(capture)
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            capture.status = capture.status or _failed_status(exc)
            if found is None:
                close()
            raise
        finally:
            _current.reset(token)
        if found is None:  # the app returned without finishing its response
            close()
        if error is not None:
            raise error

    def _close(
        self, capture: RequestCapture, scope: Scope, entry: Mapping[str, str], started: float
    ) -> list[Breach]:
        capture.duration = time.perf_counter() - started
        capture.route = self._label(scope, entry)
        budget = self.settings.budget_for(capture.route)
        found = breaches(capture, budget)
        self._safely("metrics", self.metrics.observe, capture, found)
        for observer in tuple(_observers):  # a copy: another thread may add or remove one
            self._safely("an observer", observer, capture, budget)
        if found and self.settings.on_breach != "count":
            level = logging.ERROR if self.settings.on_breach == "raise" else logging.WARNING
            # logging.config.fileConfig() (Alembic's env.py template calls it) disables every
            # logger that exists by default: a breach the app asked to log still is.
            logger.disabled = False
            logger.log(level, "query budget: %s", describe(capture, found))
        if self.log is not None:
            record = capture.to_record(budget)
            line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
            self._safely(f"the log {self.log.path}", self.log.write, line)
        return found

    def _label(self, scope: Scope, entry: Mapping[str, str]) -> str:
        """The route template, mount prefixes included; ``<unmatched>`` when none fits."""
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            root = scope.get("root_path", "")
            prefix = root[len(entry["root_path"]) :] if root.startswith(entry["root_path"]) else ""
            return prefix + path
        # A route that did not say so in the scope (Starlette's own, add_route): match again.
        from starlette.routing import Match

        probe = {**scope, **entry}
        partial = None
        for route in self.routes():
            if not hasattr(route, "path"):  # FastAPI's included-router entries have none
                continue
            match, _ = route.matches(probe)
            if match is Match.FULL:
                return str(route.path)
            if match is Match.PARTIAL and partial is None:
                partial = str(route.path)
        return partial or UNMATCHED

    def _safely(self, what: str, call: Callable[..., object], *args: Any) -> None:
        try:
            call(*args)
        except Exception:
            if what not in self.failed:  # once: not one traceback per request
                self.failed.add(what)
                logger.exception("query capture: %s failed (the responses are not affected)", what)


CLIENT_CLOSED = 499  # nginx's "client closed request": not a server error


def _failed_status(exc: BaseException) -> int:
    """The status of a request that ended in ``exc`` before its response started: a client
    that went away is not a server error (it would inflate the 5xx rate)."""
    from starlette.requests import ClientDisconnect

    if isinstance(exc, asyncio.CancelledError | ClientDisconnect):
        return CLIENT_CLOSED
    return 500


async def _send_error(send: Send, error: QueryBudgetExceeded) -> None:
    body = str(error).encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class CaptureHandle:
    """What ``install`` set up: the metrics (and their registry), ``attach(engine)`` for an
    engine made later (in a lifespan), and ``remove()`` to detach the engines' listeners
    (the middleware stays: without listeners it records nothing).

    The listeners are module functions, registered once per engine however many apps are
    installed on it (each request feeds its own capture); ``remove()`` detaches them for all.
    """

    settings: CaptureSettings
    metrics: CaptureMetrics
    engines: list[Engine] = field(default_factory=list)

    def attach(self, engine: Engine | AsyncEngine) -> None:
        """Capture the statements ``engine`` runs (idempotent)."""
        from sqlalchemy import event

        sync_engine = cast("Engine", getattr(engine, "sync_engine", engine))
        for name, listener in _LISTENERS:
            if not event.contains(sync_engine, name, listener):
                event.listen(sync_engine, name, listener)
        self.engines.append(sync_engine)
        _attached.append(sync_engine)

    def remove(self) -> None:
        from sqlalchemy import event

        for engine in self.engines:
            for name, listener in _LISTENERS:
                if event.contains(engine, name, listener):
                    event.remove(engine, name, listener)
            while engine in _attached:
                _attached.remove(engine)
        self.engines.clear()


def install(
    app: FastAPI,
    engine: Engine | AsyncEngine | None = None,
    *,
    budget: int = 3,
    routes: Mapping[str, int] = _NO_ROUTES,
    on_breach: OnBreach = "count",
    log_path: Path | None = None,
    registry: CollectorRegistry | None = None,
) -> CaptureHandle:
    """Capture the queries of every request ``app`` serves through ``engine``.

    ``budget`` is the default number of statements per request, ``routes`` overrides it per
    route template (``{"/orders/{id}": 2}``). Call before the application starts (it adds
    a middleware). Adds ``/metrics``, served from ``registry`` (a new one when not given).
    An engine created later (in the app's lifespan) is given to ``handle.attach(engine)``.

    What is not seen: statements run on a thread that does not copy the request's context
    (``loop.run_in_executor``, a ``ThreadPoolExecutor``: use ``anyio.to_thread`` or
    ``contextvars.copy_context()``), statements of a middleware added after ``install``
    (it wraps the capture: call ``install`` last), and websockets.
    """
    if on_breach not in ("raise", "log", "count"):
        raise ValueError(f"on_breach must be raise, log or count, not {on_breach!r}")
    settings = CaptureSettings(budget, MappingProxyType(dict(routes)), on_breach, log_path)
    metrics = CaptureMetrics(registry)
    app.add_middleware(
        QueryCaptureMiddleware,
        settings=settings,
        metrics=metrics,
        routes=lambda: app.router.routes,
    )
    app.add_route(METRICS_PATH, metrics.endpoint, include_in_schema=False)
    handle = CaptureHandle(settings, metrics)
    if engine is not None:
        handle.attach(engine)
    return handle
