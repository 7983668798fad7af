from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.helpers import Shop, field_errors

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]


@pytest.fixture
def setup(shop: Shop) -> dict[str, Any]:
    """A customer and, in a category of their own, a ball (stock 5) and a kite (stock 2)."""
    category = shop.category()["id"]
    return {
        "category": category,
        "customer": shop.customer()["id"],
        "ball": shop.product(category, stock=5, price_cents=250),
        "kite": shop.product(category, stock=2, price_cents=1000),
    }


def test_create_order(shop: Shop, setup: dict[str, Any]) -> None:
    ball, kite = setup["ball"], setup["kite"]
    response = shop.order(setup["customer"], (kite["id"], 2), (ball["id"], 3))
    assert response.status_code == 201
    order = response.json()
    assert order["customer_id"] == setup["customer"]
    assert (order["status"], order["total_cents"], order["item_count"]) == ("placed", 2750, 5)
    assert order["items"] == [
        {
            "product_id": ball["id"],
            "product_name": ball["name"],
            "quantity": 3,
            "unit_price_cents": 250,
        },
        {
            "product_id": kite["id"],
            "product_name": kite["name"],
            "quantity": 2,
            "unit_price_cents": 1000,
        },
    ]
    assert shop.stock(setup["category"]) == {ball["id"]: 2, kite["id"]: 0}
    assert shop.order_ids(setup["customer"]) == [order["id"]]


def test_get_order(shop: Shop, client: httpx.Client, setup: dict[str, Any]) -> None:
    created = shop.order(setup["customer"], (setup["ball"]["id"], 1)).json()
    response = client.get(f"/orders/{created['id']}")
    assert (response.status_code, response.json()) == (200, created)


def test_unknown_order_is_404(client: httpx.Client) -> None:
    response = client.get(f"/orders/{2**62}")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"order not found: {2**62}"},
    )


def test_insufficient_stock_is_409_and_writes_nothing(shop: Shop, setup: dict[str, Any]) -> None:
    ball, kite = setup["ball"]["id"], setup["kite"]["id"]
    response = shop.order(setup["customer"], (ball, 1), (kite, 3))
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"insufficient stock: product {kite} (requested 3, in stock 2)"
    }
    assert shop.stock(setup["category"]) == {ball: 5, kite: 2}
    assert shop.order_ids(setup["customer"]) == []


def test_unknown_product_is_404_and_writes_nothing(shop: Shop, setup: dict[str, Any]) -> None:
    ball = setup["ball"]["id"]
    response = shop.order(setup["customer"], (ball, 1), (2**62, 1))
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"product not found: {2**62}"},
    )
    assert shop.stock(setup["category"])[ball] == 5
    assert shop.order_ids(setup["customer"]) == []


def test_unknown_customer_is_404_and_writes_nothing(shop: Shop, setup: dict[str, Any]) -> None:
    ball = setup["ball"]["id"]
    response = shop.order(2**62, (ball, 2))
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"customer not found: {2**62}"},
    )
    assert shop.stock(setup["category"])[ball] == 5


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"customer_id": 1, "items": []}, {("body", "items")}),
        (
            {"customer_id": 0, "items": [{"product_id": 1, "quantity": 1}]},
            {("body", "customer_id")},
        ),
        (
            {"customer_id": 1, "items": [{"product_id": 1, "quantity": 0}]},
            {("body", "items", 0, "quantity")},
        ),
        (
            {"customer_id": 1, "items": [{"product_id": -1}]},
            {("body", "items", 0, "product_id"), ("body", "items", 0, "quantity")},
        ),
        ({"customer_id": 1, "items": [{"product_id": 1, "quantity": 1}] * 2}, {("body", "items")}),
        ({"items": "none"}, {("body", "customer_id"), ("body", "items")}),
    ],
    ids=["no-items", "customer-0", "quantity-0", "bad-item", "repeated-product", "missing"],
)
def test_bad_order_is_422(
    client: httpx.Client, body: dict[str, Any], fields: set[tuple[str | int, ...]]
) -> None:
    assert field_errors(client.post("/orders", json=body)) == fields


def test_repeated_product_says_so(client: httpx.Client) -> None:
    item = {"product_id": 7, "quantity": 1}
    response = client.post("/orders", json={"customer_id": 1, "items": [item, item]})
    assert "repeated product_id: [7]" in response.json()["detail"][0]["msg"]


def test_not_json_is_422(client: httpx.Client) -> None:
    response = client.post("/orders", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_concurrent_orders_never_oversell(shop: Shop, setup: dict[str, Any]) -> None:
    """The row locks of the first statement serialise orders of the same product."""
    category = setup["category"]
    product = shop.product(category, stock=3)["id"]
    customers = [shop.customer()["id"] for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda c: shop.order(c, (product, 1)).status_code, customers))
    assert sorted(statuses) == [201] * 3 + [409] * 5
    assert shop.stock(category)[product] == 0
