"""check-indexes on public benchmark workloads (``bench/public/``), scored by the planner
against no index and a hand-written expert set.

    .venv/bin/python bench/public_workloads.py --server postgresql://postgres@127.0.0.1:PORT/postgres
        [--bench tpcc|tpch|pgbench ...] [--reload] [--out DIR] [--show]

Without ``--server``: ``DBCTL_BENCH_DATABASE_URL``, else a throwaway sandbox. Creates (once;
``--reload`` to redo) one database per benchmark, ``dbctl_pub_<name>``: its schema (primary
keys only), its data generated in SQL, then ``VACUUM ANALYZE``. Then, per benchmark, the
index sets

* ``none``: the primary keys alone;
* ``expert``: the benchmark's hand-written set;
* ``dbctl ddl``: ``check-indexes FILE --schema S`` (``S`` from ``pg_dump -s``: no statistics);
* ``dbctl live``: ``--database-url``, ``--no-validate`` (catalog and ``pg_stats``);
* ``dbctl validated``: ``--database-url`` (HypoPG what-if, the default on a live database)

are each built for real in one transaction that is rolled back, and every statement of the
workload is EXPLAINed under them (a generic plan for ``$n`` statements, as a prepared
statement runs): the score is the sum of total costs weighted by each statement's frequency,
and the size of the set's indexes. dbctl is run as a process on the whole workload (one file,
every statement once: it does not know the weights), as a user would, and timed.

Pricing and its rules come from ``bench/advice_quality.py`` (``_executable``, ``Priced``),
which does the same for one statement at a time; here the set is built once and the whole
workload priced under it, since building ``lineitem``'s indexes once per statement would
take minutes. The planner does not price index maintenance: for the write statements of
TPC-C and pgbench the extra indexes cost nothing in the total and show only in the size.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import sqlglot
from sqlglot import TokenType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.advice_quality import PG_BIN, Priced, _executable  # noqa: E402
from bench.public import Benchmark, benchmarks  # noqa: E402
from bench.support import throwaway_server  # noqa: E402

MODES = {"dbctl ddl": "ddl", "dbctl live": "live", "dbctl validated": "validate"}


@dataclass(frozen=True)
class Scored:
    """One index set's score on one benchmark."""

    label: str
    indexes: tuple[str, ...]
    priced: Priced
    costs: tuple[float, ...]  # per statement, unweighted
    seconds: float | None = None  # dbctl's run time
    report: dict[str, object] = field(default_factory=dict, compare=False)


def plain_url(url: str) -> str:
    """libpq's form of a URL (the sandbox prints SQLAlchemy's ``postgresql+psycopg``)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def database_url(server: str, bench: Benchmark) -> str:
    base, _, _ = server.rpartition("/")
    return f"{base}/dbctl_pub_{bench.name}"


def prepare(server: str, bench: Benchmark, reload: bool) -> None:
    name = f"dbctl_pub_{bench.name}"
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() and not reload:
            return
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    started = time.perf_counter()
    with psycopg.connect(database_url(server, bench), autocommit=True) as conn:
        conn.execute(bench.schema)
        for statement in bench.data:
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def dump_schema(url: str, folder: Path) -> Path:
    """``pg_dump -s`` of the database, less psql meta-commands (as advice_quality's, which is
    bound to its own database)."""
    dump = subprocess.run(
        [str(PG_BIN / "pg_dump"), "-s", "-O", "-x", url], capture_output=True, text=True, check=True
    )
    path = folder / "schema.sql"
    path.write_text(
        "".join(line for line in dump.stdout.splitlines(keepends=True) if not line.startswith("\\"))
    )
    return path


def suggestions(report: dict[str, object]) -> list[str]:
    """The CREATE INDEX statements of a check-indexes JSON report: ``data.suggestions``, and
    any ``missing-index`` finding's suggestion besides."""
    found: list[str] = []
    data = report.get("data")
    if isinstance(data, dict):
        found += [s["sql"] for s in data.get("suggestions", []) if s.get("sql")]
    findings = report.get("findings")
    for finding in findings if isinstance(findings, list) else []:
        if finding.get("rule") == "missing-index" and finding.get("suggestion"):
            found.append(finding["suggestion"])
    statements = [s.strip() for text in found for s in text.split(";")]
    index = re.compile(r"CREATE\s+(UNIQUE\s+)?INDEX", re.IGNORECASE)
    return sorted({s for s in statements if index.match(s)})


