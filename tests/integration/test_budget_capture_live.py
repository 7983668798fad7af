"""The request capture on a tiny FastAPI app over a real PostgreSQL database.

The app has one well-behaved endpoint (1 query), a parameterised route ``/items/{id}``
(1 query) and a deliberately looped endpoint (1 query, then 1 per item).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI, HTTPException
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from dbctl.budget.capture import (
    BUDGET_RULE,
    LOOPED_RULE,
    UNMATCHED,
    CaptureHandle,
    QueryBudgetExceeded,
    install,
    statement_fingerprint,
)
from dbctl.cli import app

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the dev group has httpx only.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

ITEMS = 4
ONE_ITEM = "SELECT id, name FROM items WHERE id = :id"


@pytest.fixture(scope="module")
def items_engine(make_database: Callable[[str], str]) -> Iterator[Engine]:
    engine = create_engine(make_database("budget"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)"))
        conn.execute(
            text("INSERT INTO items SELECT n, 'item ' || n FROM generate_series(1, :n) n"),
            {"n": ITEMS},
        )
    yield engine
    engine.dispose()


def make_app(engine: Engine) -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    def list_items() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name FROM items ORDER BY id")).mappings()
            return [dict(row) for row in rows]

    @app.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(text(ONE_ITEM), {"id": item_id}).mappings().first()
        if row is None:
            raise HTTPException(404, "no such item")
        return dict(row)

    @app.get("/failing")
    def failing() -> dict[str, str]:
        # A statement that fails still went to the database: it counts, with its time.
        with engine.connect() as conn:
            try:
                conn.execute(text("SELECT 1 / 0"))
            except DBAPIError:
                conn.rollback()
            conn.execute(text("SELECT 1"))
        return {"ok": "yes"}

    @app.get("/looped")
    def looped() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            ids = conn.execute(text("SELECT id FROM items ORDER BY id")).scalars().all()
            return [dict(conn.execute(text(ONE_ITEM), {"id": i}).mappings().one()) for i in ids]

    return app


@pytest.fixture
def installed(items_engine: Engine) -> Iterator[Callable[..., tuple[TestClient, CaptureHandle]]]:
    handles: list[CaptureHandle] = []

    def build(**options: Any) -> tuple[TestClient, CaptureHandle]:
        app = make_app(items_engine)
        handle = install(app, items_engine, registry=CollectorRegistry(), **options)
        handles.append(handle)
        return TestClient(app), handle

    yield build
    for handle in handles:
        handle.remove()


def sample(handle: CaptureHandle, name: str, **labels: str) -> float | None:
    return handle.metrics.registry.get_sample_value(name, labels)


def test_counts_per_route_template_and_metric_values(installed: Callable[..., Any]) -> None:
    client, handle = installed()
    assert client.get("/items").status_code == 200
    assert client.get("/items/1").status_code == 200
    assert client.get("/items/2").status_code == 200
    assert client.get("/items/999").status_code == 404

    route = {"route": "/items/{item_id}"}  # the template, not /items/1
    assert sample(handle, "db_queries_per_request_count", method="GET", **route) == 3
    assert sample(handle, "db_queries_per_request_sum", method="GET", **route) == 3
    assert sample(handle, "db_queries_per_request_bucket", method="GET", le="1.0", **route) == 3
    assert sample(handle, "db_query_duration_seconds_count", **route) == 3
    ok = sample(handle, "http_request_duration_seconds_count", method="GET", status="200", **route)
    assert ok == 2
    missing = {"method": "GET", "status": "404", **route}
    assert sample(handle, "http_request_duration_seconds_count", **missing) == 1
    assert sample(handle, "db_queries_per_request_count", route="/items", method="GET") == 1
    # the well-behaved endpoints break no rule
    for rule in (BUDGET_RULE, LOOPED_RULE):
        assert sample(handle, "db_query_budget_breaches_total", rule=rule, **route) is None


def test_unmatched_paths_share_one_route_label(installed: Callable[..., Any]) -> None:
    client, handle = installed()
    assert client.get("/nowhere/1").status_code == 404
    assert client.get("/nowhere/2").status_code == 404
    labels = {"route": UNMATCHED, "method": "GET", "status": "404"}
    assert sample(handle, "http_request_duration_seconds_count", **labels) == 2


def test_the_looped_endpoint_is_counted_in_production_mode(installed: Callable[..., Any]) -> None:
    client, handle = installed()  # on_breach="count"
    response = client.get("/looped")
    assert response.status_code == 200
    assert len(response.json()) == ITEMS
    assert sample(handle, "db_queries_per_request_sum", route="/looped", method="GET") == ITEMS + 1
    assert (
        sample(handle, "db_queries_per_request_bucket", route="/looped", method="GET", le="3.0")
        == 0
    )
    assert sample(handle, "db_query_duration_seconds_count", route="/looped") == ITEMS + 1
    for rule in (BUDGET_RULE, LOOPED_RULE):
        assert sample(handle, "db_query_budget_breaches_total", route="/looped", rule=rule) == 1


def test_a_route_budget_overrides_the_default_but_not_the_loop_rule(
    installed: Callable[..., Any],
) -> None:
    client, handle = installed(routes={"/looped": 10}, budget=1)
    assert client.get("/looped").status_code == 200
    assert client.get("/items").status_code == 200
    assert sample(handle, "db_query_budget_breaches_total", route="/looped", rule=LOOPED_RULE) == 1
    assert (
        sample(handle, "db_query_budget_breaches_total", route="/looped", rule=BUDGET_RULE) is None
    )
    assert (
        sample(handle, "db_query_budget_breaches_total", route="/items", rule=BUDGET_RULE) is None
    )


def test_log_mode_warns_with_the_statements(
    installed: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, handle = installed(on_breach="log")
    with caplog.at_level(logging.WARNING, logger="dbctl.budget"):
        assert client.get("/items/1").status_code == 200
        assert caplog.records == []
        assert client.get("/looped").status_code == 200
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "GET /looped: 5 queries, budget 3; 1 statement(s) run in a loop" in message
    assert f"{ITEMS}x" in message
    assert "SELECT id, name FROM items WHERE id = %(id)s" in message
    assert sample(handle, "db_query_budget_breaches_total", route="/looped", rule=LOOPED_RULE) == 1


def test_a_breach_is_logged_after_a_logging_config_disabled_existing_loggers(
    installed: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Alembic's env.py template calls logging.config.fileConfig(), which disables every
    logger that exists (disable_existing_loggers): the app's test suite migrates, then a
    breach it asked to log must still be logged."""
    import logging.config

    client, _ = installed(on_breach="log")
    loggers = [v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)]
    disabled = {logger: logger.disabled for logger in loggers}
    try:
        logging.config.dictConfig({"version": 1})  # disable_existing_loggers: True
        assert logging.getLogger("dbctl.budget").disabled
        with caplog.at_level(logging.WARNING, logger="dbctl.budget"):
            assert client.get("/looped").status_code == 200
        assert [r.levelno for r in caplog.records] == [logging.WARNING]
    finally:
        for logger, state in disabled.items():
            logger.disabled = state


