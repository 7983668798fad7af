"""Load benchmark of the companion service: wrk against one uvicorn worker, on loopback.

    uv run python bench/load.py [--connections 50] [--mix-seconds 30] [--endpoint-seconds 10]
        [--orders 100000] [--repeat 2] [--json-out FILE] [--quick]

Starts a throwaway sandbox in a temporary folder (the project's sandbox is left alone),
unless ``DBCTL_BENCH_DATABASE_URL`` names a server (superuser, pg_stat_statements
installed), creates a database, migrates it (``dbctl migrate``) and seeds it
(``service.seed``: 10,000 customers, 1,000 products, 100,000 orders by default). Then
``uvicorn service.main:app`` (1 worker, uvloop + httptools) runs as a separate process,
driven by ``wrk -t1 --latency`` with ``bench/load.lua`` (every run after a warm-up):

1. each endpoint alone for ``--endpoint-seconds``, the capture on in its production mode
   (``SERVICE_QUERY_BUDGET_MODE=count``): client p50/p95/p99 and req/s from wrk; from
   ``/metrics`` (diffed around the run), queries per request (mean and max), mean DB time
   per query, mean server time and budget breaches; from pg_stat_statements, the statements
   PostgreSQL received per request (BEGIN, COMMIT and ROLLBACK included) and their mean
   execution time; from pg_stat_database, transactions per request (the pool's pre-ping,
   an empty query that pg_stat_statements does not keep, is one) and new connections;
2. the mix of every endpoint, weighted like a shop (``ENDPOINTS``), for ``--mix-seconds``:
   capture off (``SERVICE_QUERY_CAPTURE=false``, the baseline) and on (count mode),
   ``--repeat`` pairs in the order off/on, on/off, ... so that a drift of the machine
   falls on both alike, a fresh server each run; then once with the capture's JSON-lines
   log on (``SERVICE_CAPTURE_LOG``), which gives exact per-route figures of the mix. The
   capture's cost is the loss of mean throughput, on against off;
3. the goals of issue 6: p99 < 200 ms and at most 3 queries per request on every
   endpoint, mean DB query < 3 ms, capture cost <= 5%.

Every run also records the CPU used by the server process (and per request), by wrk and
by the whole machine, and samples pg_stat_activity (the service's connections: how many
are busy, how many wait on a lock). Exits 1 when a run had more than
``--max-error-rate`` failed requests (status >= 400, timeouts, socket errors): its
figures are not those of a working service. ``--quick`` is a smoke run of about a minute
(small seed, 1-3 s runs).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import throwaway_server  # noqa: E402
from dbctl.pg.connect import connect  # noqa: E402
from dbctl.pg.sandbox import free_port  # noqa: E402
from dbctl.pg.url import with_database  # noqa: E402
from service.db.engine import APPLICATION_NAME  # noqa: E402
from service.seed import seed_database  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

LUA = Path(__file__).resolve().parent / "load.lua"
DATABASE = "dbctl_bench_load"
RESULT_PREFIX = "LOAD_RESULT "
CAPTURE_VARIANTS = ("off", "on", "log")
# Goals of issue 6.
P99_GOAL_MS = 200.0
QUERIES_GOAL = 3
DB_QUERY_GOAL_MS = 3.0
CAPTURE_COST_GOAL_PCT = 5.0

MetricKey = tuple[str, tuple[tuple[str, str], ...]]
Metrics = dict[MetricKey, float]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: its builder in load.lua, its route template (the metrics' label) and
    its share of the mix, in percent."""

    name: str
    method: str
    route: str
    weight: int

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}"


# A shop: mostly reads; orders and sign-ups now and then; the catalogue rarely changes.
ENDPOINTS = (
    Endpoint("products_list", "GET", "/products", 28),
    Endpoint("orders_get", "GET", "/orders/{order_id}", 18),
    Endpoint("customer_orders", "GET", "/customers/{customer_id}/orders", 18),
    Endpoint("products_top", "GET", "/products/top", 10),
    Endpoint("orders_create", "POST", "/orders", 12),
    Endpoint("customers_create", "POST", "/customers", 6),
    Endpoint("health", "GET", "/health", 6),
    Endpoint("products_create", "POST", "/products", 1),
    Endpoint("categories_create", "POST", "/categories", 1),
)


@dataclass(frozen=True)
class Config:
    connections: int
    mix_seconds: int
    endpoint_seconds: int
    warmup_seconds: int
    repeat: int
    customers: int
    products: int
    orders: int
    log_run: bool
    max_error_rate: float
    pool_size: int | None
    max_overflow: int | None
    seed: int


