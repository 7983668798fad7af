"""dbctl's pytest plugin, run by pytest itself (``pytester``) on a test file of a small app.

The app, over a real PostgreSQL database, has a well-behaved endpoint (1 query), a route
with a parameter (1 query), one with two different statements, and a deliberately looped
endpoint (1 query, then 1 per item). The inner session loads the plugin through its
``pytest11`` entry point, as any project that installs dbctl does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.integration

APP = """
import os
import warnings

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from dbctl.budget import install

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ONE = "SELECT id, name FROM items WHERE id = :id"
engine = create_engine(os.environ["PLUGIN_TEST_DATABASE_URL"])
other_engine = create_engine(os.environ["PLUGIN_TEST_DATABASE_URL"])  # never captured
app = FastAPI()
install(app, engine, budget=3, routes={"/strict": 1}, on_breach="count",
        registry=CollectorRegistry())


@app.get("/items")
def items():
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("SELECT id, name FROM items")).mappings()]


@app.get("/items/{item_id}")
def item(item_id: int):
    with engine.connect() as conn:
        return dict(conn.execute(text(ONE), {"id": item_id}).mappings().one())


@app.get("/strict")
def strict():
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.execute(text("SELECT count(*) FROM items"))
    return {}


@app.get("/looped")
def looped():
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM items ORDER BY id")).scalars().all()
        return [dict(conn.execute(text(ONE), {"id": i}).mappings().one()) for i in ids]


@pytest.fixture
def client():
    with TestClient(app) as client:
        yield client


@pytest.fixture
def new_client():
    return lambda: TestClient(app)


@pytest.fixture
def bare():
    plain = FastAPI()

    @plain.get("/looped")
    def looped():
        with other_engine.connect() as conn:
            for item in (1, 2, 3, 4):
                conn.execute(text(ONE), {"id": item})
        return {}

    return TestClient(plain)
"""

TESTS = """
import pytest


@pytest.mark.query_budget(3)
def test_marked_looped_endpoint_fails(client):
    assert client.get("/looped").status_code == 200


@pytest.mark.query_budget(1)
def test_marked_within_budget_passes(client):
    assert client.get("/items").status_code == 200
    assert client.get("/items/2").status_code == 200


def test_fixture_alone_holds_requests_to_the_apps_budget(client, query_budget):
    client.get("/strict")


def test_fixture_gives_the_requests(client, query_budget):
    client.get("/items/3")
    client.get("/items")
    [first, second] = query_budget.requests
    assert (first.route, first.queries, second.route) == ("/items/{item_id}", 1, "/items")


def test_block_with_its_own_budget_passes_and_is_not_checked_again(client, query_budget):
    with query_budget(10, allow_looped=True) as block:
        client.get("/looped")
    assert block.requests[0].queries == 5


def test_block_over_its_budget_fails(client, query_budget):
    with query_budget(1):
        client.get("/strict")


@pytest.mark.query_budget(5, allow_looped=True)
def test_allow_looped_within_budget_passes(client):
    client.get("/looped")


@pytest.fixture
def warmed(client):
    client.get("/looped")  # in the setup: not the test's request
    return client


@pytest.mark.query_budget(3)
def test_setup_requests_do_not_count(warmed):
    warmed.get("/items")


@pytest.mark.query_budget("three")
def test_bad_marker_argument(client):
    client.get("/items")


def test_unmarked_tests_are_left_alone(client):
    client.get("/looped")


@pytest.mark.query_budget(3)
def test_an_app_nobody_instruments_is_not_a_pass(bare):
    bare.get("/looped")


@pytest.fixture
def checked_in_setup(client, query_budget):
    with query_budget(0):
        client.get("/items")


def test_a_block_in_a_fixture_is_a_mistake(checked_in_setup):
    pass


@pytest.mark.query_budget(3)
def test_the_app_started_inside_the_test_counts(new_client):
    with new_client() as client:
        client.get("/looped")
