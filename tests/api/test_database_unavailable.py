"""A database the service cannot use is a 503 on every endpoint, never a stack trace.

The test cluster trusts every local connection (dbctl's sandbox), so an authentication
failure is made with a role that may not log in and a role that does not exist (both
SQLSTATE class 28, as a wrong password is); a closed port stands for a database that is
down. An error the service does not expect stays a 500, with a body that says nothing of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from dbctl.pg.url import libpq_url
from service.settings import ServiceSettings
from tests.api.helpers import LiveServer, serve

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]

PASSWORD = "s3cret-not-shown"
SMALL = 500

ORDER = {"customer_id": 1, "items": [{"product_id": 1, "quantity": 1}]}
PRODUCT = {"sku": "S-1", "name": "Ball", "category_id": 1, "price_cents": 1, "stock": 1}
DATA_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/products", None),
    ("GET", "/products?category_id=1&after=1", None),
    ("GET", "/products/top", None),
    ("GET", "/orders/1", None),
    ("GET", "/customers/1/orders", None),
    ("POST", "/customers", {"email": "a@example.com", "name": "A"}),
    ("POST", "/categories", {"name": "Toys"}),
    ("POST", "/products", PRODUCT),
    ("POST", "/orders", ORDER),
]


def _admin(pg_admin_url: str, statement: str) -> None:
    with psycopg.connect(libpq_url(pg_admin_url), autocommit=True) as conn:
        conn.execute(statement)


def _as_role(database_url: str, role: str) -> str:
    url = make_url(database_url).set(username=role, password=PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["closed-port", "no-login-role", "unknown-role"])
def unusable_database_url(
    request: pytest.FixtureRequest, api_database_url: str, pg_admin_url: str
) -> Iterator[str]:
    if request.param == "closed-port":
        yield f"postgresql://shop:{PASSWORD}@127.0.0.1:9/shop"
        return
    role = f"api_nologin_{uuid.uuid4().hex[:8]}"
    if request.param == "unknown-role":
        yield _as_role(api_database_url, role)
        return
    _admin(pg_admin_url, f"CREATE ROLE {role} NOLOGIN PASSWORD '{PASSWORD}'")
    try:
        yield _as_role(api_database_url, role)
    finally:
        _admin(pg_admin_url, f"DROP ROLE {role}")


@pytest.fixture(scope="module")
def unusable_server(unusable_database_url: str) -> Iterator[LiveServer]:
    settings = ServiceSettings(database_url=unusable_database_url, connect_timeout=1)
    with serve(settings) as server:
        yield server


def _request(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    return client.request(method, path, json=body)


@pytest.mark.parametrize(
    ("method", "path", "body"), DATA_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in DATA_ENDPOINTS]
)
def test_every_data_endpoint_is_503(
    unusable_server: LiveServer, method: str, path: str, body: Any
) -> None:
    with httpx.Client(base_url=unusable_server.base_url, timeout=10) as client:
        response = _request(client, method, path, body)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json() == {"detail": "the database is unavailable: try again later"}
    assert len(response.content) < SMALL
    assert PASSWORD not in response.text


def test_health_is_503_with_retry_after(unusable_server: LiveServer) -> None:
    with httpx.Client(base_url=unusable_server.base_url, timeout=10) as client:
        response = client.get("/health")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert response.headers["retry-after"].isdigit()


def test_bad_input_is_still_422_when_the_database_is_unavailable(
    unusable_server: LiveServer,
) -> None:
    with httpx.Client(base_url=unusable_server.base_url, timeout=10) as client:
        response = client.get("/orders/99999999999999999999")
    assert response.status_code == 422


@pytest.fixture(scope="module")
def side_database_url(
    make_database: Callable[[str], str], migrate_to: Callable[[str, str], None]
) -> str:
    """A migrated database of this module's own, whose top-products view is dropped behind
    the service's back."""
    url = make_database("api_side")
    migrate_to(url, "head")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP MATERIALIZED VIEW top_products_by_window")
    return url


def test_a_connection_lost_is_503_and_the_next_request_reconnects(side_database_url: str) -> None:
    settings = ServiceSettings(database_url=side_database_url, pool_size=1, pool_pre_ping=False)
    with serve(settings) as server, httpx.Client(base_url=server.base_url) as client:
        assert client.get("/products").status_code == 200
        with psycopg.connect(libpq_url(side_database_url), autocommit=True) as conn:
            terminated = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        assert terminated  # the service's pooled connection
        response = client.get("/products")
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": "the database is unavailable: try again later"}
        assert client.get("/products").status_code == 200


def test_an_unexpected_error_is_a_generic_500(side_database_url: str) -> None:
    settings = ServiceSettings(database_url=side_database_url, pool_size=1)
    with serve(settings) as server, httpx.Client(base_url=server.base_url) as client:
        response = client.get("/products/top")
        assert response.status_code == 500
        assert response.json() == {"detail": "internal server error"}
        assert "top_products_by_window" not in response.text
        assert client.get("/health").status_code == 200  # the server serves on
