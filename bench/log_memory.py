"""Peak memory of the one log reader: ``query-budget`` and ``check-indexes --from-log`` on a
capture log of about 100 MB.

    .venv/bin/python bench/log_memory.py --requests 275000   # ~100 MB, as recorded

Writes the log (``bench/capture_log.py``'s records, seeded) and a ``--schema`` file for the
three tables it queries into a temporary folder, then runs each command once under
``/usr/bin/time -v`` and prints its wall time, peak RSS, and the peak as a share of the file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capture_log import request  # noqa: E402

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers,
                     total_cents bigint NOT NULL);
CREATE TABLE order_items (order_id bigint REFERENCES orders, product_id bigint,
                          quantity int, PRIMARY KEY (order_id, product_id));
"""


def run(command: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in KiB and exit code of ``command``."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
    )
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])  # type: ignore[index]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)[1]  # type: ignore[index]
    minutes, _, seconds = wall.rpartition(":")
    return (int(minutes or 0) * 60 + float(seconds)), rss, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=275_000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    dbctl = str(ROOT / ".venv" / "bin" / "dbctl")
    with tempfile.TemporaryDirectory() as folder:
        log, schema = Path(folder) / "requests.jsonl", Path(folder) / "schema.sql"
        schema.write_text(SCHEMA)
        with log.open("w", encoding="utf-8") as out:
            for _ in range(args.requests):
                record = request(rng).to_record(budget=3)
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
        size = log.stat().st_size
        print(f"log: {args.requests:,} requests, {size / 2**20:.1f} MiB")
        commands = {
            "query-budget": [dbctl, "query-budget", str(log), "--format", "json"],
            "check-indexes --from-log": [
                dbctl, "check-indexes", "--schema", str(schema), "--from-log", str(log),
                "--format", "json",
            ],
        }  # fmt: skip
        for name, command in commands.items():
            wall, rss, code = run(command)
            share = rss * 1024 / size
            print(
                f"{name}: {wall:.2f} s, peak RSS {rss / 1024:.0f} MiB ({share:.2f}x), exit {code}"
            )


if __name__ == "__main__":
    main()
