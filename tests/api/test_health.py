from __future__ import annotations

import httpx
import pytest

from service.settings import ServiceSettings
from tests.api.helpers import serve

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_health_is_503_when_the_database_is_unreachable() -> None:
    settings = ServiceSettings(
        database_url="postgresql://shop:secret@127.0.0.1:9/shop", connect_timeout=1
    )
    with serve(settings) as server, httpx.Client(base_url=server.base_url) as client:
        response = client.get("/health")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