def run_dbctl(
    mode: str, workload: Path, schema: Path, url: str, folder: Path
) -> tuple[dict[str, object], float]:
    command = [str(ROOT / ".venv/bin/python"), "-m", "dbctl", "check-indexes", str(workload)]
    if mode == "ddl":
        command += ["--schema", str(schema)]
    else:
        command += ["--database-url", url]
    if mode == "live":
        command.append("--no-validate")
    command += ["--format", "json"]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBCTL_DATABASE_URL")}
    env["DBCTL_STATE_DIR"] = str(folder / "state")  # never a sandbox in the repository
    started = time.perf_counter()
    # cwd outside the repository: the project's [tool.dbctl] must not tune the advice
    run = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=folder)
    seconds = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise SystemExit(f"check-indexes ({mode}): exit {run.returncode}: {run.stderr.strip()}")
    return json.loads(run.stdout), seconds


def _plan_cost(conn: psycopg.Connection, sql: str) -> float:
    params = sorted({int(n) for n in re.findall(r"\$(\d+)", sql)})
    if params:
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE bench_statement AS {sql}")
        nulls = ", ".join("NULL" for _ in range(max(params)))
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE bench_statement({nulls})").fetchone()
        conn.execute("DEALLOCATE bench_statement")
    else:
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()
    assert plan is not None
    return float(plan[0][0]["Plan"]["Total Cost"])


def price(
    conn: psycopg.Connection, bench: Benchmark, indexes: Sequence[str]
) -> tuple[Priced, tuple[float, ...]]:
    """The workload's weighted planner cost with ``indexes`` built (then rolled back), the
    indexes' size, and each statement's cost."""
    with conn.transaction(force_rollback=True):
        before = [row[0] for row in conn.execute("SELECT indexrelid FROM pg_index").fetchall()]
        refused = []
        for statement in indexes:
            try:
                with conn.transaction():
                    conn.execute(_executable(statement))
            except psycopg.Error as exc:
                refused.append(f"{statement}: {str(exc).splitlines()[0]}")
        size = conn.execute(
            "SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index "
            "WHERE NOT (indexrelid = ANY(%s))",
            (before,),
        ).fetchone()
        costs = tuple(_plan_cost(conn, s.sql) for s in bench.statements)
    assert size is not None
    total = sum(c * s.weight for c, s in zip(costs, bench.statements, strict=True))
    return Priced(total, int(size[0]), tuple(refused)), costs


def score(server: str, bench: Benchmark, folder: Path) -> list[Scored]:
    url = database_url(server, bench)
    work = folder / bench.name
    work.mkdir()
    workload = work / "workload.sql"
    workload.write_text("".join(f"{s.sql};\n" for s in bench.statements))
    schema = dump_schema(url, work)
    scored = []
    with psycopg.connect(url) as conn:
        for label, indexes in (("none", ()), ("expert", tuple(e.sql for e in bench.expert))):
            priced, costs = price(conn, bench, indexes)
            scored.append(Scored(label, indexes, priced, costs))
        texts = [(workload, "")]
        if any(has_upper_identifier(s.sql) for s in bench.statements):
            folded = "".join(f"{fold_case(s.sql)};\n" for s in bench.statements)
            texts.append((work / "workload-folded.sql", " (lower-cased)"))
            texts[-1][0].write_text(folded)
        for path, suffix in texts:
            for label, mode in MODES.items():
                report, seconds = run_dbctl(mode, path, schema, url, work)
                advised = tuple(suggestions(report))
                priced, costs = price(conn, bench, advised)
                scored.append(Scored(label + suffix, advised, priced, costs, seconds, report))
    return scored


