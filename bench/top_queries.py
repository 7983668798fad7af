"""top-queries with a full pg_stat_statements: 5,000 distinct statements, timed end to end.

    uv run python bench/top_queries.py [--statements N] [--repeat 20] [--hyperfine]

Starts a throwaway sandbox in a temporary folder (filling pg_stat_statements evicts what
it held, so the project's sandbox is left alone), unless ``DBCTL_BENCH_DATABASE_URL`` names
a server (superuser; its pg_stat_statements is filled). Creates 50 tables and runs
structurally distinct statements (each selects another set of columns, so each has its own
queryid; 1 to 8 calls each): by default as many as fill ``pg_stat_statements.max`` (5,000
in the sandbox) without evicting any. Then it times, as medians:

- ``read_statements`` alone on an open connection (the one round trip);
- ``top_queries`` end to end (connect, read, analyse, close), plain, ``--since`` a snapshot,
  and ``--save``;
- with ``--hyperfine``, the CLI (``dbctl top-queries --format json``) as a process.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import throwaway_server  # noqa: E402
from dbctl.config import load_settings  # noqa: E402
from dbctl.pg.connect import connect  # noqa: E402
from dbctl.pg.url import with_database  # noqa: E402
from dbctl.stats.statements import read_statements  # noqa: E402
from dbctl.stats.top import TopOptions, top_queries  # noqa: E402

TABLES = 50
COLUMNS = ["owner_id", "status", "kind", "amount", "name", "created_at", "updated_at"]


def statements(count: int, seed: int = 1) -> Iterator[tuple[str, int]]:
    """(statement, calls): distinct column sets x tables, shaped like an ORM's queries."""
    rng = random.Random(seed)
    subsets = [
        cols for n in range(1, len(COLUMNS) + 1) for cols in itertools.combinations(COLUMNS, n)
    ]
    shapes = itertools.product(range(TABLES), subsets)
    for t, cols in itertools.islice(shapes, count):
        picked = ", ".join(f"t{t}.{c}" for c in ("id", *cols))
        where = rng.choice(["id = %s", "owner_id = %s", "status = %s::text"])
        sql = f"SELECT {picked} FROM t{t} WHERE t{t}.{where} ORDER BY t{t}.id LIMIT 10"
        yield sql, rng.randint(1, 8)


@contextmanager
def server() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="dbctl-bench-top-"))
    try:
        with throwaway_server(folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fill(url: str, count: int) -> tuple[int, float]:
    """Create the tables and run the statements; return (executions, seconds)."""
    started = time.perf_counter()
    executions = 0
    with connect(url, autocommit=True) as conn:
        for t in range(TABLES):
            conn.execute(
                f"CREATE TABLE t{t} (id bigint PRIMARY KEY, owner_id bigint, status text, "
                "kind int, amount numeric, name text, created_at timestamptz, "
                "updated_at timestamptz)"
            )
        with conn.pipeline():
            for sql, calls in statements(count):
                param: Any = "open" if "status" in sql.split("WHERE")[1] else 1
                for _ in range(calls):
                    conn.execute(sql, (param,))
                    executions += 1
    return executions, time.perf_counter() - started


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm-up: imports, caches
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, help="default: fill up to the maximum")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--hyperfine", action="store_true", help="also time the CLI")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")  # fmt: skip
    print(f"command: uv run python bench/top_queries.py --repeat {args.repeat}"
          f"{' --hyperfine' if args.hyperfine else ''}")  # fmt: skip
    with server() as server_url:
        with connect(with_database(server_url, "postgres"), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS dbctl_bench_top WITH (FORCE)")
            admin.execute("CREATE DATABASE dbctl_bench_top")
            version = admin.execute("SHOW server_version").fetchone()
        url = with_database(server_url, "dbctl_bench_top")
        with connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            row = conn.execute(
                "SELECT current_setting('pg_stat_statements.max')::int, count(*) "
                "FROM pg_stat_statements"
            ).fetchone()
        assert row is not None
        # Up to the brim, not past it: a full view evicts 5% of its entries at once.
        count = args.statements or row[0] - row[1] - TABLES - 20
        executions, seconds = fill(url, count)
        print(f"server: PostgreSQL {version[0] if version else '?'}, pg_stat_statements.max "
              f"{row[0]}; filled with {count} distinct statements, {executions} executions "
              f"in {seconds:.1f} s")  # fmt: skip
        with tempfile.TemporaryDirectory() as state:
            settings = replace(load_settings(cwd=ROOT, environ={}), state_dir=Path(state))
            with connect(url, autocommit=True) as conn:
                read_ms, read = timed(lambda: read_statements(conn, limit=None), args.repeat)
            text_bytes = sum(len(s.query.encode()) for s in read.rows)
            print(f"entries read: {read.all_statements} in this database "
                  f"({text_bytes / 1e6:.2f} MB of query text)")  # fmt: skip
            top_queries(settings, url, TopOptions(save="bench"))
            rows = [
                ("read_statements (open connection, one statement)", read_ms),
                ("top_queries (connect, read, analyse, close)",
                 timed(lambda: top_queries(settings, url, TopOptions()), args.repeat)[0]),
                ("top_queries --sort mean --limit 100",
                 timed(lambda: top_queries(settings, url, TopOptions(sort="mean", limit=100)),
                       args.repeat)[0]),
                ("top_queries --since (window over every statement)",
                 timed(lambda: top_queries(settings, url, TopOptions(since="bench")),
                       args.repeat)[0]),
                ("top_queries --save (JSON of every statement)",
                 timed(lambda: top_queries(settings, url, TopOptions(save="again")),
                       args.repeat)[0]),
            ]  # fmt: skip
            print("\n| what | median |\n| --- | ---: |")
            for label, ms in rows:
                print(f"| {label} | {ms:.1f} ms |")
            if args.hyperfine and shutil.which("hyperfine"):
                dbctl = ROOT / ".venv" / "bin" / "dbctl"
                command = f"{dbctl} top-queries --database-url {url} --format json --fail-on never"
                env = {**os.environ, "DBCTL_STATE_DIR": state}
                subprocess.run(
                    ["hyperfine", "-N", "-w", "3", "-r", str(args.repeat), "--style", "basic",
                     command.replace(str(ROOT) + "/", "")],
                    cwd=ROOT, env=env, check=True,
                )  # fmt: skip


if __name__ == "__main__":
    main()
