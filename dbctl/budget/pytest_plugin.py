"""dbctl's pytest plugin (entry point ``pytest11``): hold a test's requests to a query budget.

    @pytest.mark.query_budget(3)            # every request of the test: at most 3 statements
    def test_order_detail(client): ...      # and none run twice (no looped query)

    def test_report(client, query_budget):  # the fixture alone: each route's own budget
        with query_budget(10):              # the requests of this block: at most 10 each
            client.get("/reports/yearly")
        assert query_budget.requests[-1].queries == 4

It sees the requests served by every application instrumented with
``dbctl.budget.install(app, engine)`` in the test's process, whatever its ``on_breach`` mode:
an app behind ``TestClient``, or uvicorn in a thread. Only the test's body counts (not its
fixtures' setup). A breaking test fails with each offending request and its statements.

``query_budget(n=None, *, allow_looped=False)``, as marker or as a call on the fixture: ``n``
is the most statements one request may run (``None``: the budget the app gives the route);
``allow_looped=True`` lets a request run the same statement more than once. Requests checked
by a ``with query_budget(...)`` block are not checked again at the end of the test. The
closest marker wins (a function's over its class's or module's); they do not merge.

A test held to a budget fails when none of its requests was seen (the app it calls is not
instrumented, or it sends none): a budget nobody measured is not a pass.

This module imports only pytest: it is loaded by every test session of a project that has
dbctl installed.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dbctl.budget.capture import Breach, RequestCapture

MARKER = "query_budget"
_STATE = pytest.StashKey["QueryBudget"]()
_SHOWN = 5  # distinct offending requests listed in a failure


@dataclass(frozen=True)
class Limits:
    """A budget: at most ``queries`` statements per request (``None``: the app's budget for
    the route), and whether a statement may run more than once."""

    queries: int | None = None
    allow_looped: bool = False

    @classmethod
    def of(cls, where: str, *args: object, **kwargs: object) -> Limits:
        """Read ``(n=None, *, allow_looped=False)``; a bad argument fails the test clearly."""
        unknown = set(kwargs) - {"n", "allow_looped"}
        if len(args) > 1 or unknown or ("n" in kwargs and args):
            pytest.fail(f"{where} takes (n=None, *, allow_looped=False)", pytrace=False)
        n = args[0] if args else kwargs.get("n")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            pytest.fail(f"{where}: n must be a whole number >= 0, not {n!r}", pytrace=False)
        allow_looped = kwargs.get("allow_looped", False)
        if not isinstance(allow_looped, bool):
            pytest.fail(f"{where}: allow_looped must be True or False", pytrace=False)
        return cls(n, allow_looped)


@dataclass
class _Seen:
    capture: RequestCapture
    app_budget: int
    checked: bool = False  # by a ``with query_budget(...)`` block


@dataclass
class QueryBudget:
    """The ``query_budget`` fixture: the requests of the test and the limits they are held to."""

    limits: Limits = field(default_factory=Limits)
    _seen: list[_Seen] = field(default_factory=list)
    _observing_now: bool = False

    @property
    def requests(self) -> list[RequestCapture]:
        """Every request finished so far in the test's body, oldest first."""
        return [seen.capture for seen in self._seen]

    def __call__(self, n: int | None = None, *, allow_looped: bool = False) -> _Block:
        """A block whose requests may run at most ``n`` statements each (see the module)."""
        return _Block(self, Limits.of("query_budget()", n, allow_looped=allow_looped))

    def _record(self, capture: RequestCapture, app_budget: int) -> None:
        self._seen.append(_Seen(capture, app_budget))  # list.append: safe from any thread

    @contextmanager
    def _observing(self) -> Iterator[None]:
        from dbctl.budget.capture import observe_requests

        self._observing_now = True
        try:
            with observe_requests(self._record):
                yield
        finally:
            self._observing_now = False

    def _require_requests(self, seen: list[_Seen]) -> None:
        """A budget nobody measured must not pass: fail when no request was seen."""
        if seen:
            return
        why = "no application is instrumented" if not _capturing() else "no request was seen"
        pytest.fail(
            f"query_budget: {why}, so there was nothing to hold to the budget: instrument "
            "the app the test calls with dbctl.budget.install(app, engine), or take the "
            "marker off a test that sends no request",
            pytrace=False,
        )

    def _check(self, seen: list[_Seen], limits: Limits) -> None:
        """Fail the test if a request of ``seen`` breaks ``limits``, listing the statements."""
        from dbctl.budget.capture import breaches, describe
        from dbctl.rule_ids import LOOPED_RULE

        broken: list[tuple[RequestCapture, list[Breach]]] = []
        for item in seen:
            item.checked = True
            budget = item.app_budget if limits.queries is None else limits.queries
            found = breaches(item.capture, budget)
            if limits.allow_looped:
                found = [breach for breach in found if breach.rule != LOOPED_RULE]
            if found:
                broken.append((item.capture, found))
        if not broken:
            return
        lines = [f"query budget: {len(broken)} of {len(seen)} request(s) broke it"]
        alike: dict[tuple[str, str, tuple[str, ...]], int] = {}
        for capture, found in broken:
            key = (capture.method, capture.route, tuple(b.message for b in found))
            alike[key] = alike.get(key, 0) + 1
            if alike[key] == 1 and len(alike) <= _SHOWN:
                lines.append(describe(capture, found))
        repeats = sum(count - 1 for count in alike.values())
        if repeats:
            lines.append(f"(and {repeats} more request(s) like those above)")
        if len(alike) > _SHOWN:
            lines.append(f"(and {len(alike) - _SHOWN} more kind(s) of request)")
        pytest.fail("\n".join(lines), pytrace=False)


