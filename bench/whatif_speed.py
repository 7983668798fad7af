"""--validate on a workload of many tables: the planner's choice among the candidates and the
greedy selection, timed.

    .venv/bin/python bench/whatif_speed.py --server postgresql://postgres@127.0.0.1:PORT/postgres
        [--tables 25] [--repeat 3]

Creates the database ``dbctl_bench_whatif`` (``--tables`` tables of 20,000 rows, analysed and
vacuumed), then for each table four statements (an equality, equality + range, equality +
sort under a LIMIT, a covering read) and times ``advise`` with the other shapes plus
``whatif.validate`` (HypoPG), as check-indexes runs them on a live database. Prints the
suggestions before and after, the candidates priced, and the median time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dbctl.access.analyze import analyze  # noqa: E402
from dbctl.access.model import Statement  # noqa: E402
from dbctl.advise.advisor import advise  # noqa: E402
from dbctl.advise.model import AdviceOptions  # noqa: E402
from dbctl.advise.whatif import validate  # noqa: E402
from dbctl.pg.catalog_loader import load_catalog  # noqa: E402
from dbctl.pg.stats import load_statistics  # noqa: E402

DATABASE = "dbctl_bench_whatif"


def prepare(server: str, tables: int) -> str:
    base, _, _ = server.rpartition("/")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    url = f"{base}/{DATABASE}"
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(tables):
            conn.execute(
                f"CREATE TABLE t{n} (id int PRIMARY KEY, a int, b int, c timestamptz, "
                f"d text) WITH (autovacuum_enabled = off)"
            )
            conn.execute(
                f"INSERT INTO t{n} SELECT g, g % 500, g % 97, "
                f"now() - g * interval '1 minute', repeat('x', 80) "
                f"FROM generate_series(1, 20000) g"
            )
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute("ANALYZE")
        time.sleep(1)  # an autovacuum worker on the new database's catalogs holds the horizon
        conn.execute("VACUUM")
    return url


def workload(tables: int) -> list[Statement]:
    statements = []
    for n in range(tables):
        for sql in (
            f"SELECT * FROM t{n} WHERE a = $1",
            f"SELECT * FROM t{n} WHERE b = $1 AND c > now() - interval '1 day'",
            f"SELECT * FROM t{n} WHERE b = $1 ORDER BY c DESC LIMIT 20",
            f"SELECT id FROM t{n} WHERE c BETWEEN $1 AND $2",
        ):
            statements.append(Statement(sql, "bench.sql", len(statements) + 1))
    return statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--tables", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = prepare(args.server, args.tables)
    statements = workload(args.tables)
    times = []
    with psycopg.connect(url) as conn:
        catalog = load_catalog(conn)
        stats = load_statistics(conn, list(catalog.tables))
        for _ in range(args.repeat):
            started = time.perf_counter()
            patterns = analyze(statements, catalog, workers=1)
            advice = advise(
                patterns, catalog, statistics=stats, options=AdviceOptions(alternatives=True)
            )
            validated = validate(advice, conn)
            times.append(time.perf_counter() - started)
    print(f"{len(statements)} statements on {args.tables} tables")
    print(
        f"suggestions {len(advice.suggestions)} + other shapes {len(advice.alternatives)}"
        f" -> kept {len(validated.suggestions)}"
    )
    print(f"advise + validate: median {statistics.median(times):.2f} s of {args.repeat}")


if __name__ == "__main__":
    main()
