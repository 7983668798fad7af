"""Every endpoint within its query budget (at most 3 statements, none in a loop),
measured by dbctl's pytest plugin on the statements the running service sends."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from dbctl.budget.pytest_plugin import QueryBudget
from tests.api.helpers import Shop, unique

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]


def count(queries: QueryBudget, request: Callable[[], httpx.Response], status: int) -> int:
    """The statements of the one request ``request`` makes."""
    with queries(3) as block:
        response = request()
    assert response.status_code == status, response.text
    [served] = block.requests
    return served.queries


def test_query_counts(shop: Shop, client: httpx.Client, query_budget: QueryBudget) -> None:
    queries = query_budget
    category = shop.category()["id"]
    customer = shop.customer()["id"]
    products = [shop.product(category, stock=3)["id"] for _ in range(10)]
    lines = [{"product_id": p, "quantity": 1} for p in products]
    order = {"customer_id": customer, "items": lines}

    def post(path: str, body: object) -> Callable[[], httpx.Response]:
        return lambda: client.post(path, json=body)

    def get(path: str) -> Callable[[], httpx.Response]:
        return lambda: client.get(path)

    created = client.post("/orders", json=order).json()["id"]
    measured = {
        "GET /health": count(queries, get("/health"), 200),
        "POST /customers": count(
            queries, post("/customers", {"email": f"{unique('q')}@x.io", "name": "Q"}), 201
        ),
        "POST /categories": count(queries, post("/categories", {"name": unique("q")}), 201),
        "POST /products": count(
            queries,
            post(
                "/products",
                {
                    "sku": unique("Q"),
                    "name": "q",
                    "category_id": category,
                    "price_cents": 1,
                    "stock": 1,
                },
            ),
            201,
        ),
        "GET /products": count(queries, get(f"/products?category_id={category}&limit=5"), 200),
        "POST /orders (10 items)": count(queries, post("/orders", order), 201),
        "POST /orders out of stock": count(
            queries, post("/orders", {**order, "items": [{**lines[0], "quantity": 9}]}), 409
        ),
        "POST /orders unknown customer": count(
            queries, post("/orders", {**order, "customer_id": 2**62}), 404
        ),
        "GET /orders/{id} (10 items)": count(queries, get(f"/orders/{created}"), 200),
        "GET /customers/{id}/orders": count(queries, get(f"/customers/{customer}/orders"), 200),
        "GET /products/top": count(queries, get("/products/top"), 200),
    }
    assert measured == {
        "GET /health": 1,
        "POST /customers": 1,
        "POST /categories": 1,
        "POST /products": 1,
        "GET /products": 1,
        "POST /orders (10 items)": 3,
        "POST /orders out of stock": 1,
        "POST /orders unknown customer": 3,
        "GET /orders/{id} (10 items)": 1,
        "GET /customers/{id}/orders": 1,
        "GET /products/top": 1,
    }