@dataclass(frozen=True)
class IdRanges:
    """Ids of the seeded rows, lo:hi each (contiguous: checked), passed to load.lua."""

    customers: tuple[int, int]
    products: tuple[int, int]
    categories: tuple[int, int]
    orders: tuple[int, int]

    def lua_args(self) -> list[str]:
        return [
            f"{name}={lo}:{hi}"
            for name, (lo, hi) in (
                ("customers", self.customers),
                ("products", self.products),
                ("categories", self.categories),
                ("orders", self.orders),
            )
        ]


@dataclass
class Service:
    """A running ``uvicorn service.main:app``."""

    process: subprocess.Popen[bytes]
    base_url: str
    variant: str
    log_file: Path
    capture_log: Path | None

    @property
    def capture_on(self) -> bool:
        return self.variant != "off"


@dataclass
class ActivitySampler:
    """Samples pg_stat_activity every ``interval`` s in a thread: the service's connections,
    how many are busy (not idle) and how many wait on a lock."""

    url: str
    interval: float = 0.25
    samples: list[tuple[int, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _loop(self) -> None:
        with connect(with_database(self.url, "postgres"), autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                row = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE state <> 'idle'), "
                    "count(*) FILTER (WHERE wait_event_type = 'Lock') "
                    "FROM pg_stat_activity WHERE application_name = %s",
                    (APPLICATION_NAME,),
                ).fetchone()
                if row is not None:
                    self.samples.append(cast(tuple[int, int, int], row))

    def __enter__(self) -> ActivitySampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        columns = list(zip(*self.samples, strict=True))
        out: dict[str, float] = {"samples": len(self.samples)}
        for name, values in zip(("connections", "busy", "lock_waits"), columns, strict=True):
            out[f"{name}_max"] = max(values)
            out[f"{name}_mean"] = round(statistics.fmean(values), 2)
        return out


class CpuMeter:
    """CPU seconds of the machine, of one process (all its threads) and of reaped
    children (wrk), between ``start`` and ``stop``; reported as percent of one core."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.cores = os.cpu_count() or 1
        self.begin = self._read()

    def _read(self) -> tuple[float, float, float, float, float]:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]
        total = sum(fields[:8])
        try:
            text = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii")
            parts = text.rsplit(")", 1)[1].split()
            process = (int(parts[11]) + int(parts[12])) / self.tick
        except (OSError, IndexError, ValueError):
            process = 0.0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            time.perf_counter(),
            (total - idle) / self.tick,
            total / self.tick,
            process,
            children.ru_utime + children.ru_stime,
        )

    def stop(self) -> dict[str, float]:
        end = self._read()
        wall = end[0] - self.begin[0]
        total = end[2] - self.begin[2]
        return {
            "server_cpu_pct": round(100 * (end[3] - self.begin[3]) / wall, 1),
            "wrk_cpu_pct": round(100 * (end[4] - self.begin[4]) / wall, 1),
            "machine_busy_pct": round(100 * (end[1] - self.begin[1]) / total, 1) if total else 0,
        }


# -- the database ------------------------------------------------------------------------


def prepare_database(server_url: str, folder: Path, cfg: Config) -> tuple[str, dict[str, Any]]:
    """Create, migrate and seed the benchmark's database; its URL and what was done."""
    with connect(with_database(server_url, "postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
        row = admin.execute("SHOW server_version").fetchone()
    url = with_database(server_url, DATABASE)
    with connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dbctl", "migrate", "--database-url", url],
        cwd=ROOT,
        env={**os.environ, "DBCTL_STATE_DIR": str(folder / "dbctl-state")},
        check=True,
        capture_output=True,
    )
    migrated = time.perf_counter() - started
    started = time.perf_counter()
    seed_database(
        ServiceSettings(database_url=url),
        customers=cfg.customers,
        products=cfg.products,
        orders=cfg.orders,
    )
    seeded = time.perf_counter() - started
    with connect(url, autocommit=True) as conn:
        items = conn.execute("SELECT count(*) FROM order_items").fetchone()
    return url, {
        "server_version": row[0] if row else "?",
        "customers": cfg.customers,
        "products": cfg.products,
        "orders": cfg.orders,
        "order_items": cast(int, items[0]) if items else 0,
        "migrate_s": round(migrated, 1),
        "seed_s": round(seeded, 1),
    }


def read_ranges(url: str) -> IdRanges:
    """The ids of the seeded rows; each table's must be contiguous (every id exists)."""
    spans: dict[str, tuple[int, int]] = {}
    with connect(url, autocommit=True) as conn:
        for table in ("customers", "products", "categories", "orders"):
            row = conn.execute(f"SELECT min(id), max(id), count(*) FROM {table}").fetchone()
            assert row is not None and row[0] is not None, f"{table} is empty"
            lo, hi, count = cast(tuple[int, int, int], row)
            if hi - lo + 1 != count:
                raise SystemExit(f"{table}: ids {lo}..{hi} have gaps ({count} rows)")
            spans[table] = (lo, hi)
    return IdRanges(**spans)


def vacuum(url: str) -> None:
    """VACUUM ANALYZE the shop's tables, so that each mix run starts from the same state."""
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) customers, categories, products, orders, order_items")
        conn.execute("CHECKPOINT")


def reset_statements(url: str) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def read_statements(url: str) -> list[tuple[str, int, float]]:
    """(query, calls, total execution ms) of what the service ran in the benchmark's
    database since the last reset; BEGIN, COMMIT and ROLLBACK included (not the pool's
    pre-ping: an empty query, which pg_stat_statements does not keep)."""
    with connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '/* dbctl */%%' ORDER BY calls DESC"
        ).fetchall()
    return [(" ".join(str(q).split()), cast(int, c), cast(float, t)) for q, c, t in rows]


