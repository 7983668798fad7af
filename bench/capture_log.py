"""A generated capture log, to time ``dbctl query-budget`` on a big one.

    uv run python bench/capture_log.py --requests 200000 --out /tmp/requests.jsonl
    hyperfine -i 'dbctl query-budget /tmp/requests.jsonl --format json'

Records are those ``dbctl.budget.install(log_path=...)`` writes (``RequestCapture.to_record``):
three routes, one of them looping over a statement 1 to 8 times, so that the report has
findings to build. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dbctl.budget.capture import RequestCapture  # noqa: E402

ORDER = "SELECT orders.id, orders.total_cents FROM orders WHERE orders.id = %(id)s"
CUSTOMER = "SELECT customers.id, customers.name FROM customers WHERE customers.id = %(id)s"
ITEMS = (
    "SELECT order_items.product_id, order_items.quantity FROM order_items "
    "WHERE order_items.order_id = %(order_id)s"
)


def request(rng: random.Random) -> RequestCapture:
    draw = rng.random()
    if draw < 0.5:
        capture = RequestCapture("GET", "/orders/{order_id}", 200)
        capture.record(ORDER, rng.uniform(0.0002, 0.002))
    elif draw < 0.8:
        capture = RequestCapture("GET", "/customers/{customer_id}/orders", 200)
        capture.record(CUSTOMER, rng.uniform(0.0002, 0.002))
        for _ in range(rng.randint(1, 8)):
            capture.record(ITEMS, rng.uniform(0.0002, 0.002))
    else:
        capture = RequestCapture("GET", "/health", 200)
        capture.record("SELECT 1", 0.0001)
    capture.duration = rng.uniform(0.002, 0.03)
    capture.started_at = 1_800_000_000 + rng.random() * 3600
    return capture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with args.out.open("w", encoding="utf-8") as out:
        for _ in range(args.requests):
            record = request(rng).to_record(budget=3)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.requests:,} requests ({size:.1f} MB) to {args.out}")


if __name__ == "__main__":
    main()
