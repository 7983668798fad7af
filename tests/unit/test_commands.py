"""dbctl.commands: each command a function, settings and options in, a Report out; the CLI
only parses, calls, renders and exits (issue 13). Called here without the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dbctl import commands
from dbctl.advise.check import CheckRequest
from dbctl.budget.endpoints import BudgetRules
from dbctl.render import Format, render
from dbctl.report import FailOn, Report
from tests.conftest import project_settings

pytestmark = pytest.mark.unit


def _text(report: Report, output: Format = Format.text) -> str:
    stream = io.StringIO()
    render(report, output, stream)
    return stream.getvalue()


def test_check_indexes_is_a_function_that_returns_the_report(tmp_path: Path) -> None:
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE orders (id int PRIMARY KEY, status text);")
    queries = tmp_path / "q.sql"
    queries.write_text("SELECT * FROM orders WHERE status = 'paid';\n")
    request = CheckRequest(paths=(str(queries),), schema_files=(str(schema),))
    report = commands.check_indexes(project_settings(), request)
    assert report.command == "check-indexes"
    assert [f.rule for f in report.findings if f.rule == "missing-index"] == ["missing-index"]
    assert report.exit_code == 1
    assert commands.check_indexes(project_settings(), request, fail_on=FailOn.never).ok
    assert "error[missing-index]" in _text(report)


def test_migrate_history_and_its_plain_output() -> None:
    report = commands.migrate_history(project_settings())
    revisions = report.data["revisions"]
    assert revisions and report.findings == () and report.exit_code == 0
    text = _text(report)
    assert text.splitlines() == list(report.text)  # its own lines, no verdict
    assert json.loads(_text(report, Format.json)) == revisions  # JSON as it always was


def test_query_budget_says_its_notes_in_the_report(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    record = {"method": "GET", "route": "/a", "status": 200, "ms": 1.0,
              "statements": [{"statement": "SELECT 1", "count": 4, "ms": 0.5}]}  # fmt: skip
    log.write_text(json.dumps(record) + "\nnot json\n")
    report = commands.query_budget(project_settings(), [str(log)], BudgetRules(default=3))
    assert report.command == "query-budget"
    assert report.summary["requests"] == 1
    assert {f.rule for f in report.findings} == {"query-budget-exceeded", "looped-query"}
    assert any(note.startswith("note: skipped 1 ") for note in report.notes)
    assert "notes" not in json.loads(_text(report, Format.json))  # not in the JSON contract