def test_raise_mode_fails_the_request_with_the_statements(
    installed: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, handle = installed(on_breach="raise")
    with pytest.raises(QueryBudgetExceeded) as raised:
        client.get("/looped")
    error = raised.value
    assert error.capture.route == "/looped"
    assert error.capture.queries == ITEMS + 1
    assert [b.rule for b in error.breaches] == [BUDGET_RULE, LOOPED_RULE]
    assert "SELECT id, name FROM items WHERE id = %(id)s" in str(error)
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert sample(handle, "db_query_budget_breaches_total", route="/looped", rule=LOOPED_RULE) == 1


def test_raise_mode_sends_a_500_listing_the_statements(installed: Callable[..., Any]) -> None:
    client, _ = installed(on_breach="raise")
    quiet = TestClient(client.app, raise_server_exceptions=False)
    response = quiet.get("/looped")
    assert response.status_code == 500
    assert response.text.splitlines()[0] == (
        "GET /looped: 5 queries, budget 3; 1 statement(s) run in a loop"
    )
    assert f"{ITEMS}x" in response.text


def test_raise_mode_passes_well_behaved_responses_through(installed: Callable[..., Any]) -> None:
    client, _ = installed(on_breach="raise")
    response = client.get("/items/2")
    assert response.status_code == 200
    assert response.json() == {"id": 2, "name": "item 2"}
    assert client.get("/items/999").status_code == 404


def test_metrics_endpoint_serves_the_registry_and_is_not_captured(
    installed: Callable[..., Any],
) -> None:
    client, handle = installed()
    client.get("/items")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'db_queries_per_request_count{method="GET",route="/items"} 1.0' in response.text
    assert 'le="0.2"' in response.text
    client.get("/metrics")
    for route in ("/metrics", UNMATCHED):
        labels = {"route": route, "method": "GET", "status": "200"}
        assert sample(handle, "http_request_duration_seconds_count", **labels) is None


def test_statements_outside_a_request_are_ignored(
    installed: Callable[..., Any], items_engine: Engine
) -> None:
    client, handle = installed()
    with items_engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    client.get("/items")
    assert sample(handle, "db_query_duration_seconds_count", route="/items") == 1


def test_the_json_lines_log_round_trip(installed: Callable[..., Any], tmp_path: Path) -> None:
    log = tmp_path / "capture.jsonl"
    client, _ = installed(log_path=log)
    client.get("/items/3")
    client.get("/looped")
    first, second = (json.loads(line) for line in log.read_text().splitlines())

    one_item = statement_fingerprint("SELECT id, name FROM items WHERE id = %(id)s")
    assert first["route"] == "/items/{item_id}"
    assert (first["method"], first["status"], first["queries"], first["looped"]) == (
        "GET",
        200,
        1,
        [],
    )
    assert first["duration_ms"] > 0
    [statement] = first["statements"]
    assert statement["fingerprint"] == one_item
    assert statement["statement"] == "SELECT id, name FROM items WHERE id = %(id)s"
    assert statement["count"] == 1
    assert statement["time_ms"] > 0

    assert (second["route"], second["queries"], second["looped"]) == ("/looped", 5, [one_item])
    assert [(s["statement"], s["count"]) for s in second["statements"]] == [
        ("SELECT id FROM items ORDER BY id", 1),
        ("SELECT id, name FROM items WHERE id = %(id)s", ITEMS),
    ]
    client.get("/items")
    assert len(log.read_text().splitlines()) == 3  # appends, one line per request


def test_a_failed_statement_counts(installed: Callable[..., Any]) -> None:
    client, handle = installed()
    assert client.get("/failing").status_code == 200
    assert sample(handle, "db_queries_per_request_sum", route="/failing", method="GET") == 2
    assert sample(handle, "db_query_duration_seconds_count", route="/failing") == 2


def test_the_log_feeds_query_budget_and_check_indexes(
    installed: Callable[..., Any], tmp_path: Path
) -> None:
    """Real requests, logged by the capture, read back by the two commands."""
    log = tmp_path / "capture.jsonl"
    client, _ = installed(log_path=log, routes={"/items": 0})
    for item in (1, 2, 3):
        client.get(f"/items/{item}")
    client.get("/looped")
    client.get("/looped")
    client.get("/items")

    result = CliRunner().invoke(app, ["query-budget", str(log), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    rows = {(row["method"], row["route"]): row for row in report["data"]["endpoints"]}
    assert rows["GET", "/items/{item_id}"]["requests"] == 3
    assert rows["GET", "/items/{item_id}"]["queries_max"] == 1
    assert rows["GET", "/items"]["budget"] == 0  # the route's own budget, as the app logged it
    looped = rows["GET", "/looped"]
    assert (looped["requests"], looped["queries_p50"], looped["over_budget"]) == (2, 5, 2)
    [statement] = looped["looped"]
    assert (statement["statement"], statement["most"]) == (ONE_ITEM.replace(":id", "%(id)s"), 4)
    found = sorted((f["rule"], f["evidence"]["route"]) for f in report["findings"])
    assert found == [
        ("looped-query", "/looped"),
        ("query-budget-exceeded", "/items"),
        ("query-budget-exceeded", "/looped"),
    ]
    # the same log is a source of statements for check-indexes (no error, every one read)
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);\n")
    checked = CliRunner().invoke(
        app, ["check-indexes", "--from-log", str(log), "--schema", str(schema), "--format", "json"]
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["summary"]["statements"] == 3 + 2 * 2 + 1


def test_an_async_engine_is_captured_in_async_endpoints(items_engine: Engine) -> None:
    """create_async_engine + async def endpoints: the statements run in SQLAlchemy's
    greenlets, and still land in the request's capture."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(items_engine.url)
    app = FastAPI()

    @app.get("/async/looped")
    async def looped() -> list[int]:
        async with engine.connect() as conn:
            ids = (await conn.execute(text("SELECT id FROM items ORDER BY id"))).scalars().all()
            for item in ids:
                await conn.execute(text(ONE_ITEM), {"id": item})
        return list(ids)

    handle = install(app, engine, registry=CollectorRegistry())
    try:
        with TestClient(app) as client:
            assert client.get("/async/looped").status_code == 200
        labels = {"route": "/async/looped", "method": "GET"}
        assert sample(handle, "db_queries_per_request_sum", **labels) == ITEMS + 1
        breaches = {"route": "/async/looped", "rule": LOOPED_RULE}
        assert sample(handle, "db_query_budget_breaches_total", **breaches) == 1
    finally:
        handle.remove()


def test_concurrent_requests_keep_their_own_statements(
    items_engine: Engine, tmp_path: Path
) -> None:
    """Real HTTP, uvicorn, 8 clients at once: each request's capture holds its own
    statements and nobody else's (sync endpoints run in a thread pool, async ones in the
    event loop; the ContextVar keeps them apart)."""
    import socket
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import uvicorn

    log = tmp_path / "capture.jsonl"
    app = make_app(items_engine)
    handle = install(app, items_engine, registry=CollectorRegistry(), log_path=log)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.01)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        paths = ["/looped", "/items/1", "/items", "/items/999"] * 25
        with httpx.Client(base_url=base) as client, ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda path: client.get(path).status_code, paths))
        assert statuses.count(404) == 25
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        handle.remove()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == len(paths)
    queries = {(r["route"], r["status"], r["queries"]) for r in records}
    assert queries == {
        ("/looped", 200, ITEMS + 1),
        ("/items/{item_id}", 200, 1),
        ("/items/{item_id}", 404, 1),
        ("/items", 200, 1),
    }


# -- what the review found: each case failed before the fix ---------------------------------


def test_a_log_that_cannot_be_written_never_breaks_a_response(
    installed: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client, handle = installed(log_path=tmp_path / "missing" / "capture.jsonl")
    with caplog.at_level(logging.ERROR, logger="dbctl.budget"):
        first = client.get("/items/1")
        second = client.get("/items/2")
    assert (first.status_code, first.json()["id"]) == (200, 1)
    assert (second.status_code, second.json()["id"]) == (200, 2)
    assert sample(handle, "db_queries_per_request_count", route="/items/{item_id}", method="GET")
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1  # said once


def test_route_labels_of_mounted_apps_and_plain_routes(items_engine: Engine) -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    inner = make_app(items_engine)
    app = FastAPI()
    app.mount("/v2", inner)

    async def plain(request: Request) -> PlainTextResponse:
        with items_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return PlainTextResponse("ok")

    app.add_route("/plain/{n}", plain)
    handle = install(app, items_engine, registry=CollectorRegistry())
    nested = install(inner, items_engine, registry=CollectorRegistry())  # counted once
    try:
        client = TestClient(app)
        assert client.get("/v2/items/1").status_code == 200
        assert client.get("/v2/looped").status_code == 200
        assert client.get("/plain/1").status_code == 200
        assert client.get("/plain/2").status_code == 200
        assert client.get("/nowhere").status_code == 404
    finally:
        handle.remove()
        nested.remove()
    count = "db_queries_per_request_count"
    assert sample(handle, count, route="/v2/items/{item_id}", method="GET") == 1
    assert sample(handle, "db_queries_per_request_sum", route="/v2/looped", method="GET") == 5
    assert sample(handle, count, route="/plain/{n}", method="GET") == 2
    assert sample(handle, count, route=UNMATCHED, method="GET") == 1
    assert (
        nested.metrics.registry.get_sample_value(
            count, {"route": "/items/{item_id}", "method": "GET"}
        )
        is None
    )


@pytest.mark.parametrize("mode", ["count", "raise"])
def test_statements_of_background_tasks_are_not_the_requests(
    items_engine: Engine, mode: str, tmp_path: Path
) -> None:
    app = FastAPI()

    def later() -> None:
        with items_engine.connect() as conn:
            for item in (1, 2, 3, 4):
                conn.execute(text(ONE_ITEM), {"id": item})

    @app.get("/bg")
    def bg(tasks: BackgroundTasks) -> dict[str, bool]:
        with items_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        tasks.add_task(later)
        return {"queued": True}

    log = tmp_path / "capture.jsonl"
    handle = install(app, items_engine, registry=CollectorRegistry(), on_breach=mode, log_path=log)
    try:
        response = TestClient(app).get("/bg")
    finally:
        handle.remove()
    assert response.status_code == 200  # not turned into a 500 by the task's loop
    [record] = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["queries"] == 1


def test_metrics_behind_a_root_path_are_not_captured(items_engine: Engine) -> None:
    app = make_app(items_engine)
    handle = install(app, items_engine, registry=CollectorRegistry())
    try:
        client = TestClient(app, root_path="/api")
        assert client.get("/api/items/1").status_code == 200
        assert client.get("/api/metrics").status_code == 200
    finally:
        handle.remove()
    assert sample(handle, "db_queries_per_request_count", route="/items/{item_id}", method="GET")
    labels = {"route": UNMATCHED, "method": "GET", "status": "200"}
    assert sample(handle, "http_request_duration_seconds_count", **labels) is None