def database_counters(url: str) -> tuple[int, int]:
    """(sessions, transactions) of the benchmark's database so far, from pg_stat_database:
    new connections tell a pool that churns; transactions lag by up to a second."""
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions, xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return cast(tuple[int, int], row)


# -- the service -------------------------------------------------------------------------


def service_env(url: str, variant: str, capture_log: Path | None, cfg: Config) -> dict[str, str]:
    """The environment of the server: no inherited ``SERVICE_*``, the capture per variant."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SERVICE_") and k != "DATABASE_URL"
    }
    env["DATABASE_URL"] = url
    env["SERVICE_QUERY_CAPTURE"] = "false" if variant == "off" else "true"
    env["SERVICE_QUERY_BUDGET_MODE"] = "count"
    if capture_log is not None:
        env["SERVICE_CAPTURE_LOG"] = str(capture_log)
    if cfg.pool_size is not None:
        env["SERVICE_POOL_SIZE"] = str(cfg.pool_size)
    if cfg.max_overflow is not None:
        env["SERVICE_MAX_OVERFLOW"] = str(cfg.max_overflow)
    return env


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def run_service(url: str, variant: str, folder: Path, cfg: Config) -> Iterator[Service]:
    """Start the server, wait until ``/health`` answers 200, stop it on exit."""
    port = free_port()
    log_file = folder / f"uvicorn-{variant}-{port}.log"
    capture_log = folder / f"capture-{port}.jsonl" if variant == "log" else None
    argv = [
        sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=service_env(url, variant, capture_log, cfg),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, f"http://127.0.0.1:{port}", variant, log_file, capture_log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the service exited:\n{log_file.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if http_get(f"{service.base_url}/health", timeout=1)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the service did not answer /health:\n{log_file.read_text()}")
            time.sleep(0.1)
        yield service
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scrape(service: Service) -> Metrics:
    """The server's ``/metrics`` as {(sample, labels): value}; empty with the capture off."""
    if not service.capture_on:
        return {}
    status, body = http_get(f"{service.base_url}/metrics")
    assert status == 200, f"/metrics answered {status}"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def diff(after: Metrics, before: Metrics) -> Metrics:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def samples(metrics: Metrics, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """The samples called ``name`` whose labels include ``labels``."""
    found = []
    for (sample, pairs), value in metrics.items():
        if sample == name:
            got = dict(pairs)
            if all(got.get(k) == v for k, v in labels.items()):
                found.append((got, value))
    return found


def total(metrics: Metrics, name: str, **labels: str) -> float:
    return sum(value for _, value in samples(metrics, name, **labels))


def max_queries(metrics: Metrics, method: str, route: str) -> tuple[int | None, str]:
    """The most queries a request made, from the histogram's buckets (1, 2, 3, 5, 10):
    (upper bound or None for > 10, text: exact when the buckets tell it, else a span)."""
    count = total(metrics, "db_queries_per_request_count", route=route, method=method)
    if not count:
        return None, "-"
    buckets = sorted(
        (float(labels["le"]), value)
        for labels, value in samples(
            metrics, "db_queries_per_request_bucket", route=route, method=method
        )
    )
    previous = 0.0
    for le, cumulative in buckets:
        if cumulative >= count:
            if le == float("inf"):
                return None, f">{previous:g}"
            if le - previous == 1:
                return int(le), f"{le:g}"
            return int(le), f"{previous + 1:g}-{le:g}"
        previous = le
    return None, "?"


def route_stats(metrics: Metrics, method: str, route: str) -> dict[str, Any]:
    """Server-side figures of one route from a diff of ``/metrics``."""
    requests = total(metrics, "db_queries_per_request_count", route=route, method=method)
    if not requests:
        return {"requests": 0}
    queries = total(metrics, "db_queries_per_request_sum", route=route, method=method)
    db_count = total(metrics, "db_query_duration_seconds_count", route=route)
    db_sum = total(metrics, "db_query_duration_seconds_sum", route=route)
    duration = total(metrics, "http_request_duration_seconds_sum", route=route, method=method)
    statuses = {
        labels["status"]: int(value)
        for labels, value in samples(
            metrics, "http_request_duration_seconds_count", route=route, method=method
        )
        if value
    }
    breaches = {
        labels["rule"]: int(value)
        for labels, value in samples(metrics, "db_query_budget_breaches_total", route=route)
        if value
    }
    bound, text = max_queries(metrics, method, route)
    return {
        "requests": int(requests),
        "statuses": statuses,
        "queries_mean": round(queries / requests, 3),
        "queries_max": bound,
        "queries_max_text": text,
        "db_ms_per_query": round(1000 * db_sum / db_count, 3) if db_count else None,
        "db_queries": int(db_count),
        "db_ms_total": round(1000 * db_sum, 1),
        "server_ms_mean": round(1000 * duration / requests, 2),
        "breaches": breaches,
    }


def capture_log_stats(path: Path) -> dict[str, dict[str, Any]]:
    """Exact per-route figures from the capture's JSON-lines log."""
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with path.open(encoding="utf-8") as log:
        for line in log:
            record = json.loads(line)
            per[f"{record['method']} {record['route']}"].append(record)
    out: dict[str, dict[str, Any]] = {}
    for label, records in sorted(per.items()):
        queries = [r["queries"] for r in records]
        db_ms = sum(s["time_ms"] for r in records for s in r["statements"])
        durations = sorted(r["duration_ms"] for r in records)
        statements: Counter[str] = Counter()
        for r in records:
            for s in r["statements"]:
                statements[" ".join(s["statement"].split())[:120]] += s["count"]
        out[label] = {
            "requests": len(records),
            "statuses": dict(Counter(str(r["status"]) for r in records)),
            "queries_mean": round(statistics.fmean(queries), 3),
            "queries_max": max(queries),
            "looped_requests": sum(1 for r in records if r["looped"]),
            "db_ms_per_query": round(db_ms / sum(queries), 3) if sum(queries) else None,
            "server_ms_p50": durations[len(durations) // 2],
            "server_ms_p99": durations[min(len(durations) - 1, int(len(durations) * 0.99))],
            "statements": dict(statements.most_common(5)),
        }
    return out


def server_errors(log_file: Path) -> list[str]:
    """Distinct error lines the server logged (tracebacks' last lines, ERROR records)."""
    lines = log_file.read_text(errors="replace").splitlines()
    found: Counter[str] = Counter()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            tail = next(
                (x for x in lines[i + 1 :] if x and not x.startswith((" ", "Traceback"))), line
            )
            found[tail.strip()[:200]] += 1
        elif re.match(r"^(ERROR|CRITICAL)", line):
            found[line.strip()[:200]] += 1
    return [f"{n}x {text}" for text, n in found.most_common(10)]


# -- the load ----------------------------------------------------------------------------


class Bench:
    """Runs wrk against a service: warm-up, then one measured run with every figure."""

    def __init__(self, cfg: Config, url: str, ranges: IdRanges) -> None:
        self.cfg = cfg
        self.url = url
        self.ranges = ranges
        self.run_ids = (f"{secrets.token_hex(3)}x{n}" for n in itertools.count(1))

    def wrk(self, service: Service, mix: str, seconds: int) -> dict[str, Any]:
        """One wrk run of ``mix`` (``name:weight,...``); its LOAD_RESULT, as a dict."""
        argv = [
            "wrk", "-t1", f"-c{self.cfg.connections}", f"-d{seconds}s", "--latency",
            "--timeout", "10s", "-s", str(LUA), service.base_url, "--", f"mix={mix}",
            f"run={next(self.run_ids)}", f"seed={self.cfg.seed}", *self.ranges.lua_args(),
        ]  # fmt: skip
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=seconds + 60
        )
        line = next((x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX)), None)
        if done.returncode != 0 or line is None:
            raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
        return result

    def measure(self, service: Service, mix: str, seconds: int) -> dict[str, Any]:
        """Warm up, then one measured wrk run with the server's figures around it."""
        self.wrk(service, mix, self.cfg.warmup_seconds)
        time.sleep(0.5)  # the warm-up's last requests finish
        before = scrape(service)
        reset_statements(self.url)
        counters = database_counters(self.url)
        meter = CpuMeter(service.process.pid)
        with ActivitySampler(self.url) as sampler:
            result = self.wrk(service, mix, seconds)
        cpu = meter.stop()
        time.sleep(0.5)
        metrics = diff(scrape(service), before)
        statements = read_statements(self.url)
        after = database_counters(self.url)
        sessions, xacts = after[0] - counters[0], after[1] - counters[1]
        requests = int(result["requests"])
        errors = result["errors"]
        failed = sum(int(v) for v in errors.values())
        latency = result["latency_us"]
        served = total(metrics, "db_queries_per_request_count") or requests
        calls = sum(c for _, c, _ in statements)
        queries = [(c, t) for q, c, t in statements if q not in ("BEGIN", "COMMIT", "ROLLBACK")]
        query_calls = sum(c for c, _ in queries)
        rps = requests / (result["duration_us"] / 1e6)
        return {
            "requests": requests,
            "rps": round(rps, 1),
            "p50_ms": latency["p50"] / 1000,
            "p90_ms": latency["p90"] / 1000,
            "p95_ms": latency["p95"] / 1000,
            "p99_ms": latency["p99"] / 1000,
            "max_ms": latency["max"] / 1000,
            "errors": {k: int(v) for k, v in errors.items() if v},
            "error_rate": failed / requests if requests else 1.0,
            "sent": result["sent"],
            **cpu,
            "server_cpu_ms_per_request": round(10 * cpu["server_cpu_pct"] / rps, 2) if rps else 0,
            "activity": sampler.summary(),
            "pg_statements_per_request": round(calls / served, 2) if served else None,
            "pg_exec_ms_per_query": (
                round(sum(t for _, t in queries) / query_calls, 3) if query_calls else None
            ),
            "pg_statements": statements[:8],
            "pg_transactions_per_request": round(xacts / served, 2) if served else None,
            "pg_sessions_opened": sessions,
            "metrics": metrics,
        }


