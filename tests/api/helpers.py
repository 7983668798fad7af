"""Helpers of the API tests: a live uvicorn server and data set up through the API."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from service.main import create_app
from service.settings import ServiceSettings


@dataclass
class LiveServer:
    base_url: str
    app: FastAPI


@contextmanager
def serve(settings: ServiceSettings) -> Iterator[LiveServer]:
    """Run the app with uvicorn on a free 127.0.0.1 port until the block ends."""
    app = create_app(settings)
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Shop:
    """Sets up data through the API; every name, email and SKU is unique."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def _created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def customer(self) -> dict[str, Any]:
        return self._created("/customers", {"email": f"{unique('c')}@example.com", "name": "C"})

    def category(self) -> dict[str, Any]:
        return self._created("/categories", {"name": unique("category")})

    def product(
        self, category_id: int, *, stock: int = 10, price_cents: int = 500
    ) -> dict[str, Any]:
        body = {
            "sku": unique("SKU"),
            "name": unique("product"),
            "category_id": category_id,
            "price_cents": price_cents,
            "stock": stock,
        }
        return self._created("/products", body)

    def order(self, customer_id: int, *lines: tuple[int, int]) -> httpx.Response:
        items = [{"product_id": pid, "quantity": qty} for pid, qty in lines]
        return self.client.post("/orders", json={"customer_id": customer_id, "items": items})

    def stock(self, category_id: int) -> dict[int, int]:
        response = self.client.get("/products", params={"category_id": category_id, "limit": 100})
        assert response.status_code == 200
        return {p["id"]: p["stock"] for p in response.json()["data"]}

    def order_ids(self, customer_id: int) -> list[int]:
        response = self.client.get(f"/customers/{customer_id}/orders", params={"limit": 100})
        assert response.status_code == 200
        return [o["id"] for o in response.json()["data"]]


def field_errors(response: httpx.Response) -> set[tuple[str | int, ...]]:
    """The ``loc`` of every error of a 422 response."""
    assert response.status_code == 422, response.text
    return {tuple(error["loc"]) for error in response.json()["detail"]}
