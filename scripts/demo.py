"""`make demo`: the whole loop on the embedded default, as a newcomer would run it.

Starts the sandbox, migrates it, seeds it, serves the companion service with uvicorn,
sends a burst of real HTTP requests to every endpoint (its queries captured in a log), and
prints what dbctl reports.
Everything runs on this machine: the sandbox on 127.0.0.1, the service on a free port.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console()
REQUESTS_PER_ENDPOINT = 200
WORKERS = 8


def step(title: str, *argv: str, env: dict[str, str] | None = None) -> str:
    console.rule(f"[bold]{title}")
    console.print(f"$ {' '.join(argv)}", style="dim")
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).rstrip()
    if output:
        console.print(output, markup=False, highlight=False)
    if result.returncode not in (0, 1):
        sys.exit(f"demo: '{' '.join(argv)}' failed with exit code {result.returncode}")
    return result.stdout


def free_port() -> int:
    from dbctl.pg.sandbox import free_port as pick

    return pick()


def wait_healthy(client: httpx.Client, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"demo: the service exited with code {server.returncode}")
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit("demo: the service did not become healthy within 30 s")


def burst(client: httpx.Client) -> dict[str, list[tuple[int, float]]]:
    """Send REQUESTS_PER_ENDPOINT requests to each endpoint from WORKERS threads."""
    rng = random.Random(7)
    products = client.get("/products", params={"limit": 100}).json()["data"]
    categories = sorted({p["category_id"] for p in products})
    customer = client.post(
        "/customers", json={"email": f"demo-{uuid.uuid4().hex[:8]}@example.com", "name": "Demo"}
    ).json()
    order_ids: list[int] = []

    def create_order() -> httpx.Response:
        items = [
            {"product_id": p["id"], "quantity": rng.randint(1, 3)}
            for p in rng.sample(products, k=rng.randint(1, 3))
        ]
        response = client.post("/orders", json={"customer_id": customer["id"], "items": items})
        if response.status_code == 201:
            order_ids.append(response.json()["id"])
        return response

    endpoints: dict[str, Callable[[], httpx.Response]] = {
        "GET /health": lambda: client.get("/health"),
        "GET /products": lambda: client.get(
            "/products", params={"category_id": rng.choice(categories), "limit": 20}
        ),
        "GET /products/top": lambda: client.get("/products/top", params={"days": 30}),
        "POST /customers": lambda: client.post(
            "/customers",
            json={"email": f"demo-{uuid.uuid4().hex}@example.com", "name": "Burst"},
        ),
        "POST /orders": create_order,
        "GET /orders/{id}": lambda: client.get(f"/orders/{rng.choice(order_ids)}"),
        "GET /customers/{id}/orders": lambda: client.get(f"/customers/{customer['id']}/orders"),
    }
    timings: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def call(name: str) -> None:
        started = time.perf_counter()
        response = endpoints[name]()
        timings[name].append((response.status_code, time.perf_counter() - started))

    with ThreadPoolExecutor(WORKERS) as pool:
        for name in endpoints:
            list(pool.map(call, [name] * REQUESTS_PER_ENDPOINT))
    return timings


def report(timings: dict[str, list[tuple[int, float]]]) -> None:
    table = Table(title=f"{REQUESTS_PER_ENDPOINT} requests per endpoint, {WORKERS} workers")
    for column in ("endpoint", "statuses", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column in ("endpoint", "statuses") else "right")
    for name, samples in timings.items():
        statuses: dict[int, int] = defaultdict(int)
        for code, _ in samples:
            statuses[code] += 1
        times = sorted(t * 1000 for _, t in samples)
        p95 = times[int(len(times) * 0.95) - 1]
        table.add_row(
            name,
            " ".join(f"{code}x{n}" for code, n in sorted(statuses.items())),
            f"{statistics.median(times):.1f}",
            f"{p95:.1f}",
            f"{times[-1]:.1f}",
        )
    console.print(table)


def main() -> None:
    dbctl = [sys.executable, "-m", "dbctl"]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBCTL_DATABASE_URL")}
    step("1. a throwaway PostgreSQL", *dbctl, "sandbox", "start")
    url = step("", *dbctl, "sandbox", "url").strip()
    env["DATABASE_URL"] = url
    step("2. migrate it (advisory lock, timeouts, checksums)", *dbctl, "migrate", env=env)
    step(
        "3. seed it",
        sys.executable,
        "-m",
        "service.seed",
        "--customers",
        "2000",
        "--products",
        "500",
        "--orders",
        "20000",
        env=env,
    )

    from dbctl.pg.connect import connect

    with connect(url, autocommit=True) as conn:  # statistics of the burst alone
        conn.execute("SELECT pg_stat_statements_reset()")
    port = free_port()
    log = ROOT / ".dbctl" / "demo-requests.jsonl"  # the capture log of the burst alone
    log.parent.mkdir(exist_ok=True)
    log.unlink(missing_ok=True)
    server_env = {**env, "SERVICE_CAPTURE_LOG": str(log), "SERVICE_QUERY_BUDGET_MODE": "count"}
    console.rule("[bold]4. serve the companion service and send real requests")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_healthy(client, server)
            timings = burst(client)
    finally:
        server.terminate()
        server.wait(timeout=10)
    report(timings)

    step("5. what dbctl reports: the sandbox", *dbctl, "sandbox", "status")
    step("6. what dbctl reports: the migrations", *dbctl, "migrate", "status", env=env)
    step("7. what dbctl reports: the schema (shadow database)", *dbctl, "verify-schema", env=env)
    step(
        "8. what dbctl reports: the costliest statements of that traffic",
        *dbctl, "top-queries", "--limit", "8", "--advise", env=env,
    )  # fmt: skip
    step(
        "9. what dbctl reports: indexes the real statements lack (priced with HypoPG)",
        *dbctl, "check-indexes", "--from-stats", "--validate", env=env,
    )  # fmt: skip
    step(
        "10. what dbctl reports: queries per endpoint of that traffic (its capture log)",
        *dbctl, "query-budget", str(log.relative_to(ROOT)), env=env,
    )  # fmt: skip
    console.print(f"\nThe sandbox keeps running: DATABASE_URL={url}")
    console.print(
        "Stop it with: .venv/bin/dbctl sandbox stop (--destroy to delete its data), or make clean"
    )


if __name__ == "__main__":
    main()
