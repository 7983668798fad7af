"""dbctl check-indexes through the CLI: sources, catalogs, bad input, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.pg.url import libpq_url
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "access"
SCHEMA = str(FIXTURES / "schema.sql")


def run(*args: str, stdin: str | None = None) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["check-indexes", *args, "--format", "json"], input=stdin)
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stderr


def rules(report: dict[str, Any]) -> list[str]:
    return sorted(f["rule"] for f in report["findings"])


def test_files_parse_errors_unknown_tables_and_the_rest_still_analysed(tmp_path: Path) -> None:
    queries = tmp_path / "queries.sql"
    queries.write_text(
        "-- the hot path\n"
        "SELECT * FROM orders WHERE status = $1 AND created_at > $2;\n"
        "\n"
        "SELECT * FROM WHERE broken;\n"
        "SELECT * FROM ghosts WHERE id = 1;\n"
    )
    code, report, _ = run(str(queries), "--schema", SCHEMA)
    assert code == 1
    assert report["summary"]["statements"] == 3
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["parse-error"]["location"] == {"path": str(queries), "line": 4}
    assert by_rule["unknown-table"]["severity"] == "info"
    missing = [f for f in report["findings"] if f["rule"] == "missing-index"]
    assert [(f["table"], f["location"]["line"]) for f in missing] == [("public.orders", 2)]
    assert missing[0]["suggestion"].startswith("CREATE INDEX CONCURRENTLY ix_orders_status")


def test_stdin_and_fail_on_never() -> None:
    sql = "SELECT * FROM customers WHERE email = %s"
    code, report, _ = run("-", "--schema", SCHEMA, "--fail-on", "never", stdin=sql)
    assert code == 0
    assert report["ok"] is True
    assert "missing-index" in rules(report)


def test_an_empty_input_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sql"
    empty.write_text("-- nothing here\n")
    code, report, _ = run(str(empty), "--schema", SCHEMA)
    assert code == 0
    assert "no-statements" in rules(report)


def test_a_missing_file_is_one_line_and_exit_2() -> None:
    code, _, stderr = run("/nonexistent/queries.sql", "--schema", SCHEMA)
    assert code == 2
    assert stderr == "error: no such file: /nonexistent/queries.sql\n"


def test_nothing_to_check_against_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.sql").write_text("SELECT 1")
    code, _, stderr = run("q.sql")
    assert code == 2
    assert stderr.startswith("error: nothing to check the statements against")


def test_capture_log_with_a_broken_line(tmp_path: Path) -> None:
    log = tmp_path / "capture.jsonl"
    log.write_text(
        json.dumps({"route": "/orders/{id}", "statements": [
            {"statement": "SELECT * FROM order_items WHERE product_id = %(p)s", "count": 2}]})
        + "\n{not json\n"
        + json.dumps({"statement": "SELECT * FROM order_items WHERE product_id = 7"}) + "\n"
    )  # fmt: skip
    code, report, _ = run("--from-log", str(log), "--schema", SCHEMA)
    assert code == 1
    assert report["summary"]["statements"] == 2
    assert report["summary"]["distinct"] == 1
    skipped = [f["message"] for f in report["findings"] if f["rule"] == "skipped-input"]
    assert skipped == ["1 skipped: log lines that are not JSON"]


def test_live_database_with_statistics_and_from_stats(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("advise")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big (id int PRIMARY KEY, owner int, flag boolean, note text);"
            "INSERT INTO big SELECT g, g % 5000, g % 2 = 0, 'n' || g "
            "FROM generate_series(1, 50000) g;"
            "CREATE TABLE tiny (id int PRIMARY KEY, code text);"
            "INSERT INTO tiny SELECT g, 'c' || g FROM generate_series(1, 20) g;"
            "ANALYZE;"
            "SELECT pg_stat_statements_reset();"
        )
        for n in range(30):
            conn.execute("SELECT * FROM big WHERE owner = %s", (n,)).fetchall()
            conn.execute("SELECT * FROM tiny WHERE code = %s", (f"c{n}",)).fetchall()
    code, report, _ = run("--database-url", url, "--from-stats")
    assert report["data"]["catalog"] == "database"
    missing = [f for f in report["findings"] if f["rule"] == "missing-index"]
    assert [(f["table"], f["columns"]) for f in missing] == [("public.big", ["owner"])]
    assert 0 < missing[0]["evidence"]["share_of_total_time"] <= 1
    assert missing[0]["queryid"] is not None
    assert code == 1


def test_a_live_database_with_hypopg_is_validated_by_default(
    make_database: Callable[[str], str], tmp_path: Path
) -> None:
    """Issue 12: --validate is the default on a live database (HypoPG is created in the
    rolled-back what-if transaction when the server has it); --no-validate turns it off."""
    url = make_database("advise_default_validate")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        available = conn.execute(
            "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hypopg')"
        ).fetchone()
        conn.execute(
            "CREATE TABLE big (id int PRIMARY KEY, owner int, note text);"
            "INSERT INTO big SELECT g, g % 5000, 'n' || g FROM generate_series(1, 50000) g;"
            "ANALYZE;"
        )
    if not (available and available[0]):
        pytest.skip("HypoPG is not installed on this server (apt-get install postgresql-15-hypopg)")
    queries = tmp_path / "q.sql"
    queries.write_text("SELECT * FROM big WHERE owner = 42;\n")
    _, report, _ = run("--database-url", url, str(queries))
    assert report["data"]["validated"] is True
    missing = [f for f in report["findings"] if f["rule"] == "missing-index"]
    assert missing and missing[0]["evidence"]["cost_after"] < missing[0]["evidence"]["cost_before"]
    _, report, _ = run("--database-url", url, "--no-validate", str(queries))
    assert report["data"]["validated"] is False
