"""PostgreSQL's own regression SQL through check-indexes, in every catalog mode.

    python bench/fuzz_check_indexes.py [--sdist pglast-8.8.tar.gz] [--limit N]
    python bench/fuzz_check_indexes.py --write-sample tests/fixtures/fuzz/regress_sample.sql

The corpus is the regression suite that libpg_query vendors and the pglast sdist ships
(``libpg_query/test/sql/postgres_regress/*.sql``, about 49,000 statements): the sdist of
the installed pglast is downloaded from PyPI when ``--sdist`` is not given. Statements are
split with pglast's scanner (psql's backslash lines dropped; a file it cannot split is
split with dbctl's lexer), written one per statement to a file, and given to
``dbctl check-indexes`` as a process in four modes: an empty ``--schema`` (nothing known),
``--schema`` with the regression tables' DDL, the live database (those tables, with rows),
and ``--validate`` with HypoPG. Each run must exit 0, 1 or 2 with no ``unexpected`` error
and no traceback, count every statement, and leave the database as it was. Prints the
counts and times; ``--write-sample`` writes the deterministic sample the test suite uses
(``tests/integration/test_fuzz_check_indexes.py``) instead.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGRESS = "libpg_query/test/sql/postgres_regress/"

# The tables most regression statements read (test_setup.sql), filled by generate_series.
REGRESS_DDL = """
CREATE TABLE tenk1 (
    unique1 int4, unique2 int4, two int4, four int4, ten int4, twenty int4, hundred int4,
    thousand int4, twothousand int4, fivethous int4, tenthous int4, odd int4, even int4,
    stringu1 name, stringu2 name, string4 name
);
CREATE TABLE tenk2 (
    unique1 int4, unique2 int4, two int4, four int4, ten int4, twenty int4, hundred int4,
    thousand int4, twothousand int4, fivethous int4, tenthous int4, odd int4, even int4,
    stringu1 name, stringu2 name, string4 name
);
CREATE TABLE onek (
    unique1 int4, unique2 int4, two int4, four int4, ten int4, twenty int4, hundred int4,
    thousand int4, twothousand int4, fivethous int4, tenthous int4, odd int4, even int4,
    stringu1 name, stringu2 name, string4 name
);
CREATE TABLE int4_tbl (f1 int4);
CREATE TABLE int8_tbl (q1 int8, q2 int8);
CREATE TABLE text_tbl (f1 text);
CREATE TABLE road (name text, thepath path);
CREATE INDEX onek_unique1 ON onek (unique1);
CREATE INDEX tenk1_unique1 ON tenk1 (unique1);
CREATE INDEX tenk1_unique2 ON tenk1 (unique2);
CREATE INDEX tenk1_hundred ON tenk1 (hundred);
"""
REGRESS_ROWS = """
INSERT INTO tenk1 SELECT g, (g * 7919) % 10000, g % 2, g % 4, g % 10, g % 20, g % 100,
    g % 1000, g % 2000, g % 5000, g % 10000, (g % 100) * 2 + 1, (g % 100) * 2,
    'A' || g, 'B' || g, (ARRAY['AAAA', 'HHHH', 'OOOO', 'VVVV'])[1 + g % 4]
    FROM generate_series(0, 9999) g;
