"""check-indexes on 5,000 distinct statements, against a bare sqlglot parse of the same file.

    uv run python bench/check_indexes.py [--statements 5000] [--repeat 5]

Generates the workload of ``bench/workload.py`` (a 50-table schema; joins, filters, sorts,
CTEs, UPDATE and DELETE with ``$n`` parameters, no two statements alike), then times, in
one run: a bare one-process ``sqlglot.parse`` of the statements file (sqlglotc when it is
installed), and ``dbctl check-indexes FILE --schema schema.sql --format json`` as a
process, end to end (start-up, DDL, parse, analysis, advice, JSON). Medians of --repeat.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import schema, workload  # noqa: E402


def bare_parse(path: Path) -> float:
    code = (
        "import sqlglot, time, sys; text = open(sys.argv[1]).read(); t = time.perf_counter(); "
        "sqlglot.parse(text, read='postgres'); print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


def dbctl_run(statements: Path, schema_file: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dbctl", "check-indexes", str(statements), "--schema",
         str(schema_file), "--format", "json"],
        capture_output=True, check=False, cwd=statements.parent,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        statements, schema_file = work / "statements.sql", work / "schema.sql"
        statements.write_text(";\n".join(workload(args.statements)) + ";\n")
        schema_file.write_text(schema())
        parse = statistics.median(bare_parse(statements) for _ in range(args.repeat))
        dbctl = statistics.median(dbctl_run(statements, schema_file) for _ in range(args.repeat))
    import sqlglot.parser

    # sqlglotc installs compiled modules inside the sqlglot package.
    compiled = "sqlglotc" if str(sqlglot.parser.__file__).endswith(".so") else "pure Python"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"command: uv run python bench/check_indexes.py --statements {args.statements} "
          f"--repeat {args.repeat}")  # fmt: skip
    print()
    print("| what | median |")
    print("| --- | ---: |")
    print(f"| bare `sqlglot.parse` of the file, one process ({compiled}) | {parse:.2f} s |")
    print(f"| `dbctl check-indexes` end to end, as a process | {dbctl:.2f} s |")


if __name__ == "__main__":
    main()