def endpoint_runs(bench: Bench, folder: Path) -> list[dict[str, Any]]:
    """Each endpoint alone, one server with the capture on (count mode)."""
    rows = []
    with run_service(bench.url, "on", folder, bench.cfg) as service:
        for endpoint in ENDPOINTS:
            run = bench.measure(service, f"{endpoint.name}:1", bench.cfg.endpoint_seconds)
            metrics = run.pop("metrics")
            server = route_stats(metrics, endpoint.method, endpoint.route)
            rows.append({"endpoint": endpoint.label, "name": endpoint.name, **run,
                         "server": server})  # fmt: skip
            print(f"  {endpoint.label}: {run['rps']:.0f} req/s, p99 {run['p99_ms']:.1f} ms, "
                  f"{server.get('queries_mean', '?')} queries/req, "
                  f"errors {run['errors'] or 0}", flush=True)  # fmt: skip
    logged = server_errors(service.log_file)
    if logged:
        rows[-1]["server_log_errors"] = logged
    return rows


def mix_order(repeat: int, log_run: bool) -> list[str]:
    """off, on, on, off, off, on, ...: each pair reversed from the last; then ``log``."""
    order = [v for r in range(repeat) for v in (("off", "on") if r % 2 == 0 else ("on", "off"))]
    return [*order, "log"] if log_run else order


