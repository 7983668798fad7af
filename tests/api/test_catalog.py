from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.jobs import run_refresh_top_products
from service.settings import ServiceSettings
from tests.api.helpers import Shop, field_errors, unique

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]


def test_create_category(client: httpx.Client) -> None:
    name = unique("toys")
    response = client.post("/categories", json={"name": name})
    assert response.status_code == 201
    assert response.json()["name"] == name
    assert client.post("/categories", json={"name": name}).status_code == 409
    assert field_errors(client.post("/categories", json={"name": " "})) == {("body", "name")}


def test_create_product(shop: Shop, client: httpx.Client) -> None:
    category = shop.category()["id"]
    body = {
        "sku": unique("BALL"),
        "name": "Ball",
        "category_id": category,
        "price_cents": 250,
        "stock": 7,
    }
    response = client.post("/products", json=body)
    assert response.status_code == 201
    product = response.json()
    assert {k: product[k] for k in body} == body
    assert product["id"] > 0 and product["created_at"]

    duplicate = client.post("/products", json={**body, "name": "Other"})
    assert duplicate.status_code == 409
    assert "sku" in duplicate.json()["detail"]


def test_product_of_unknown_category_is_404(client: httpx.Client) -> None:
    body = {"sku": unique("X"), "name": "x", "category_id": 2**62, "price_cents": 1, "stock": 1}
    response = client.post("/products", json=body)
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"category not found: {2**62}"},
    )


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"sku": "no spaces"}, {("body", "sku")}),
        ({"price_cents": -1}, {("body", "price_cents")}),
        ({"stock": -1, "category_id": 0}, {("body", "stock"), ("body", "category_id")}),
        ({"name": None}, {("body", "name")}),
    ],
)
def test_bad_product_is_422(
    client: httpx.Client, change: dict[str, Any], fields: set[tuple[str, ...]]
) -> None:
    body = {"sku": unique("X"), "name": "x", "category_id": 1, "price_cents": 1, "stock": 1}
    assert field_errors(client.post("/products", json={**body, **change})) == fields


def test_keyset_pagination_by_category(shop: Shop, client: httpx.Client) -> None:
    category = shop.category()["id"]
    made = [shop.product(category)["id"] for _ in range(5)]
    shop.product(shop.category()["id"])  # another category: never listed

    pages: list[list[int]] = []
    params: dict[str, int] = {"category_id": category, "limit": 2}
    while True:
        response = client.get("/products", params=params)
        assert response.status_code == 200
        body = response.json()
        pages.append([p["id"] for p in body["data"]])
        if body["next_after"] is None:
            break
        params["after"] = body["next_after"]
    assert pages == [made[0:2], made[2:4], made[4:]]


def test_products_without_category(shop: Shop, client: httpx.Client) -> None:
    first = shop.product(shop.category()["id"])["id"]
    second = shop.product(shop.category()["id"])["id"]
    response = client.get("/products", params={"after": first - 1, "limit": 2})
    assert [p["id"] for p in response.json()["data"]] == [first, second]


def test_empty_page(client: httpx.Client) -> None:
    response = client.get("/products", params={"category_id": 2**62})
    assert response.json() == {"data": [], "next_after": None}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"limit": 0}, {("query", "limit")}),
        ({"limit": 101}, {("query", "limit")}),
        ({"after": -1, "category_id": 0}, {("query", "after"), ("query", "category_id")}),
        ({"category_id": "x"}, {("query", "category_id")}),
    ],
)
def test_bad_product_query_is_422(
    client: httpx.Client, params: dict[str, Any], fields: set[tuple[str, ...]]
) -> None:
    assert field_errors(client.get("/products", params=params)) == fields


def test_top_products_after_refresh(
    shop: Shop, client: httpx.Client, api_database_url: str
) -> None:
    category = shop.category()["id"]
    customer = shop.customer()["id"]
    # Far larger quantities than any other test orders: these three lead the ranking.
    a, b, c = (shop.product(category, stock=50_000, price_cents=100)["id"] for _ in range(3))
    assert shop.order(customer, (a, 7000), (b, 9000)).status_code == 201
    assert shop.order(customer, (b, 1000), (c, 8000)).status_code == 201

    run_refresh_top_products(ServiceSettings(database_url=api_database_url))

    response = client.get("/products/top", params={"days": 7, "limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 7
    assert [(p["product_id"], p["units"], p["revenue_cents"]) for p in body["data"]] == [
        (b, 10_000, 1_000_000),
        (c, 8000, 800_000),
        (a, 7000, 700_000),
    ]
    assert set(body["data"][0]) == {"product_id", "sku", "name", "units", "revenue_cents"}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"days": 0}, {("query", "days")}),
        ({"days": 91}, {("query", "days")}),
        ({"limit": 0}, {("query", "limit")}),
    ],
)
def test_bad_top_query_is_422(
    client: httpx.Client, params: dict[str, int], fields: set[tuple[str, ...]]
) -> None:
    assert field_errors(client.get("/products/top", params=params)) == fields
