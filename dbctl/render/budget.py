"""Text output of ``dbctl query-budget``: one row per endpoint, from ``Report.data``, then
the findings (the worst request's statements under a budget finding).

A figure over its limit is marked ``!`` (in red): the queries over the budget, the p99 over
the API objective. json, sarif and github go through the common renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dbctl.render.top import one_line
from dbctl.report import Report, Severity

_STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}
_COLUMNS = (
    "endpoint",
    "requests",
    "queries p50/p95/max",
    "budget",
    "over",
    "DB ms/req",
    "ms/query",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "looped",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _row(row: Mapping[str, Any], slo_ms: float) -> list[str]:
    queries = f"{row['queries_p50']}/{row['queries_p95']}/{row['queries_max']}"
    if row["over_budget"]:
        queries = f"[bold red]{queries} ![/]"
    p99 = _ms(row["latency_p99_ms"])
    if row["latency_p99_ms"] > slo_ms:
        p99 = f"[yellow]{p99} ![/]"
    return [
        escape(f"{row['method']} {row['route']}"),
        f"{row['requests']:,}",
        queries,
        str(row["budget"]),
        f"{row['over_budget']:,}",
        _ms(row["db_ms_per_request"]),
        _ms(row["db_ms_per_query"]),
        _ms(row["latency_p50_ms"]),
        _ms(row["latency_p95_ms"]),
        p99,
        str(len(row["looped"])) if row["looped"] else "",
    ]


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=False)
    summary = report.summary
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in _COLUMNS:
        table.add_column(name, justify="left" if name == "endpoint" else "right", no_wrap=True)
    for row in report.data.get("endpoints", ()):
        table.add_row(*_row(row, summary["latency_slo_ms"]))
    console.print(table)
    width = max(console.width - 24, 40)
    for finding in report.findings:
        line = f"[{_STYLE[finding.severity]}]{finding.severity.value}[/] {finding.rule}: "
        message, statement = finding.message, None
        if finding.statement and message.endswith(": " + one_line(finding.statement, 10**6)):
            message = message[: -len(one_line(finding.statement, 10**6)) - 2]
            statement = one_line(finding.statement, width)
        console.print(line + escape(message))
        if statement is not None:
            console.print(f"  {escape(statement)}")
        if finding.location is not None:
            where = f"{finding.location.path}:{finding.location.line}"
            console.print(f"  [dim]worst request at {escape(where)}[/]")
        for item in finding.evidence.get("statements", ()):
            text = one_line(item["statement"], width)
            console.print(f"  {item['count']:>4}x {item['time_ms']:>9,.2f} ms  {escape(text)}")
        if finding.suggestion:
            console.print(f"  [dim]{escape(finding.suggestion)}[/dim]")
    skipped = summary.get("skipped_lines", 0)
    console.print(
        f"{summary['requests']:,} requests, {summary['endpoints']} endpoints; "
        f"{summary['over_budget']:,} requests over budget, {summary['looped']} looped "
        f"statements" + (f"; {skipped:,} log lines skipped" if skipped else "")
    )
    errors, warnings = report.count(Severity.error), report.count(Severity.warning)
    verdict = "ok" if report.ok else "failed"
    console.print(
        f"dbctl {report.command}: {verdict} ({errors} errors, {warnings} warnings, "
        f"{report.count(Severity.info)} notes)"
    )
