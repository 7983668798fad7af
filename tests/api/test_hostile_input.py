"""Hostile input never makes the service answer 500, nor answer with a large body.

NUL (``\\x00``, which PostgreSQL's text cannot hold) and lone surrogates (which UTF-8
cannot encode) in any string are a 422 naming the field; ids and cursors outside
PostgreSQL's bigint are a 422; a 422 never echoes the input; a body over the size limit is
a 413 before it is parsed, whether its length is declared or it comes in chunks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.settings import ServiceSettings
from tests.api.helpers import LiveServer, Shop, field_errors, serve, unique

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]

BIGINT_MAX = 2**63 - 1
JSON = {"content-type": "application/json"}
# Raw JSON escapes: httpx's json= cannot encode a lone surrogate, a server must still cope.
NUL = "\\u0000"
SURROGATE = "\\ud800"
SMALL = 2_000  # bytes: more than any short error body needs, far less than the inputs


def post_raw(client: httpx.Client, path: str, fields: dict[str, Any], raw: dict[str, str]) -> Any:
    """POST ``fields`` as JSON, with the ``raw`` fields spliced in as JSON string text."""
    text = json.dumps(fields)[:-1]
    spliced = "".join(f', "{name}": "{value}"' for name, value in raw.items())
    body = (text + spliced + "}") if fields else "{" + spliced[2:] + "}"
    return client.post(path, content=body.encode(), headers=JSON)


def assert_short_422(response: httpx.Response, loc: tuple[str | int, ...], words: str) -> None:
    assert response.status_code == 422, response.text
    assert len(response.content) < SMALL
    [error] = response.json()["detail"]
    assert tuple(error["loc"]) == loc
    assert words in error["msg"]
    assert set(error) == {"loc", "msg", "type"}


STRING_FIELDS = [
    ("/customers", {"name": "N"}, "email", "a{bad}b@example.com"),
    ("/customers", {"email": "n@example.com"}, "name", "An{bad}n"),
    ("/categories", {}, "name", "Toys{bad}"),
    ("/products", {"sku": "S-1", "price_cents": 1, "stock": 1}, "name", "Ball{bad}"),
    ("/products", {"name": "Ball", "price_cents": 1, "stock": 1}, "sku", "S{bad}1"),
]


@pytest.mark.parametrize(("bad", "words"), [(NUL, "NUL"), (SURROGATE, "surrogate")])
@pytest.mark.parametrize(
    ("path", "fields", "field", "template"),
    STRING_FIELDS,
    ids=[f"{path}-{field}" for path, _, field, _ in STRING_FIELDS],
)
def test_nul_or_lone_surrogate_in_a_body_string_is_422_naming_it(
    shop: Shop,
    client: httpx.Client,
    path: str,
    fields: dict[str, Any],
    field: str,
    template: str,
    bad: str,
    words: str,
) -> None:
    if path == "/products":
        fields = {**fields, "category_id": shop.category()["id"]}
    response = post_raw(client, path, fields, {field: template.format(bad=bad)})
    assert_short_422(response, ("body", field), words)


def test_nul_in_a_query_parameter_is_422_naming_it(client: httpx.Client) -> None:
    response = client.get("/products", params={"limit": "5", "q": "a\x00b"})
    assert_short_422(response, ("query", "q"), "NUL")


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/orders/%00", ("path", "order_id")),
        ("/customers/1%00/orders", ("path", "customer_id")),
        ("/customers/%ED%A0%80/orders", ("path", "customer_id")),  # UTF-8 of a surrogate
        ("/products?after=%00", ("query", "after")),
        ("/products?category_id=%ED%A0%80", ("query", "category_id")),
    ],
)
def test_nul_or_surrogate_bytes_in_the_url_are_422(
    client: httpx.Client, path: str, loc: tuple[str, ...]
) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert field_errors(response) == {loc}
    assert len(response.content) < SMALL


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/orders/99999999999999999999", ("path", "order_id")),
        (f"/orders/{BIGINT_MAX + 1}", ("path", "order_id")),
        (f"/customers/{BIGINT_MAX + 1}/orders", ("path", "customer_id")),
        ("/products?after=99999999999999999999", ("query", "after")),
        (f"/products?after={BIGINT_MAX + 1}", ("query", "after")),
        ("/products?after=-1", ("query", "after")),
        (f"/products?category_id={BIGINT_MAX + 1}", ("query", "category_id")),
        ("/products?category_id=0", ("query", "category_id")),
        (f"/orders/{'9' * 5000}", ("path", "order_id")),
    ],
)
def test_ids_outside_bigint_are_422(client: httpx.Client, path: str, loc: tuple[str, ...]) -> None:
    response = client.get(path)
    assert field_errors(response) == {loc}
    assert len(response.content) < SMALL


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/orders/{BIGINT_MAX}", 404),
        (f"/customers/{BIGINT_MAX}/orders", 404),
        (f"/products?after={BIGINT_MAX}", 200),
        (f"/products?category_id={BIGINT_MAX}", 200),
        ("/products?after=0", 200),
    ],
)
def test_the_largest_bigint_is_still_an_id(client: httpx.Client, path: str, status: int) -> None:
    assert client.get(path).status_code == status


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (
            "/orders",
            {"customer_id": BIGINT_MAX + 1, "items": [{"product_id": 1, "quantity": 1}]},
            ("body", "customer_id"),
        ),
        (
            "/orders",
            {"customer_id": 1, "items": [{"product_id": 10**30, "quantity": 1}]},
            ("body", "items", 0, "product_id"),
        ),
        (
            "/products",
            {"sku": "S", "name": "n", "category_id": 10**20, "price_cents": 1, "stock": 1},
            ("body", "category_id"),
        ),
    ],
)
def test_body_ids_outside_bigint_are_422(
    client: httpx.Client, path: str, body: dict[str, Any], loc: tuple[str | int, ...]
) -> None:
    response = client.post(path, json=body)
    assert field_errors(response) == {loc}


def test_a_422_does_not_echo_a_large_input(client: httpx.Client) -> None:
    name = "x" * 500_000  # under the body limit, over the field's 200 characters
    response = client.post("/customers", json={"email": "big@example.com", "name": name})
    assert_short_422(response, ("body", "name"), "200")
    assert "xxxxxxxxxx" not in response.text


def test_a_422_of_many_errors_is_bounded(client: httpx.Client) -> None:
    items = [{"product_id": -i, "quantity": 0} for i in range(1, 101)]  # 200 errors
    response = client.post("/orders", json={"customer_id": 0, "items": items})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert ["body", "customer_id"] in [e["loc"] for e in errors]
    assert 10 <= len(errors) <= 50
    assert len(response.content) < 20 * SMALL


def test_a_body_that_is_not_json_is_a_short_422(client: httpx.Client) -> None:
    body = b'{"name": "' + b"y" * 200_000  # never closed
    response = client.post("/categories", content=body, headers=JSON)
    assert response.status_code == 422
    assert len(response.content) < SMALL
    assert "yyyyyyyyyy" not in response.text


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000,  # nesting deeper than the JSON decoder's recursion limit
        b'{"name": ' + b"9" * 5_000 + b"}",  # more digits than Python converts
        b'{"name": "\xff\xfe"}',  # not UTF-8
    ],
    ids=["deep", "digits", "not-utf8"],
)
def test_a_body_the_decoder_rejects_is_4xx(client: httpx.Client, content: bytes) -> None:
    response = client.post("/categories", content=content, headers=JSON)
    assert response.status_code in (400, 422), response.text
    assert len(response.content) < SMALL


TWO_MIB = 2 * 1024 * 1024


def _two_mib_customer() -> bytes:
    return json.dumps({"email": "big@example.com", "name": "z" * TWO_MIB}).encode()


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    response = client.post("/customers", content=_two_mib_customer(), headers=JSON)
    assert response.status_code == 413
    assert len(response.content) < SMALL
    assert "1048576" in response.json()["detail"]
    assert client.get("/health").status_code == 200  # the connection and server are fine


def test_a_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    body = _two_mib_customer()

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post("/customers", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert len(response.content) < SMALL
    assert response.json()["detail"].startswith("request body too large")
    assert client.get("/health").status_code == 200


def test_a_chunked_body_under_the_limit_is_served(client: httpx.Client) -> None:
    body = json.dumps({"email": f"{unique('chunk')}@example.com", "name": "C"}).encode()
    response = client.post("/customers", content=iter([body[:10], body[10:]]), headers=JSON)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def tiny_limit_server(api_database_url: str) -> Iterator[LiveServer]:
    settings = ServiceSettings(database_url=api_database_url, pool_size=1, max_body_bytes=100)
    with serve(settings) as server:
        yield server


def test_the_limit_is_a_setting(tiny_limit_server: LiveServer) -> None:
    with httpx.Client(base_url=tiny_limit_server.base_url) as client:
        small = {"email": f"{unique('t')}@example.com", "name": "T"}
        assert client.post("/customers", json=small).status_code == 201
        response = client.post("/customers", json={**small, "name": "T" * 100})
        assert (response.status_code, response.json()) == (
            413,
            {"detail": "request body too large: at most 100 bytes"},
        )
