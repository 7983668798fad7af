"""How the service uses its connections.

The pool under more concurrent requests than it has connections and the server has
threads: every request is served, none waits out the pool timeout.

A session's clean-up used to run as a second task in the thread pool that the endpoints
share: with every thread blocked waiting for a pooled connection, the clean-ups that would
give connections back waited for a thread, and requests failed after ``pool_timeout``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from service.settings import ServiceSettings
from tests.api.helpers import LiveServer, Shop, serve

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]

CONCURRENT = 80  # more than the pool of 2 and the endpoint threads


def _server(database_url: str, **settings: object) -> Iterator[LiveServer]:
    """The service on ``database_url`` with ``settings`` over the API tests' own."""
    base: dict[str, object] = {"query_capture": True, "query_budget_mode": "log"}
    with serve(ServiceSettings(database_url=database_url, **{**base, **settings})) as server:
        yield server


@pytest.fixture(scope="module")
def small_pool_server(api_database_url: str) -> Iterator[LiveServer]:
    yield from _server(api_database_url, pool_size=2, max_overflow=0, pool_timeout=3)


def test_more_requests_than_connections_and_threads_are_all_served(
    small_pool_server: LiveServer,
) -> None:
    limits = httpx.Limits(max_connections=CONCURRENT)
    base = small_pool_server.base_url
    with (
        httpx.Client(base_url=base, timeout=30, limits=limits) as client,
        ThreadPoolExecutor(CONCURRENT) as pool,
    ):
        for _ in range(3):
            statuses = list(
                pool.map(lambda _: client.get("/health").status_code, range(CONCURRENT))
            )
            assert statuses == [200] * CONCURRENT  # a 503 is a pool timeout


def _transactions(database_url: str) -> int:
    """BEGIN statements PostgreSQL has seen in the service's database so far."""
    import psycopg

    from dbctl.pg.url import libpq_url

    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
        except psycopg.Error as exc:  # a server given by DBCTL_TEST_DATABASE_URL without it
            pytest.skip(f"pg_stat_statements is not usable on the test server: {exc}")
        row = conn.execute(
            "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = %s AND s.query ILIKE 'begin%%'",
            (database_url.rsplit("/", 1)[1],),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_reads_run_without_a_transaction_and_writes_within_one(
    client: httpx.Client, shop: Shop, api_database_url: str
) -> None:
    """A read is one statement: no BEGIN and ROLLBACK round trips around it."""
    category = shop.category()["id"]
    customer = shop.customer()["id"]
    product = shop.product(category)["id"]
    order = shop.order(customer, (product, 1)).json()["id"]
    before = _transactions(api_database_url)
    for path in (
        "/health",
        f"/products?category_id={category}",
        "/products/top",
        f"/orders/{order}",
        f"/customers/{customer}/orders",
    ):
        assert client.get(path).status_code == 200
    assert _transactions(api_database_url) == before
    assert shop.order(customer, (product, 1)).status_code == 201
    assert _transactions(api_database_url) == before + 1


@pytest.fixture(scope="module")
def lock_timeout_server(api_database_url: str) -> Iterator[LiveServer]:
    yield from _server(api_database_url, lock_timeout_ms=300)


def test_requests_stuck_on_a_lock_give_up_and_the_service_stays_up(
    lock_timeout_server: LiveServer, api_database_url: str
) -> None:
    """Every endpoint thread waiting on a row lock held elsewhere: the waits end at
    lock_timeout with a 503 that says to retry, and the service answers again."""
    import psycopg

    from dbctl.pg.url import libpq_url

    settings = ServiceSettings()
    with httpx.Client(base_url=lock_timeout_server.base_url, timeout=30) as client:
        shop = Shop(client)
        customer = shop.customer()["id"]
        product = shop.product(shop.category()["id"], stock=100)["id"]
        with psycopg.connect(libpq_url(api_database_url)) as holder:
            holder.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (product,))
            with ThreadPoolExecutor(settings.threads) as pool:
                orders = list(
                    pool.map(lambda _: shop.order(customer, (product, 1)), range(settings.threads))
                )
            health = client.get("/health")
        assert [o.status_code for o in orders] == [503] * settings.threads
        assert orders[0].headers["retry-after"] == "1"
        assert "busy" in orders[0].json()["detail"]
        assert health.status_code == 200
        assert shop.order(customer, (product, 1)).status_code == 201  # the lock is gone
