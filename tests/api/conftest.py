"""The real service over real HTTP: uvicorn in a background thread, on its own database.

The database is created empty and migrated to head through dbctl once per session. Tests
treat it as a black box: they set up data through the API only (``shop``), with unique
values, so they never depend on each other. Every test is held to 3 statements per request
and no looped statement by dbctl's own pytest plugin (``@pytest.mark.query_budget(3)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from service.settings import ServiceSettings
from tests.api.helpers import LiveServer, Shop, serve


@pytest.fixture(scope="session")
def api_database_url(
    make_database: Callable[[str], str], migrate_to: Callable[[str, str], None]
) -> str:
    url = make_database("api")
    migrate_to(url, "head")
    return url


@pytest.fixture(scope="session")
def live_server(api_database_url: str) -> Iterator[LiveServer]:
    with serve(
        ServiceSettings(
            database_url=api_database_url,
            pool_size=2,
            query_capture=True,  # whatever the environment says: the budget is measured
            query_budget_mode="log",
        )
    ) as server:
        yield server


@pytest.fixture(scope="session")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.base_url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def _held_to_the_query_budget(request: pytest.FixtureRequest) -> None:
    """Every API test is marked ``query_budget(3)``: dbctl's pytest plugin fails it if one of
    its requests runs more than 3 statements or one statement twice."""
    marker = request.node.get_closest_marker("query_budget")
    assert marker is not None and marker.args == (3,), "mark the module query_budget(3)"


@pytest.fixture
def shop(client: httpx.Client) -> Shop:
    return Shop(client)