INSERT INTO tenk2 SELECT * FROM tenk1;
INSERT INTO onek SELECT * FROM tenk1 WHERE unique1 < 1000;
INSERT INTO int4_tbl VALUES (0), (123456), (-123456), (2147483647), (-2147483647);
INSERT INTO int8_tbl VALUES (123, 456), (123, 4567890123456789), (4567890123456789, 123);
INSERT INTO text_tbl SELECT 'text ' || g FROM generate_series(1, 5000) g;
INSERT INTO road SELECT 'Road ' || g, path '[(0,0),(1,1)]' FROM generate_series(1, 5000) g;
ANALYZE;
"""


def sdist(path: str | None, cache: Path) -> Path:
    """The pglast sdist: the given file, or the installed version's, fetched with
    ``pip download`` (the venv has no pip: the first pip on PATH is used)."""
    if path:
        return Path(path)
    import pglast

    version = pglast.__version__.lstrip("v")
    target = cache / f"pglast-{version}.tar.gz"
    if not target.exists():
        pip = shutil.which("pip3") or shutil.which("pip")
        if pip is None:
            sys.exit("no pip on PATH: download the pglast sdist and give it with --sdist")
        subprocess.run(
            [pip, "download", f"pglast=={version}", "--no-binary", ":all:", "--no-deps",
             "--quiet", "-d", str(cache)],
            check=True,
        )  # fmt: skip
    return target


def _split(text: str) -> list[str]:
    import pglast

    from dbctl.access.lexer import split_statements

    try:
        return [s.strip() for s in pglast.split(text, with_parser=False)]
    except pglast.parser.ParseError:
        return [s for s, _ in split_statements(text)]


def corpus(archive: Path) -> list[tuple[str, str]]:
    """Every (file, statement) of the regression SQL, in file order."""
    found: list[tuple[str, str]] = []
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if REGRESS not in member.name or not member.name.endswith(".sql"):
                continue
            raw = tar.extractfile(member)
            assert raw is not None
            try:
                text = io.TextIOWrapper(raw, encoding="utf-8").read()
            except UnicodeDecodeError:
                continue
            lines = [line for line in text.splitlines() if not line.lstrip().startswith("\\")]
            name = member.name.rsplit("/", 1)[1]
            found += [(name, s) for s in _split("\n".join(lines)) if s]
    return found


def as_file(statements: list[str]) -> str:
    """One statement after the other, each ending with ';' on a line of its own."""
    return "".join(f"{s}\n;\n\n" for s in statements)


def kept_whole(statement: str) -> bool:
    """Split by dbctl's lexer as this one statement, and leaving the next one alone (a
    BEGIN ATOMIC body or an unterminated quote would not)."""
    from dbctl.access.lexer import split_statements

    return len(list(split_statements(f"{statement}\n;\nSELECT 1"))) == 2


def _keyword(statement: str) -> str:
    from dbctl.access.lexer import segments

    code = "".join(text for kind, text in segments(statement) if kind != "comment")
    words = code.split(None, 1)
    return words[0].upper().strip("(") if words else ""


QUOTAS = {"SELECT": 180, "INSERT": 50, "UPDATE": 50, "DELETE": 40, "WITH": 40, "MERGE": 12,
          "EXPLAIN": 15, "CREATE": 40, "ALTER": 20, "DROP": 8, "VALUES": 6, "TABLE": 4}  # fmt: skip


def sample(found: list[tuple[str, str]], max_chars: int = 3000) -> list[str]:
    """A deterministic sample of varied kinds: QUOTAS per leading keyword, 3 of each other
    keyword, by the hash of the text (the same corpus gives the same sample)."""
    by_kind: dict[str, list[str]] = collections.defaultdict(list)
    for _, statement in found:
        if len(statement) <= max_chars and kept_whole(statement):
            by_kind[_keyword(statement)].append(statement)
    chosen: list[str] = []
    for kind in sorted(by_kind):
        ranked = sorted(set(by_kind[kind]), key=lambda s: hashlib.sha1(s.encode()).hexdigest())
        chosen += ranked[: QUOTAS.get(kind, 3)]
    return sorted(chosen, key=lambda s: hashlib.sha1(s.encode()).hexdigest())


def prepare_database(url: str) -> None:
    import psycopg

    from dbctl.pg.url import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(REGRESS_DDL + REGRESS_ROWS)


def database_state(url: str) -> tuple[object, ...]:
    import psycopg

    from dbctl.pg.url import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        relations = conn.execute("SELECT count(*), max(oid::int8) FROM pg_class").fetchone()
        rows = conn.execute(
            "SELECT (SELECT count(*) FROM tenk1), (SELECT sum(unique2) FROM tenk1),"
            " (SELECT count(*) FROM onek), (SELECT count(*) FROM int4_tbl)"
        ).fetchone()
    return relations, rows


def modes(folder: Path, url: str | None) -> dict[str, list[str]]:
    empty, ddl = folder / "empty.sql", folder / "regress_schema.sql"
    empty.write_text("")
    ddl.write_text(REGRESS_DDL)
    found = {"empty": ["--schema", str(empty)], "schema": ["--schema", str(ddl)]}
    if url is not None:
        found["live"] = ["--database-url", url, "--no-validate"]
        found["validate"] = ["--database-url", url, "--validate"]
    return found


def check(name: str, code: int, stdout: str, stderr: str, statements: int) -> dict[str, object]:
    """The verdict of one run; raises AssertionError on a broken rule."""
    assert code in (0, 1, 2), f"{name}: exit code {code}"
    assert "unexpected" not in stderr and "Traceback" not in stderr, f"{name}: {stderr[-2000:]}"
    assert code != 2, f"{name}: could not run: {stderr.strip()}"
    report = json.loads(stdout)
    assert report["summary"]["statements"] == statements, name
    rules = collections.Counter(f["rule"] for f in report["findings"])
    distinct = report["summary"]["distinct"]
    return {
        "exit": code,
        "statements": statements,
        "distinct": distinct,
        **dict(sorted(rules.items())),
    }


def run_mode(name: str, args: list[str], queries: Path, statements: int) -> dict[str, object]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "dbctl", "check-indexes", str(queries), *args,
         "--format", "json", "--fail-on", "error"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    return {**check(name, out.returncode, out.stdout, out.stderr, statements), "s": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", help="a pglast-*.tar.gz (default: download it)")
    parser.add_argument("--limit", type=int, default=0, help="the first N statements only")
    parser.add_argument("--write-sample", metavar="PATH", help="write the test sample, stop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = sdist(args.sdist, Path(tempfile.gettempdir()))
        found = corpus(archive)
        if args.write_sample:
            chosen = sample(found)
            header = (
                f"-- {len(chosen)} statements sampled by bench/fuzz_check_indexes.py from "
                f"PostgreSQL's regression SQL ({archive.name}); see README.md\n;\n\n"
            )
            Path(args.write_sample).write_text(header + as_file(chosen), encoding="utf-8")
            print(f"wrote {len(chosen)} statements to {args.write_sample}")
            return
        statements = [s for _, s in found if kept_whole(s)]
        if args.limit:
            statements = statements[: args.limit]
        queries = folder / "regress.sql"
        queries.write_text(as_file(statements), encoding="utf-8")
        print(f"{len(found)} statements in {archive.name}, {len(statements)} given")
        from bench.support import throwaway_server
        from dbctl.pg.url import with_database

        with throwaway_server(folder) as admin:
            import psycopg

            from dbctl.pg.url import libpq_url

            with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS dbctl_fuzz")
                conn.execute("CREATE DATABASE dbctl_fuzz")
            url = with_database(admin, "dbctl_fuzz")
            prepare_database(url)
            before = database_state(url)
            for name, mode_args in modes(folder, url).items():
                print(name, json.dumps(run_mode(name, mode_args, queries, len(statements))))
            assert database_state(url) == before, "the database changed"
            print("the database is unchanged")


if __name__ == "__main__":
    main()
