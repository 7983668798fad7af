"""The text table of top-queries: one shortened line per statement, the breach marked."""

from __future__ import annotations

import io
from typing import Any

import pytest

from dbctl.render.top import one_line, render
from dbctl.report import FailOn, Finding, Report, Severity

pytestmark = pytest.mark.unit

LONG = (
    "SELECT o.id, o.total,\n       c.name\nFROM orders o JOIN customers c ON c.id = o.customer_id "
    + ("AND o.status = $1 " * 10)
)


def row(number: int, query: str, mean: float, calls: int, **changes: Any) -> dict[str, Any]:
    base = {
        "queryid": number,
        "query": query,
        "calls": calls,
        "total_ms": mean * calls,
        "mean_ms": mean,
        "max_ms": mean * 2,
        "share": 0.0,
        "rows_per_call": 1.0,
        "hit_ratio": 0.995,
        "io_ms": 1.25,
        "rows": calls,
        "slo_breach": mean > 3,
        "new": False,
        "reset": False,
        "advice": [],
    }
    base.update(changes)
    return base


def report(rows: list[dict[str, Any]], findings: list[Finding], **data: Any) -> Report:
    total = sum(r["total_ms"] for r in rows)
    for r in rows:
        r["share"] = r["total_ms"] / total
    breaching = [r for r in rows if r["slo_breach"]]
    summary = {
        "statements": len(rows) + 3,
        "listed": len(rows),
        "hidden": 0,
        "total_ms": total,
        "slo_ms": 3.0,
        "slo_breaches": len(breaching),
        "slo_breach_share": sum(r["total_ms"] for r in breaching) / total if total else 0.0,
    }
    base = {"sort": "total", "window": None, "rows": rows}
    base.update(data)
    return Report.of("top-queries", findings, fail_on=FailOn.error, summary=summary, data=base)


def text(report: Report, monkeypatch: pytest.MonkeyPatch, width: int = 200) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    stream = io.StringIO()
    render(report, stream)
    return [line.rstrip() for line in stream.getvalue().splitlines()]


def test_one_line() -> None:
    assert one_line("SELECT  a,\n\t b FROM t") == "SELECT a, b FROM t"
    cut = one_line(LONG, 40)
    assert len(cut) == 40 and cut.endswith("…") and "\n" not in cut


def test_table_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    breach = Finding("slo-breach", Severity.error, "slow", statement=LONG, queryid=1)
    advice = Finding(
        "missing-index",
        Severity.error,
        "orders is filtered on status",
        suggestion="CREATE INDEX CONCURRENTLY ix_orders_status ON orders (status);",
    )
    rows = [
        row(1, LONG, 12.5, 1200, advice=[advice.as_dict()]),
        row(2, "SELECT 1", 0.02, 5, new=True, hit_ratio=None),
    ]
    lines = text(report(rows, [breach, advice]), monkeypatch)
    header = "#  calls  total ms  mean ms  share  max ms  rows/call  hit  query"
    assert lines[0].split() == header.split()
    assert lines[1].startswith("─")
    first = lines[2]
    figures = ["1", "1,200", "15,000.00", "12.50", "!", "100.0%", "25.00", "1.0", "99.5%"]
    assert first.split()[:9] == figures
    assert "99.5%   SELECT o.id, o.total, c.name FROM orders o JOIN customers c" in first
    assert first.endswith("…")
    assert "\n" not in first and len(first) <= 200
    assert lines[3].strip() == (
        "-> missing-index: orders is filtered on status  "
        "CREATE INDEX CONCURRENTLY ix_orders_status ON orders (status);"
    )
    assert lines[4].split() == [
        "2",
        "5",
        "0.10",
        "0.02",
        "0.0%",
        "0.04",
        "1.0",
        "-",
        "[new]",
        "SELECT",
        "1",
    ]
    assert lines[5:] == [
        "5 statements, 2 listed by total time; 1 above the 3 ms objective (marked !): "
        "100.0% of the time",
        "dbctl top-queries: failed (2 errors, 0 warnings, 0 infos)",
    ]


def test_narrow_consoles_keep_the_query_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = text(report([row(1, LONG, 12.5, 1200)], []), monkeypatch, width=80)
    assert lines[0].split() == ["#", "calls", "total", "ms", "mean", "ms", "share", "query"]
    assert all(len(line) <= 80 for line in lines[:3])
    assert "SELECT o.id, o.total, c.name FROM" in lines[2]


def test_findings_of_no_listed_statement_follow_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hidden = Finding(
        "slo-breach",
        Severity.error,
        "2 statements of other roles, whose text this role may not see, are above the 3 ms "
        "objective",
        suggestion="GRANT pg_read_all_stats TO monitor;",
    )
    lines = text(report([row(1, "SELECT 1", 0.5, 10)], [hidden]), monkeypatch)
    assert lines[-2] == (
        "error slo-breach: 2 statements of other roles, whose text this role may not see, are "
        "above the 3 ms objective GRANT pg_read_all_stats TO monitor;"
    )


def test_window_header_and_empty_table(monkeypatch: pytest.MonkeyPatch) -> None:
    window = {"since": "deploy", "seconds": 7500.0, "statements": 0, "new_statements": 0}
    lines = text(report([], [], window=window), monkeypatch)
    assert lines[:2] == [
        "since snapshot 'deploy' (2 h 5 min ago): 0 statements ran, 0 of them new",
        "no statement ran since the snapshot",
    ]


@pytest.mark.parametrize(
    ("sort", "column", "value"), [("io", "io ms", "1.25"), ("rows", "rows", "1,200")]
)
def test_the_column_sorted_by_is_shown_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, sort: str, column: str, value: str
) -> None:
    lines = text(report([row(1, LONG, 12.5, 1200)], [], sort=sort), monkeypatch, width=80)
    head = ["#", "calls", "total", "ms", "mean", "ms", "share", *column.split()]
    assert lines[0].split()[: len(head)] == head
    assert value in lines[2].split()
    assert all(len(line) <= 80 for line in lines[:3])
