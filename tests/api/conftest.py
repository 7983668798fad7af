"""The real service over real HTTP: uvicorn in a background thread, on its own database.

The database is created empty and migrated to head through dbctl once per session. Tests
treat it as a black box: they set up data through the API only (``shop``), with unique
values, so they never depend on each other. ``queries`` counts the SQL statements that a
request sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

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
        ServiceSettings(database_url=api_database_url, pool_size=2, query_budget_mode="raise")
    ) as server:
        yield server


@pytest.fixture(scope="session")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def queries(live_server: LiveServer) -> Callable[[], AbstractContextManager[list[str]]]:
    """``with queries() as seen: client.get(...)``: the statements the service ran."""
    engine: Engine = live_server.app.state.engine

    @contextmanager
    def count() -> Iterator[list[str]]:
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return count


@pytest.fixture
def shop(client: httpx.Client) -> Shop:
    return Shop(client)