class _Block:
    """``with query_budget(n):``: checks the block's requests when it ends."""

    def __init__(self, owner: QueryBudget, limits: Limits) -> None:
        self.owner = owner
        self.limits = limits
        self.start = 0

    def __enter__(self) -> _Block:
        if not self.owner._observing_now:
            pytest.fail(
                "with query_budget(...) works in the test's body, not in a fixture",
                pytrace=False,
            )
        self.start = len(self.owner._seen)
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            seen = self.owner._seen[self.start :]
            self.owner._require_requests(seen)
            self.owner._check(seen, self.limits)

    @property
    def requests(self) -> list[RequestCapture]:
        """The requests finished in the block so far."""
        return [seen.capture for seen in self.owner._seen[self.start :]]


def _capturing() -> bool:
    """Whether an engine is captured now (without importing the capture if nobody did)."""
    capture = sys.modules.get("dbctl.budget.capture")
    return capture is not None and bool(capture.capturing())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(n=None, *, allow_looped=False): fail the test if one of its requests to an "
        "app instrumented by dbctl.budget.install runs more than n statements (default: the "
        "route's budget) or runs a statement more than once; the statements are listed.",
    )


def _limits_of(item: pytest.Item) -> Limits | None:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    return Limits.of(f"@pytest.mark.{MARKER}", *marker.args, **marker.kwargs)


@pytest.fixture
def query_budget(request: pytest.FixtureRequest) -> QueryBudget:
    """The requests of this test, held to the marker's budget (or each route's own) at the
    end of the test; call it for a block with its own budget: ``with query_budget(2): ...``."""
    state = QueryBudget(_limits_of(request.node) or Limits())
    request.node.stash[_STATE] = state
    return state


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    state = item.stash.get(_STATE, None)
    if state is None:
        limits = _limits_of(item)
        if limits is None:
            return (yield)
        state = item.stash[_STATE] = QueryBudget(limits)
    with state._observing():  # the body only: requests made by fixtures' setup do not count
        result = yield
    state._require_requests(state._seen)
    state._check([seen for seen in state._seen if not seen.checked], state.limits)
    return result