def mix_runs(bench: Bench, folder: Path) -> list[dict[str, Any]]:
    """The weighted mix, once per variant of ``mix_order``, a fresh server each run."""
    mix = ",".join(f"{e.name}:{e.weight}" for e in ENDPOINTS)
    runs = []
    for index, variant in enumerate(mix_order(bench.cfg.repeat, bench.cfg.log_run), 1):
        vacuum(bench.url)
        with run_service(bench.url, variant, folder, bench.cfg) as service:
            run = bench.measure(service, mix, bench.cfg.mix_seconds)
        metrics = run.pop("metrics")
        run = {"index": index, "capture": variant, **run}
        if service.capture_on:
            run["routes"] = {e.label: route_stats(metrics, e.method, e.route) for e in ENDPOINTS}
            db_count = total(metrics, "db_query_duration_seconds_count")
            run["db_ms_per_query"] = (
                round(1000 * total(metrics, "db_query_duration_seconds_sum") / db_count, 3)
                if db_count
                else None
            )
        if service.capture_log is not None and service.capture_log.exists():
            run["capture_log"] = capture_log_stats(service.capture_log)
            run["capture_log_mb"] = round(service.capture_log.stat().st_size / 1e6, 1)
        run["server_log_errors"] = server_errors(service.log_file)
        runs.append(run)
        print(f"  mix #{index} capture {variant}: {run['rps']:.0f} req/s, "
              f"p99 {run['p99_ms']:.1f} ms, errors {run['errors'] or 0}, "
              f"server CPU {run['server_cpu_pct']}%, machine {run['machine_busy_pct']}%",
              flush=True)  # fmt: skip
    return runs


