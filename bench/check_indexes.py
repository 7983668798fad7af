"""check-indexes on 5,000 distinct statements, against a bare sqlglot parse of the same file.

    uv run python bench/check_indexes.py [--statements 5000] [--repeat 7] [--cold-bytecode]

Generates the workload of ``bench/workload.py`` (a 50-table schema; joins, filters, sorts,
CTEs, UPDATE and DELETE with ``$n`` parameters, no two statements alike) and measures the
two sides the same way, twice, interleaved round by round in one run:

(a) in process: a fresh interpreter per sample, imports done before the clock starts, then
    timed inside the interpreter from the file's bytes to the result. Bare: read the file,
    ``sqlglot.parse(text, read="postgres")``. dbctl: the body of the ``check-indexes``
    command (``dbctl.cli.check_indexes``, called as typer would call it, without typer's
    argument parsing): settings, the statements file read, the ``--schema`` DDL, analysis
    on both cores, advice, the JSON report written to stdout (/dev/null).
(b) as processes, end to end, timed from outside: ``python -c "import sqlglot;
    sqlglot.parse(...)"`` against ``python -m dbctl check-indexes FILE --schema schema.sql
    --format json``, interpreter start and imports included.

The ratio is dbctl over bare: at most 1.0 is the goal. Medians of --repeat rounds; the
ratio of the medians is the figure, the median of each round's ratio is printed beside it.
Bytecode: the subprocesses write and read their .pyc files under a private
``PYTHONPYCACHEPREFIX`` (one warm-up run of each side first), as an installed package runs
after its first start, whatever ``PYTHONDONTWRITEBYTECODE`` says; ``--cold-bytecode`` keeps
the environment as it is (with no .pyc anywhere, every start compiles its sources, which
weighs on dbctl's larger import graph more than on sqlglot's).
"""

from __future__ import annotations

import argparse
import json
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

# (a), bare: the imports first (the postgres dialect included), then the clock.
BARE_IN_PROCESS = """
import sys, time
from pathlib import Path
import sqlglot, sqlglot.dialects.postgres
started = time.perf_counter()
text = Path(sys.argv[1]).read_bytes().decode("utf-8")
sqlglot.parse(text, read="postgres")
sys.stderr.write(f"{time.perf_counter() - started}\\n")
"""

# (a), dbctl: the modules the command imports (lazily) first, then the clock around the
# command's body; it ends, as on the command line, in typer.Exit with the exit code.
DBCTL_IN_PROCESS = """
import sys, time
from pathlib import Path
import typer
import sqlglot.dialects.postgres, sqlglot.optimizer.scope
import concurrent.futures.process, multiprocessing.popen_fork
import dbctl.cli, dbctl.config, dbctl.advise.check, dbctl.advise.advisor
import dbctl.access.analyze, dbctl.access.extract, dbctl.schema.ddl, dbctl.render.json_
from dbctl.render import Format
started = time.perf_counter()
try:
    dbctl.cli.check_indexes(
        paths=[sys.argv[1]], schema=[Path(sys.argv[2])], output=Format.json
    )
    code = 0
except typer.Exit as exc:
    code = exc.exit_code
elapsed = time.perf_counter() - started
sys.stderr.write(f"{elapsed} {code}\\n")
"""

BARE_PROCESS = (
    "import sys, sqlglot; "
    "sqlglot.parse(open(sys.argv[1], encoding='utf-8').read(), read='postgres')"
)


def _environment(cold: bool, folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    if not cold:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def _in_process(code: str, args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds measured inside a fresh interpreter (its last stderr line)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        check=True,
    )  # fmt: skip
    fields = done.stderr.strip().splitlines()[-1].split()
    if len(fields) > 1 and fields[1] not in ("0", "1"):  # dbctl: 1 means findings
        raise SystemExit(f"dbctl failed (exit {fields[1]}): {done.stderr}")
    return float(fields[0])


def _process(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of a process, start-up included."""
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:4]} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def _row(what: str, bare: list[float], dbctl: list[float]) -> str:
    b, d = statistics.median(bare), statistics.median(dbctl)
    rounds = statistics.median(y / x for x, y in zip(bare, dbctl, strict=True))
    return f"| {what} | {b:.3f} s | {d:.3f} s | {d / b:.2f} ({rounds:.2f}) |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold-bytecode", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        statements, schema_file = work / "statements.sql", work / "schema.sql"
        statements.write_text(";\n".join(workload(args.statements)) + ";\n")
        schema_file.write_text(schema())
        env = _environment(args.cold_bytecode, work)
        names = [statements.name]
        cli = [sys.executable, "-m", "dbctl", "check-indexes", statements.name,
               "--schema", schema_file.name, "--format", "json"]  # fmt: skip
        bare_cmd = [sys.executable, "-c", BARE_PROCESS, statements.name]
        report = subprocess.run(cli, cwd=work, env=env, capture_output=True, check=False)
        summary = json.loads(report.stdout)["summary"]  # also the bytecode warm-up
        _process(bare_cmd, work, env)
        samples: dict[str, list[float]] = {k: [] for k in ("ba", "da", "bb", "db")}
        for _ in range(args.repeat):
            samples["ba"].append(_in_process(BARE_IN_PROCESS, names, work, env))
            samples["da"].append(
                _in_process(DBCTL_IN_PROCESS, [*names, schema_file.name], work, env)
            )
            samples["bb"].append(_process(bare_cmd, work, env))
            samples["db"].append(_process(cli, work, env))
    from importlib.metadata import version

    import sqlglot.parser

    # sqlglotc installs compiled modules inside the sqlglot package.
    compiled = "sqlglotc" if str(sqlglot.parser.__file__).endswith(".so") else "pure Python"
    bytecode = "as found" if args.cold_bytecode else "warm .pyc (PYTHONPYCACHEPREFIX)"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, sqlglot {version('sqlglot')} ({compiled}), "
        f"bytecode {bytecode}"
    )
    flags = " --cold-bytecode" if args.cold_bytecode else ""
    print(f"command: uv run python bench/check_indexes.py --statements {args.statements} "
          f"--repeat {args.repeat}{flags}")  # fmt: skip
    print(f"dbctl's summary: {summary}")
    print()
    print(
        "| median of the rounds | bare `sqlglot.parse` | `dbctl check-indexes` | ratio (rounds) |"
    )
    print("| --- | ---: | ---: | ---: |")
    print(_row("(a) in process, file to result", samples["ba"], samples["da"]))
    print(_row("(b) as a process, end to end", samples["bb"], samples["db"]))


if __name__ == "__main__":
    main()