def has_upper_identifier(sql: str) -> bool:
    """Whether an unquoted identifier (not a keyword) of the statement has a capital."""
    tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(sql)
    return any(t.token_type == TokenType.VAR and t.text != t.text.lower() for t in tokens)


def fold_case(sql: str) -> str:
    """The statement with what lies outside quotes lower-cased: what PostgreSQL does to
    unquoted identifiers. dbctl is also run on this text when it differs (BenchBase writes
    TPC-C's identifiers in upper case), so that its advice is scored apart from how it reads
    identifiers."""
    parts = re.split(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")", sql)
    return "".join(p if i % 2 else p.lower() for i, p in enumerate(parts))


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def table(bench: Benchmark, scored: list[Scored]) -> str:
    expert = next(s for s in scored if s.label == "expert")
    lines = [
        f"**{bench.name}** ({bench.source}; {len(bench.statements)} statements)",
        "",
        "| set | indexes | weighted planner cost | vs expert | size | size vs expert "
        "| dbctl run time |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scored:
        vs = (s.priced.cost / expert.priced.cost - 1) * 100
        if expert.priced.size:
            size_vs = f"{s.priced.size / expert.priced.size:.2f}x"
        else:
            size_vs = "= (0)" if s.priced.size == 0 else f"+{_mb(s.priced.size)}"
        refused = f" ({len(s.priced.refused)} refused)" if s.priced.refused else ""
        seconds = "" if s.seconds is None else f"{s.seconds:.2f} s"
        lines.append(
            f"| {s.label} | {len(s.indexes)}{refused} | {s.priced.cost:,.0f} | {vs:+.1f}% "
            f"| {_mb(s.priced.size)} | {size_vs} | {seconds} |"
        )
    return "\n".join(lines)


def details(bench: Benchmark, scored: list[Scored]) -> str:
    """Each set's indexes and each statement's cost under every set: what the table sums."""
    lines = [f"### {bench.name}: indexes"]
    for s in scored:
        lines.append(f"- {s.label}:")
        lines += [f"    - `{i}`" for i in s.indexes] or ["    - (none)"]
        lines += [f"    - REFUSED {r}" for r in s.priced.refused]
    lines += ["", f"### {bench.name}: cost per statement (unweighted)", ""]
    lines.append("| statement | weight | " + " | ".join(s.label for s in scored) + " |")
    lines.append("|---|---|" + "---|" * len(scored))
    for i, statement in enumerate(bench.statements):
        costs = " | ".join(f"{s.costs[i]:,.1f}" for s in scored)
        lines.append(f"| {statement.name} | {statement.weight:g} | {costs} |")
    return "\n".join(lines)


@contextmanager
def server_url(given: str | None, folder: Path) -> Iterator[str]:
    if given:
        yield plain_url(given)
        return
    with throwaway_server(folder) as url:
        yield plain_url(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="maintenance URL of a server (superuser)")
    parser.add_argument("--bench", action="append", help="a benchmark (repeatable); all if none")
    parser.add_argument("--reload", action="store_true", help="regenerate the databases")
    parser.add_argument("--out", type=Path, help="folder for the reports, tables and details")
    parser.add_argument("--show", action="store_true", help="print the indexes and costs too")
    args = parser.parse_args()
    available = benchmarks()
    names = args.bench or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(available)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, server_url(args.server, Path(tmp)) as server:
        for name in names:
            bench = available[name]
            prepare(server, bench, args.reload)
            scored = score(server, bench, Path(tmp))
            print(table(bench, scored), end="\n\n", flush=True)
            if args.show:
                print(details(bench, scored), end="\n\n", flush=True)
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"{name}.md").write_text(
                    table(bench, scored) + "\n\n" + details(bench, scored) + "\n"
                )
                for s in scored:
                    if s.report:
                        slug = s.label.replace(" ", "-")
                        (args.out / f"{name}.{slug}.json").write_text(
                            json.dumps(s.report, indent=1)
                        )
    print(f"total run time {time.perf_counter() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
