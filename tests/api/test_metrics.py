"""/metrics: the capture of dbctl.budget on the real service, over real HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = [pytest.mark.api, pytest.mark.query_budget(3)]


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.index("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels}")


def test_metrics_count_queries_per_route_template(client: httpx.Client) -> None:
    before = client.get("/metrics").text
    route = {"route": "/health", "method": "GET"}
    start = (
        _sample(before, "db_queries_per_request_count", **route) if "db_queries" in before else 0
    )
    for _ in range(3):
        assert client.get("/health").status_code == 200
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert _sample(text, "db_queries_per_request_count", **route) == start + 3
    # /health runs exactly one query: three requests, three queries, all in the "1" bucket.
    ones = _sample(text, "db_queries_per_request_bucket", le="1.0", **route)
    assert ones >= 3
    slo = _sample(text, "http_request_duration_seconds_bucket", le="0.2", status="200", **route)
    assert slo >= 3
    assert 'route="/metrics"' not in text  # /metrics itself is not captured


def test_route_templates_not_raw_paths(client: httpx.Client) -> None:
    assert client.get("/orders/999999999").status_code == 404
    text = client.get("/metrics").text
    assert 'route="/orders/{order_id}"' in text
    assert "/orders/999999999" not in text