# -- the report --------------------------------------------------------------------------


def mix_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Means per capture variant, and the capture's cost in percent of throughput."""
    out: dict[str, Any] = {}
    for variant in CAPTURE_VARIANTS:
        chosen = [r for r in runs if r["capture"] == variant]
        if chosen:
            out[variant] = {
                "runs": len(chosen),
                **{
                    key: round(statistics.fmean(r[key] for r in chosen), 1)
                    for key in ("rps", "p50_ms", "p95_ms", "p99_ms")
                },
                "rps_each": [r["rps"] for r in chosen],
                "rps_spread_pct": round(
                    100
                    * (max(r["rps"] for r in chosen) - min(r["rps"] for r in chosen))
                    / statistics.fmean(r["rps"] for r in chosen),
                    1,
                ),
            }
    if "off" in out:
        base = out["off"]["rps"]
        for variant in ("on", "log"):
            if variant in out:
                out[f"cost_{variant}_pct"] = round(100 * (base - out[variant]["rps"]) / base, 1)
    return out


def goals(endpoints: list[dict[str, Any]], runs: list[dict[str, Any]],
          summary: dict[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
    """Each goal of issue 6 with the figure measured and pass/fail."""
    worst_p99 = max(endpoints, key=lambda r: r["p99_ms"])
    bounds = [(r["server"].get("queries_max"), r["endpoint"]) for r in endpoints]
    unknown = [label for bound, label in bounds if bound is None]
    worst_q = max((b for b, _ in bounds if b is not None), default=0)
    on_runs = [r for r in runs if r["capture"] == "on" and r.get("db_ms_per_query") is not None]
    db_ms = statistics.fmean(r["db_ms_per_query"] for r in on_runs) if on_runs else None
    pg_ms = statistics.fmean(r["pg_exec_ms_per_query"] or 0 for r in on_runs) if on_runs else 0
    worst_db = max(
        (r for r in endpoints if r["server"].get("db_ms_per_query") is not None),
        key=lambda r: r["server"]["db_ms_per_query"],
        default=None,
    )
    worst_text = (
        f"; worst endpoint alone {worst_db['server']['db_ms_per_query']:.2f} ms "
        f"({worst_db['endpoint']})"
        if worst_db
        else ""
    )
    cost = summary.get("cost_on_pct")
    spread = max(summary.get(v, {}).get("rps_spread_pct", 0.0) for v in ("off", "on"))
    if min(summary.get(v, {}).get("runs", 0) for v in ("off", "on")) < 2:
        noise = " (one run each: no estimate of the noise)"
    elif cost is not None and spread >= abs(cost):
        noise = f" (runs of the same variant differ by up to {spread:.1f}%: within the noise)"
    else:
        noise = f" (runs of the same variant differ by up to {spread:.1f}%)"
    return [
        {"goal": f"p99 < {P99_GOAL_MS:g} ms on every endpoint (alone)",
         "measured": f"worst {worst_p99['p99_ms']:.1f} ms ({worst_p99['endpoint']})",
         "pass": all(r["p99_ms"] < P99_GOAL_MS for r in endpoints)},
        {"goal": f"p99 < {P99_GOAL_MS:g} ms in the mix (capture on)",
         "measured": f"{summary.get('on', {}).get('p99_ms', float('nan')):.1f} ms",
         "pass": summary.get("on", {}).get("p99_ms", 1e9) < P99_GOAL_MS},
        {"goal": f"<= {QUERIES_GOAL} queries per request on every endpoint",
         "measured": f"max {worst_q}" + (f", > 10 on {', '.join(unknown)}" if unknown else ""),
         "pass": not unknown and worst_q <= QUERIES_GOAL},
        {"goal": f"mean DB query < {DB_QUERY_GOAL_MS:g} ms (mix, capture on)",
         "measured": (f"{db_ms:.2f} ms as the capture times it (PostgreSQL's execution "
                      f"time {pg_ms:.3f} ms){worst_text}" if db_ms is not None else "-"),
         "pass": db_ms is not None and db_ms < DB_QUERY_GOAL_MS},
        {"goal": f"capture cost <= {CAPTURE_COST_GOAL_PCT:g}% of throughput",
         "measured": f"{cost:.1f}%{noise}" if cost is not None else "-",
         "pass": cost is not None and cost <= CAPTURE_COST_GOAL_PCT},
    ]  # fmt: skip


def print_report(report: dict[str, Any]) -> None:
    """The figures as Markdown tables."""
    print("\n### Each endpoint alone (capture on, count mode)\n")
    print("| endpoint | req/s | p50 | p95 | p99 | queries/req mean (max) | DB ms/query "
          "(capture) | exec ms/query (PostgreSQL) | server CPU ms/req | PG statements/req "
          "| errors |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in report["endpoints"]:
        s = r["server"]
        db, pg = s.get("db_ms_per_query"), r["pg_exec_ms_per_query"]
        print(f"| `{r['endpoint']}` | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | "
              f"{r['p95_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
              f"{s.get('queries_mean', 0):.2f} ({s.get('queries_max_text', '-')}) | "
              f"{'-' if db is None else f'{db:.2f}'} | {'-' if pg is None else f'{pg:.3f}'} | "
              f"{r['server_cpu_ms_per_request']:.2f} | {r['pg_statements_per_request']} | "
              f"{r['errors'] or 'none'} |")  # fmt: skip
    print("\n### The mix\n")
    print("| run | capture | req/s | p50 | p95 | p99 | errors | server CPU (ms/req) | wrk CPU "
          "| machine busy | DB conns busy mean/max | DB conns opened |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in report["mix"]["runs"]:
        a = r["activity"]
        print(f"| {r['index']} | {r['capture']} | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | "
              f"{r['p95_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['errors'] or 'none'} | "
              f"{r['server_cpu_pct']}% ({r['server_cpu_ms_per_request']:.2f}) | "
              f"{r['wrk_cpu_pct']}% | {r['machine_busy_pct']}% | "
              f"{a.get('busy_mean', '-')}/{a.get('busy_max', '-')} | "
              f"{r['pg_sessions_opened']} |")  # fmt: skip
    summary = report["mix"]["summary"]
    print()
    for variant in CAPTURE_VARIANTS:
        if variant in summary:
            m = summary[variant]
            print(f"capture {variant}: mean of {m['runs']}: {m['rps']:.0f} req/s "
                  f"({', '.join(f'{x:.0f}' for x in m['rps_each'])}), p50 {m['p50_ms']} ms, "
                  f"p95 {m['p95_ms']} ms, p99 {m['p99_ms']} ms; spread of req/s "
                  f"{m['rps_spread_pct']}%")  # fmt: skip
    for variant in ("on", "log"):
        if f"cost_{variant}_pct" in summary:
            print(f"capture cost ({variant} vs off): {summary[f'cost_{variant}_pct']}% "
                  "of throughput")  # fmt: skip
    logged = next((r for r in report["mix"]["runs"] if "capture_log" in r), None)
    if logged:
        print(f"\n### Per route in the mix (capture log of run {logged['index']}, exact)\n")
        print("| route | requests | statuses | queries/req mean (max) | looped | DB ms/query "
              "| server p50 | server p99 |")  # fmt: skip
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for label, s in logged["capture_log"].items():
            db = s["db_ms_per_query"]
            print(f"| `{label}` | {s['requests']} | {s['statuses']} | "
                  f"{s['queries_mean']:.2f} ({s['queries_max']}) | {s['looped_requests']} | "
                  f"{'-' if db is None else f'{db:.2f}'} | {s['server_ms_p50']:.1f} ms | "
                  f"{s['server_ms_p99']:.1f} ms |")  # fmt: skip
    print("\n### Goals\n")
    print("| goal | measured | result |\n| --- | --- | --- |")
    for g in report["goals"]:
        print(f"| {g['goal']} | {g['measured']} | {'pass' if g['pass'] else 'FAIL'} |")


def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pretty = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    wrk = subprocess.run(["wrk", "--version"], check=False, capture_output=True, text=True)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory),
        "os": pretty,
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).split("Copyright")[0].strip(),
        "loadavg_at_start": os.getloadavg(),
    }


def parse_args() -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--mix-seconds", type=int, default=30)
    parser.add_argument("--endpoint-seconds", type=int, default=10)
    parser.add_argument("--warmup-seconds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2, help="pairs of mix runs, off and on")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--no-log-run", action="store_true", help="skip the capture-log run")
    parser.add_argument("--pool-size", type=int, help="SERVICE_POOL_SIZE (service default)")
    parser.add_argument("--max-overflow", type=int, help="SERVICE_MAX_OVERFLOW")
    parser.add_argument("--max-error-rate", type=float, default=0.001,
                        help="failed requests tolerated per run (fraction)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="of load.lua's random choices")
    parser.add_argument("--json-out", type=Path, help="write every figure as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a small seed, 2-3 s runs, one pair")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.customers, args.products, args.orders = 1_000, 200, 5_000
        args.endpoint_seconds, args.mix_seconds, args.warmup_seconds = 2, 3, 1
        args.repeat = 1
    cfg = Config(
        connections=args.connections,
        mix_seconds=args.mix_seconds,
        endpoint_seconds=args.endpoint_seconds,
        warmup_seconds=args.warmup_seconds,
        repeat=args.repeat,
        customers=args.customers,
        products=args.products,
        orders=args.orders,
        log_run=not args.no_log_run,
        max_error_rate=args.max_error_rate,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        seed=args.seed,
    )
    return cfg, args


def main() -> None:
    cfg, args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    info = machine()
    command = "uv run python bench/load.py " + " ".join(sys.argv[1:])
    defaults = ServiceSettings.model_fields
    pool = (cfg.pool_size or defaults["pool_size"].default,
            cfg.max_overflow if cfg.max_overflow is not None
            else defaults["max_overflow"].default)  # fmt: skip
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
          f"{info['os']}, Python {info['python']}, {info['wrk']}, load average "
          f"{' '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}")  # fmt: skip
    print(f"command: {command.strip()}")
    print(f"load: wrk -t1 -c{cfg.connections}, endpoints {cfg.endpoint_seconds} s each, "
          f"mix {cfg.mix_seconds} s x {cfg.repeat} pairs, warm-up {cfg.warmup_seconds} s; "
          f"uvicorn 1 worker, pool {pool[0]} + {pool[1]} overflow", flush=True)  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="dbctl-bench-load-"))
    try:
        with throwaway_server(folder) as server_url:
            url, seeded = prepare_database(server_url, folder, cfg)
            ranges = read_ranges(url)
            print(f"database: PostgreSQL {seeded['server_version']}; seeded "
                  f"{cfg.customers} customers, {cfg.products} products, {cfg.orders} orders "
                  f"({seeded['order_items']} items) in {seeded['seed_s']} s",
                  flush=True)  # fmt: skip
            bench = Bench(cfg, url, ranges)
            print("each endpoint alone:", flush=True)
            endpoints = endpoint_runs(bench, folder)
            print("the mix:", flush=True)
            runs = mix_runs(bench, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = mix_summary(runs)
    report: dict[str, Any] = {
        "machine": info,
        "command": command.strip(),
        "config": {**cfg.__dict__, "pool_size": pool[0], "max_overflow": pool[1]},
        "database": seeded,
        "mix_weights": {e.label: e.weight for e in ENDPOINTS},
        "endpoints": endpoints,
        "mix": {"runs": runs, "summary": summary},
    }
    report["goals"] = goals(endpoints, runs, summary)
    print_report(report)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json_out}")
    failing = [
        f"{r.get('endpoint') or 'mix #' + str(r['index'])}: {r['errors']} "
        f"({100 * r['error_rate']:.2f}% of {r['requests']})"
        for r in [*endpoints, *runs]
        if r["error_rate"] > cfg.max_error_rate
    ]
    logged = [f"{msg}" for r in [*endpoints, *runs] for msg in r.get("server_log_errors", [])]
    if logged:
        print("\nserver log errors:\n  " + "\n  ".join(logged))
    if failing:
        raise SystemExit(
            f"\nFAILED: more than {100 * cfg.max_error_rate:g}% of requests failed in:\n  "
            + "\n  ".join(failing)
        )


if __name__ == "__main__":
    main()
