"""Text output of ``dbctl query-budget``: one row per endpoint, from ``Report.data``, then
the findings (the worst request's statements under a budget finding). On a narrow console
the least needed figures are left out (they stay in the JSON).

Routes, statements and paths come from the log: they are shown with their control
characters escaped (``dbctl.render.text.shown``). A figure over its limit is marked ``!``
(in red): the queries over the budget, the p99 over the API objective. json, sarif and
github go through the common renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from dbctl.render.escape import printable
from dbctl.render.text import shown, verdict
from dbctl.render.top import ms
from dbctl.report import Report, Severity, one_line

_STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}
_FIGURES = (
    "requests",
    "queries",
    "budget",
    "over",
    "DB ms/req",
    "ms/query",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "looped",
)
_DROPPED_FIRST = ("ms/query", "p50 ms", "budget", "p95 ms", "looped")  # on a narrow console
_ENDPOINT_ROOM = (16, 40)  # the endpoint's column: at least, and at most what it asks for


def _cells(row: Mapping[str, Any]) -> dict[str, str]:
    """The figures as plain text (their width is measured before any markup)."""
    return {
        "requests": f"{row['requests']:,}",
        "queries": f"{row['queries_p50']}/{row['queries_p95']}/{row['queries_max']}"
        + (" !" if row["over_budget"] else ""),
        "budget": str(row["budget"]),
        "over": f"{row['over_budget']:,}",
        "DB ms/req": ms(row["db_ms_per_request"]),
        "ms/query": ms(row["db_ms_per_query"]),
        "p50 ms": ms(row["latency_p50_ms"]),
        "p95 ms": ms(row["latency_p95_ms"]),
        "p99 ms": ms(row["latency_p99_ms"]),
        "looped": str(len(row["looped"])) if row["looped"] else "",
    }


def _table(rows: list[Mapping[str, Any]], width: int, slo_ms: float) -> Table:
    """Every figure keeps its width; on a narrow console the least needed ones go first,
    then the endpoint is shortened."""
    cells = [_cells(row) for row in rows]
    widths = {name: max([len(name)] + [len(line[name]) for line in cells]) for name in _FIGURES}
    columns = list(_FIGURES)

    def room() -> int:  # columns are 3 characters apart
        return width - sum(widths[name] + 3 for name in columns)

    names = [len(printable(f"{row['method']} {row['route']}")) for row in rows]
    wanted = max(_ENDPOINT_ROOM[0], min(max(names, default=0), _ENDPOINT_ROOM[1]))
    for name in _DROPPED_FIRST:
        if room() >= wanted:
            break
        columns.remove(name)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("endpoint", no_wrap=True, overflow="ellipsis", max_width=max(room(), 12))
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True, min_width=widths[name])
    for line, row in zip(cells, rows, strict=True):
        marked = dict(line)
        if row["over_budget"]:
            marked["queries"] = f"[bold red]{line['queries']}[/]"
        if row["latency_p99_ms"] > slo_ms:
            marked["p99 ms"] = f"[yellow]{line['p99 ms']} ![/]"
        name = shown(f"{row['method']} {row['route']}")
        table.add_row(name, *(marked[column] for column in columns))
    return table


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=False)
    summary = report.summary
    rows = list(report.data.get("endpoints", ()))
    if rows:
        console.print(_table(rows, console.width, summary["latency_slo_ms"]))
        console.print(
            "[dim]queries: p50/p95/max per request; DB ms: timed in the application (round "
            "trip and waits included); latency in ms[/dim]"
        )
    width = max(console.width - 24, 40)
    for finding in report.findings:
        line = f"[{_STYLE[finding.severity]}]{finding.severity.value}[/] {finding.rule}: "
        message, statement = finding.message, None
        full = one_line(finding.statement) if finding.statement else None
        if full and message.endswith(": " + full):  # the statement on a line of its own
            message = message[: -len(full) - 2]
            statement = one_line(full, width)
        console.print(line + shown(message))
        if statement is not None:
            console.print(f"  {shown(statement)}")
        if finding.location is not None:
            where = f"{finding.location.path}:{finding.location.line}"
            console.print(f"  [dim]worst request at {shown(where)}[/]")
        for item in finding.evidence.get("statements", ()):
            text = one_line(item["statement"], width)
            console.print(f"  {item['count']:>4}x {item['time_ms']:>9,.2f} ms  {shown(text)}")
        if finding.suggestion:
            console.print(f"  [dim]{shown(finding.suggestion)}[/dim]")
    figure = {k: summary.get(k, 0) for k in ("requests", "endpoints", "over_budget", "looped")}
    skipped = summary.get("skipped_lines", 0)
    console.print(
        f"{figure['requests']:,} requests, {figure['endpoints']} endpoints; "
        f"{figure['over_budget']:,} requests over budget, {figure['looped']} looped "
        f"statements" + (f"; {skipped:,} log lines skipped" if skipped else "")
    )
    console.print(verdict(report))
