"""How fast PostgreSQL rewrites a table: the figure lint-migrations estimates a rewrite's
duration with (``dbctl.lint.lint.REWRITE_BYTES_PER_SECOND``).

    .venv/bin/python bench/lint_rewrite.py --server URL [--rows 3000000]

Builds a table of ``--rows`` rows (bigint key, int, text, timestamptz) with its primary key
and one more index, then times the two rewrites lint-migrations most often sees:
``ALTER COLUMN ... TYPE bigint`` and ``ADD COLUMN ... DEFAULT gen_random_uuid()``, each in
a transaction rolled back, and prints bytes per second of ``pg_total_relation_size``.
"""

from __future__ import annotations

import argparse
import time

import psycopg

SETUP = """
DROP TABLE IF EXISTS rewrite_bench;
CREATE TABLE rewrite_bench (id bigint PRIMARY KEY, n int, note text, at timestamptz);
INSERT INTO rewrite_bench
    SELECT g, g % 1000, md5(g::text), now() - g * interval '1 second'
    FROM generate_series(1, %(rows)s) g;
CREATE INDEX rewrite_bench_n ON rewrite_bench (n);
VACUUM ANALYZE rewrite_bench;
"""
REWRITES = {
    "ALTER COLUMN n TYPE bigint": "ALTER TABLE rewrite_bench ALTER COLUMN n TYPE bigint",
    "ADD COLUMN DEFAULT gen_random_uuid()": (
        "ALTER TABLE rewrite_bench ADD COLUMN token uuid DEFAULT gen_random_uuid()"
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args()
    with psycopg.connect(args.server, autocommit=True) as conn:
        for statement in SETUP.replace("%(rows)s", str(args.rows)).split(";"):
            if statement.strip():
                conn.execute(statement)  # type: ignore[arg-type]
        row = conn.execute("SELECT pg_total_relation_size('rewrite_bench')").fetchone()
        assert row is not None
        size = int(row[0])
        print(f"{args.rows:,} rows, {size / 2**20:.0f} MB with its indexes")
        for name, sql in REWRITES.items():
            conn.execute("BEGIN")
            started = time.perf_counter()
            conn.execute(sql)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            conn.execute("ROLLBACK")
            print(f"{name}: {seconds:.2f} s, {size / seconds / 2**20:.0f} MB/s")
        conn.execute("DROP TABLE rewrite_bench")


if __name__ == "__main__":
    main()