"""

EXPECTED = {
    "test_marked_looped_endpoint_fails": "failed",
    "test_marked_within_budget_passes": "passed",
    "test_fixture_alone_holds_requests_to_the_apps_budget": "failed",
    "test_fixture_gives_the_requests": "passed",
    "test_block_with_its_own_budget_passes_and_is_not_checked_again": "passed",
    "test_block_over_its_budget_fails": "failed",
    "test_allow_looped_within_budget_passes": "passed",
    "test_setup_requests_do_not_count": "passed",
    "test_bad_marker_argument": "failed",
    "test_unmarked_tests_are_left_alone": "passed",
    "test_an_app_nobody_instruments_is_not_a_pass": "failed",
    "test_a_block_in_a_fixture_is_a_mistake": "error",
    "test_the_app_started_inside_the_test_counts": "failed",
}


@pytest.fixture(scope="module")
def items_url(make_database: Callable[[str], str]) -> str:
    url = make_database("plugin")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)"))
        conn.execute(text("INSERT INTO items SELECT n, 'item ' || n FROM generate_series(1, 4) n"))
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def outcome(items_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """One inner pytest session in a subprocess: its outcome per test, and its output."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "conftest.py").write_text(APP)
    (folder / "test_app.py").write_text(TESTS)
    env = {**os.environ, "PLUGIN_TEST_DATABASE_URL": items_url, "COLUMNS": "200"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_app.py"],
        check=False,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    outcomes = {}
    for line in output.splitlines():
        for word in ("PASSED", "FAILED", "ERROR"):
            if line.startswith(f"{word} test_app.py::"):
                name = line.split("::", 1)[1].split()[0]
                outcomes[name] = word.lower()
    return outcomes, output


def test_each_inner_test_passes_or_fails_as_it_should(outcome: tuple[dict[str, str], str]) -> None:
    outcomes, output = outcome
    assert outcomes == EXPECTED, output


def _failure(output: str, test: str) -> str:
    """The text of ``test``'s failure section."""
    start = output.index(f"_ {test} _")
    end = output.find("\n_", start + 1)
    section = output[start : end if end != -1 else None]
    return section.split("short test summary")[0]


def test_a_looped_endpoint_is_caught_with_its_statements(
    outcome: tuple[dict[str, str], str],
) -> None:
    section = _failure(outcome[1], "test_marked_looped_endpoint_fails")
    assert "query budget: 1 of 1 request(s) broke it" in section
    assert "GET /looped: 5 queries, budget 3; 1 statement(s) run in a loop" in section
    assert "4x" in section and "SELECT id, name FROM items WHERE id = %(id)s" in section
    assert "1x" in section and "SELECT id FROM items ORDER BY id" in section
    assert "Traceback" not in section and "pytest_plugin.py" not in section


def test_without_a_marker_the_routes_own_budget_applies(
    outcome: tuple[dict[str, str], str],
) -> None:
    section = _failure(outcome[1], "test_fixture_alone_holds_requests_to_the_apps_budget")
    assert "GET /strict: 2 queries, budget 1" in section


def test_a_block_fails_on_its_own_budget(outcome: tuple[dict[str, str], str]) -> None:
    section = _failure(outcome[1], "test_block_over_its_budget_fails")
    assert "GET /strict: 2 queries, budget 1" in section
    assert "SELECT count(*) FROM items" in section


def test_a_bad_marker_argument_is_one_clear_line(outcome: tuple[dict[str, str], str]) -> None:
    section = _failure(outcome[1], "test_bad_marker_argument")
    assert "@pytest.mark.query_budget: n must be a whole number >= 0, not 'three'" in section
    assert "Traceback" not in section


def test_an_uninstrumented_app_fails_the_test_in_one_line(
    outcome: tuple[dict[str, str], str],
) -> None:
    section = _failure(outcome[1], "test_an_app_nobody_instruments_is_not_a_pass")
    assert "query_budget: no request was seen, so there was nothing to hold" in section


def test_a_block_outside_the_body_is_said(outcome: tuple[dict[str, str], str]) -> None:
    assert "with query_budget(...) works in the test's body, not in a fixture" in outcome[1]


def test_an_app_whose_lifespan_runs_in_the_test_is_checked(
    outcome: tuple[dict[str, str], str],
) -> None:
    section = _failure(outcome[1], "test_the_app_started_inside_the_test_counts")
    assert "GET /looped: 5 queries, budget 3" in section
