from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import Shop, field_errors, unique

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]


def test_create_customer(client: httpx.Client) -> None:
    email = f"{unique('Ann')}@Example.com"
    response = client.post("/customers", json={"email": email, "name": "  Ann  "})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] > 0
    assert (body["email"], body["name"]) == (email.lower(), "Ann")
    assert body["created_at"]


def test_duplicate_email_is_409(client: httpx.Client) -> None:
    body = {"email": f"{unique('dup')}@example.com", "name": "Ann"}
    assert client.post("/customers", json=body).status_code == 201
    response = client.post("/customers", json={**body, "email": body["email"].upper()})
    assert response.status_code == 409
    assert "exists" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "not-an-email", "name": "Ann"}, {("body", "email")}),
        ({"email": "a@b.c", "name": ""}, {("body", "name")}),
        ({"email": "a b@c.d", "name": "x" * 201}, {("body", "email"), ("body", "name")}),
        ({}, {("body", "email"), ("body", "name")}),
    ],
)
def test_bad_customer_is_422(
    client: httpx.Client, body: dict[str, str], fields: set[tuple[str, ...]]
) -> None:
    assert field_errors(client.post("/customers", json=body)) == fields


def test_recent_orders_newest_first(shop: Shop, client: httpx.Client) -> None:
    customer = shop.customer()["id"]
    product = shop.product(shop.category()["id"])["id"]
    placed = [shop.order(customer, (product, 1)).json()["id"] for _ in range(3)]

    response = client.get(f"/customers/{customer}/orders", params={"limit": 2})
    assert response.status_code == 200
    data = response.json()["data"]
    assert [o["id"] for o in data] == placed[::-1][:2]
    assert set(data[0]) == {
        "id",
        "customer_id",
        "status",
        "total_cents",
        "item_count",
        "created_at",
    }
    assert (data[0]["customer_id"], data[0]["item_count"], data[0]["total_cents"]) == (
        customer,
        1,
        500,
    )


def test_customer_without_orders(shop: Shop, client: httpx.Client) -> None:
    customer = shop.customer()["id"]
    response = client.get(f"/customers/{customer}/orders")
    assert (response.status_code, response.json()) == (200, {"data": []})


def test_orders_of_unknown_customer_is_404(client: httpx.Client) -> None:
    response = client.get(f"/customers/{2**62}/orders")
    assert response.status_code == 404
    assert response.json() == {"detail": f"customer not found: {2**62}"}


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/customers/0/orders", {("path", "customer_id")}),
        ("/customers/abc/orders", {("path", "customer_id")}),
        ("/customers/1/orders?limit=0", {("query", "limit")}),
        ("/customers/1/orders?limit=101", {("query", "limit")}),
    ],
)
def test_bad_orders_query_is_422(
    client: httpx.Client, path: str, fields: set[tuple[str, ...]]
) -> None:
    assert field_errors(client.get(path)) == fields
