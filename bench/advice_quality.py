"""check-indexes' advice, scored by the planner, case by case (``bench/advice_cases.py``).

    .venv/bin/python bench/advice_quality.py --server postgresql://postgres@127.0.0.1:PORT/postgres
        [--reload] [--mode ddl|live|validate ...] [--case NAME ...] [--show]

Creates (once; ``--reload`` to redo) the database ``dbctl_bench_advice`` on that server: the
schema and data of ``bench/advice_cases.py`` (about 1M rows, analysed). For each case and
each mode — ``ddl`` (``--schema`` from ``pg_dump -s``, no database), ``live`` (the database's
catalog and statistics), ``validate`` (live and ``--validate``) — runs ``dbctl check-indexes``
on the statement alone and scores the ``CREATE INDEX`` suggestions it prints:

* each index set (the advice, and every set the case's expert would weigh, the empty set
  included) is built for real inside a transaction that is rolled back, and the statement
  is EXPLAINed (a generic plan when it has ``$n`` parameters): its total cost and the
  indexes' size;
* the bar is the cheapest expert set (the smallest among those within 1% of it);
* a hit is advice whose cost is within 10% of the bar and whose size is at most 1.5x the
  bar's, and no index at all when the bar is the empty set.

Real indexes, not HypoPG: HypoPG cannot price gin (trigram, jsonb), and the bench should
not trust the tool it scores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.advice_cases import CASES, DATA, SCHEMA, Case  # noqa: E402

DATABASE = "dbctl_bench_advice"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MODES = ("ddl", "live", "validate")


@dataclass(frozen=True)
class Priced:
    cost: float
    size: int  # bytes of the set's indexes
    refused: tuple[str, ...] = ()  # suggestions PostgreSQL would not create


def database_url(server: str) -> str:
    base, _, _ = server.rpartition("/")
    return f"{base}/{DATABASE}"


def prepare(server: str, reload: bool) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if exists.fetchone() and not reload:
            return
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")  # type: ignore[arg-type]
        conn.execute(f"CREATE DATABASE {DATABASE}")  # type: ignore[arg-type]
    started = time.perf_counter()
    with psycopg.connect(database_url(server), autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
        for statement in DATA.split(";\n"):
            if statement.strip():
                conn.execute(statement)  # type: ignore[arg-type]
    print(f"loaded {DATABASE} in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def dump_schema(server: str, folder: Path) -> Path:
    path = folder / "schema.sql"
    dump = subprocess.run(
        [str(PG_BIN / "pg_dump"), "-s", "-O", "-x", database_url(server)],
        capture_output=True,
        text=True,
        check=True,
    )
    # psql meta-commands (pg_dump's \\restrict) are psql's, not SQL: left out here so that
    # this bench scores the advice, not the DDL reader
    path.write_text(
        "".join(line for line in dump.stdout.splitlines(keepends=True) if not line.startswith("\\"))
    )
    return path


def advise(case: Case, mode: str, server: str, folder: Path, schema: Path) -> list[str]:
    """The CREATE INDEX statements check-indexes suggests for the case's statement."""
    statements = folder / f"{case.name}.sql"
    statements.write_text(case.statement + ";\n")
    command = [str(ROOT / ".venv/bin/dbctl"), "check-indexes", str(statements), "--format", "json"]
    if mode == "ddl":
        command += ["--schema", str(schema)]
    else:
        command += ["--database-url", database_url(server)]
    if mode == "validate":
        command.append("--validate")
    elif mode == "live":  # validation is the default on a live database since issue 12
        command.append("--no-validate")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBCTL_DATABASE_URL")}
    env["DBCTL_STATE_DIR"] = str(folder / "state")  # never a sandbox in the repository
    run = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=folder)
    if run.returncode not in (0, 1):
        raise SystemExit(f"{case.name} ({mode}): exit {run.returncode}: {run.stderr.strip()}")
    report = json.loads(run.stdout)
    found: list[str] = []
    for finding in report["findings"]:
        if not finding.get("statement"):  # schema-wide findings (unindexed foreign keys...)
            continue
        suggestion = finding.get("suggestion") or ""
        for statement in suggestion.split(";"):
            if re.match(r"\s*CREATE\s+(UNIQUE\s+)?INDEX", statement, re.IGNORECASE):
                found.append(statement.strip())
    return sorted(set(found))


