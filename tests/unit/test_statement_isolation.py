"""One statement never stops a run: whatever fails in its parse or analysis is its own
``parse-error`` finding (with its location), and the other statements still get advice.
And what ``--validate`` may send: ``explainable`` keeps exactly one re-emitted query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbctl.access.analyze import analyze
from dbctl.access.model import AccessPattern, Kind, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.explainable import NotExplainable, explainable
from dbctl.cli import app
from dbctl.report import Severity
from dbctl.schema.catalog import Catalog, Column, Table
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit

SCHEMA = str(PROJECT_ROOT / "tests" / "fixtures" / "access" / "schema.sql")
NORMAL = "SELECT * FROM orders WHERE status = $1"
HOSTILE = {
    "pgvector <#>": "SELECT * FROM items ORDER BY embedding <#> '[1,2,3]' LIMIT 5",
    "?#": "SELECT * FROM orders WHERE box1 ?# box2",
    "500 parentheses": "SELECT " + "(" * 500 + "1" + ")" * 500 + " FROM orders",
    "100k characters": "SELECT * FROM orders WHERE status IN ("
    + ", ".join(f"'s{n}'" for n in range(12_000))
    + ") AND " * 0
    + ")",
}
CATALOG = Catalog.build(
    [Table("public", "orders", columns=(Column("id", "integer"), Column("status", "text")))]
)


def test_the_hostile_statements_are_what_they_claim() -> None:
    assert len(HOSTILE["100k characters"]) > 100_000


@pytest.mark.parametrize("name", ["pgvector <#>", "?#", "500 parentheses"])
def test_a_statement_sqlglot_fails_on_is_its_own_error(name: str) -> None:
    statements = [
        Statement(HOSTILE[name], "q.sql", 1, fingerprint="bad"),
        Statement(NORMAL, "q.sql", 2, fingerprint="good"),
    ]
    bad, good = analyze(statements, CATALOG, workers=1)
    assert bad.error is not None and bad.kind is Kind.other
    assert good.error is None
    advice = advise([bad, good], CATALOG)
    (error,) = [f for f in advice.findings() if f.rule == "parse-error"]
    assert error.severity is Severity.error
    assert error.location is not None and (error.location.path, error.location.line) == (
        "q.sql",
        1,
    )
    assert [s.columns for s in advice.suggestions] == [("status",)]


def test_the_reasons_are_said() -> None:
    (unknown,) = analyze([Statement(HOSTILE["?#"], "q.sql", 1)], CATALOG, workers=1)
    assert unknown.error is not None and "TypeError" in unknown.error
    (deep,) = analyze([Statement(HOSTILE["500 parentheses"], "q.sql", 1)], CATALOG, workers=1)
    assert deep.error == "it is nested too deeply to analyse"


def test_a_100k_character_statement_is_analysed() -> None:
    (pattern,) = analyze([Statement(HOSTILE["100k characters"], "q.sql", 1)], CATALOG, workers=1)
    assert pattern.error is None
    assert pattern.accesses[0].in_lists == ("status",)


def test_a_record_holding_several_statements_is_an_error() -> None:
    text = "SELECT * FROM orders WHERE status = 'n'; COMMIT; CREATE TABLE pwned(x int)"
    (pattern,) = analyze([Statement(text, "capture.jsonl", 4)], CATALOG, workers=1)
    assert pattern.error == "it holds 3 statements; each record must hold one"
    assert pattern.accesses == ()


def test_a_fault_in_the_advice_of_one_statement_keeps_nothing_of_it() -> None:
    """The collector takes a statement whole or not at all: a fault on its second
    access drops the candidate of its first one too."""
    good = TableAccess("public.orders", equality=("status",))
    broken = TableAccess("public.orders", sort=("not a SortKey",))  # type: ignore[arg-type]
    faulty = AccessPattern(Statement("SELECT 1", "q.sql", 7), Kind.select, (good, broken))
    fine = AccessPattern(
        Statement("SELECT 2", "q.sql", 9), Kind.select, (TableAccess("public.orders", ("id",)),)
    )
    advice = advise([faulty, fine], CATALOG)
    (error,) = [f for f in advice.findings() if f.rule == "parse-error"]
    assert "dbctl fails on it (AttributeError" in error.message
    assert error.location is not None and error.location.line == 7
    assert [s.columns for s in advice.suggestions] == [("id",)]


def run(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(app, ["check-indexes", *args, "--format", "json"])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_through_a_file_and_a_log(tmp_path: Path) -> None:
    queries = tmp_path / "queries.sql"
    queries.write_text("".join(f"{text};\n" for text in [*HOSTILE.values(), NORMAL]))
    log = tmp_path / "capture.jsonl"
    log.write_text("".join(json.dumps({"statement": t}) + "\n" for t in HOSTILE.values()))
    code, report, stderr = run(str(queries), "--from-log", str(log), "--schema", SCHEMA)
    assert code == 1
    assert stderr == ""  # no sqlglot warnings, no traceback
    findings = report["findings"]
    assert isinstance(findings, list)
    errors = sorted(
        (f["location"]["path"], f["location"]["line"])
        for f in findings
        if f["rule"] == "parse-error"
    )
    assert errors == [(str(log), 1), (str(log), 2), (str(log), 3), (str(queries), 1),
                      (str(queries), 2), (str(queries), 3)]  # fmt: skip
    assert any(f["rule"] == "missing-index" and f["columns"] == ["status"] for f in findings)


def test_odd_statements_print_nothing_on_stderr(tmp_path: Path) -> None:
    queries = tmp_path / "queries.sql"
    queries.write_text(
        "SHOW work_mem; DO $$ BEGIN END $$; LISTEN x; CHECKPOINT; ALTER SYSTEM SET a = 1;"
        "SELECT * FROM orders WHERE status = $1 FOR UPDATE OF orders NOWAIT;"
    )
    code, _, stderr = run(str(queries), "--schema", SCHEMA, "--fail-on", "never")
    assert (code, stderr) == (0, "")


@pytest.mark.parametrize(
    ("text", "sent", "params"),
    [
        ("SELECT * FROM t WHERE a = %s -- why\n", "SELECT * FROM t WHERE a = $1", 1),
        ("update t set a = :a where b = :b", "UPDATE t SET a = $1 WHERE b = $2", 2),
        ("DELETE FROM t WHERE a = 1 /* x */", "DELETE FROM t WHERE a = 1", 0),
        ("INSERT INTO t VALUES ($1)", "INSERT INTO t VALUES ($1)", 1),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH x AS (SELECT 1) SELECT * FROM x", 0),
        ("SELECT 1 UNION SELECT 2", "SELECT 1 UNION SELECT 2", 0),
        ("SELECT 'a'';COMMIT' AS s", "SELECT 'a'';COMMIT' AS s", 0),
    ],
)
def test_explainable_re_emits_one_statement(text: str, sent: str, params: int) -> None:
    assert explainable(text) == (sent, params)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("SELECT 1; COMMIT; CREATE TABLE pwned(x int); SELECT 1", "it holds 4 statements"),
        ("SELECT * INTO pwned FROM t", "not SELECT ... INTO"),
        ("CREATE TABLE pwned (x int)", "not CREATE"),
        ("COMMIT", "not COMMIT"),
        ("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", "not DO"),
        ("VALUES (1)", "not VALUES"),
        ("-- nothing", "it is empty"),
        (HOSTILE["pgvector <#>"], "it does not parse"),
        (HOSTILE["500 parentheses"], "it does not parse"),
    ],
)
def test_explainable_refuses(text: str, why: str) -> None:
    with pytest.raises(NotExplainable, match=why.replace(".", r"\.")):
        explainable(text)