def _executable(statement: str) -> str:
    statement = re.sub(r"\bCONCURRENTLY\s+", "", statement, flags=re.IGNORECASE)
    return statement.rstrip().rstrip(";")


def _expert(body: str) -> str:
    return f"CREATE INDEX ON {body}"


def price(conn: psycopg.Connection, case: Case, indexes: list[str]) -> Priced:
    """The statement's planner cost with ``indexes`` built (then rolled back)."""
    with conn.transaction(force_rollback=True):
        before = {row[0] for row in conn.execute("SELECT indexrelid FROM pg_index").fetchall()}
        refused = []
        for statement in indexes:
            try:
                with conn.transaction():
                    conn.execute(_executable(statement))  # type: ignore[arg-type]
            except psycopg.Error as exc:
                refused.append(f"{statement}: {str(exc).splitlines()[0]}")
        size = conn.execute(
            "SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index "
            "WHERE NOT (indexrelid = ANY(%s))",
            (list(before),),
        ).fetchone()
        params = sorted({int(n) for n in re.findall(r"\$(\d+)", case.statement)})
        if params:
            conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            conn.execute(f"PREPARE bench_case AS {case.statement}")  # type: ignore[arg-type]
            nulls = ", ".join("NULL" for _ in range(max(params)))
            plan = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE bench_case({nulls})").fetchone()  # type: ignore[arg-type]
            conn.execute("DEALLOCATE bench_case")
        else:
            plan = conn.execute(f"EXPLAIN (FORMAT JSON) {case.statement}").fetchone()  # type: ignore[arg-type]
    assert plan is not None and size is not None
    return Priced(float(plan[0][0]["Plan"]["Total Cost"]), int(size[0]), tuple(refused))


def bar(conn: psycopg.Connection, case: Case) -> tuple[tuple[str, ...], Priced]:
    options = [((), price(conn, case, []))]
    for alternative in case.alternatives:
        options.append((alternative, price(conn, case, [_expert(b) for b in alternative])))
    cheapest = min(p.cost for _, p in options)
    near = [(a, p) for a, p in options if p.cost <= cheapest * 1.01 + 0.01]
    return min(near, key=lambda item: (item[1].size, len(item[0])))


def hit(advice: Priced, best: Priced, advised: list[str]) -> bool:
    if advice.refused:
        return False
    if best.size == 0:
        return not advised
    return advice.cost <= best.cost * 1.10 + 0.01 and advice.size <= best.size * 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="maintenance URL of the server")
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--case", action="append")
    parser.add_argument("--show", action="store_true", help="print each case's advice")
    args = parser.parse_args()
    prepare(args.server, args.reload)
    modes = args.mode or list(MODES)
    cases = [c for c in CASES if not args.case or c.name in args.case]
    totals = {mode: [0, 0, 0] for mode in modes}  # hits, indexes, bytes
    rows = []
    with tempfile.TemporaryDirectory() as tmp, psycopg.connect(database_url(args.server)) as conn:
        folder = Path(tmp)
        schema = dump_schema(args.server, folder)
        for case in cases:
            expert, best = bar(conn, case)
            marks = []
            for mode in modes:
                advised = advise(case, mode, args.server, folder, schema)
                priced = price(conn, case, advised)
                ok = hit(priced, best, advised)
                totals[mode][0] += ok
                totals[mode][1] += len(advised)
                totals[mode][2] += priced.size
                marks.append("hit" if ok else "MISS")
                if args.show or not ok:
                    print(
                        f"  {case.name} [{mode}] cost {priced.cost:.0f} vs bar {best.cost:.0f} "
                        f"({', '.join(expert) or 'no index'}): {advised or 'no advice'}",
                        file=sys.stderr,
                    )
            rows.append((case.name, best, expert, marks))
    print(f"| case | bar (cheapest expert set) | {' | '.join(modes)} |")
    print(f"|---|---|{'---|' * len(modes)}")
    for name, best, expert, marks in rows:
        shown = ", ".join(expert) or "no index"
        print(f"| {name} | {shown} (cost {best.cost:.0f}) | {' | '.join(marks)} |")
    print()
    for mode in modes:
        hits, count, size = totals[mode]
        print(
            f"{mode}: {hits}/{len(cases)} hits, {count} indexes suggested, "
            f"{size / 1024 / 1024:.1f} MB"
        )


if __name__ == "__main__":
    main()
