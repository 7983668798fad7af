"""Text output of ``dbctl top-queries``: one table row per statement, from ``Report.data``.

The statement is shown on one shortened line, times are in milliseconds, and a mean above
the objective is marked ``!`` (in red). Index advice, when asked for, goes under its
statement. Findings that belong to no listed statement (breaches beyond ``--limit``, hidden
statements) follow the table. json, sarif and github go through the common renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from dbctl.render.text import shown, verdict
from dbctl.report import Report, Severity
from dbctl.report import one_line as shared_one_line

QUERY_CHARS = 120
_STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}


def one_line(query: str, chars: int = QUERY_CHARS) -> str:
    """The statement on one line, cut to ``chars`` (120) with an ellipsis."""
    return shared_one_line(query, chars)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} days"


_CORE = ("#", "calls", "total ms", "mean ms", "share")
_EXTRA = ("max ms", "rows/call", "hit")  # shown when the query keeps room enough
_ROOM = 48
_SORTS = {"total": "total time", "mean": "mean time", "io": "I/O time"}
# The column a sort orders by, shown whatever the width when it is not a core one.
_SORTED_BY = {"io": "io ms", "rows": "rows"}


def _figures(number: int, row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "#": str(number),
        "calls": f"{row['calls']:,}",
        "total ms": ms(row["total_ms"]),
        "mean ms": ms(row["mean_ms"]) + (" !" if row["slo_breach"] else ""),
        "share": _percent(row["share"]),
        "max ms": ms(row["max_ms"]),
        "rows/call": f"{row['rows_per_call']:,.1f}",
        "hit": _percent(row["hit_ratio"]),
        "io ms": ms(row.get("io_ms")),
        "rows": f"{row['rows']:,}",
    }


def _table(rows: list[Mapping[str, Any]], width: int, sort: str = "total") -> Table:
    """The figures keep their width; the query takes what is left of the console's. The
    column the rows are sorted by is always there (``io ms`` for ``--sort io``)."""
    cells = [_figures(number, row) for number, row in enumerate(rows, 1)]
    widths = {name: max(len(name), *(len(line[name]) for line in cells)) for name in cells[0]}

    def room(names: tuple[str, ...]) -> int:  # columns are 3 characters apart
        return width - sum(widths[name] for name in names) - 3 * len(names)

    core = _CORE + ((_SORTED_BY[sort],) if sort in _SORTED_BY else ())
    columns = core + _EXTRA if room(core + _EXTRA) >= _ROOM else core
    query_width = max(min(room(columns), QUERY_CHARS), 20)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True, min_width=widths[name])
    table.add_column("query", no_wrap=True, overflow="ellipsis", max_width=query_width)
    for line, row in zip(cells, rows, strict=True):
        figures = [line[name] for name in columns]
        if row["slo_breach"]:
            figures[3] = f"[bold red]{figures[3]}[/]"
        marks = "".join(f"[{mark}] " for mark in ("new", "reset") if row.get(mark))
        table.add_row(*figures, shown(one_line(marks + row["query"], query_width)))
        for advice in row.get("advice", ()):
            text = f"-> {advice['rule']}: {advice['message']}"
            if advice.get("suggestion"):
                text += f"  {advice['suggestion']}"
            table.add_row(*[""] * len(columns), f"[dim]{shown(text)}[/dim]")
    return table


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=False)
    data, summary = report.data, report.summary
    window = data.get("window")
    if window:
        console.print(
            f"since snapshot '{shown(window['since'])}' ({_age(window['seconds'])} ago): "
            f"{window['statements']} statements ran, {window['new_statements']} of them new"
        )
    rows = list(data.get("rows", ()))
    if rows:
        console.print(_table(rows, console.width, str(data.get("sort", "total"))))
    else:
        console.print("no statement ran" + (" since the snapshot" if window else " yet"))
    hidden = f", {summary['hidden']} hidden" if summary.get("hidden") else ""
    marked = " (marked !)" if any(row["slo_breach"] for row in rows) else ""
    console.print(
        f"{summary['statements']} statements{hidden}, {summary['listed']} listed by "
        f"{_SORTS.get(data['sort'], data['sort'])}; {summary['slo_breaches']} above the "
        f"{summary['slo_ms']:g} ms objective{marked}: "
        f"{_percent(summary['slo_breach_share'])} of the time"
    )
    listed = {row["queryid"] for row in rows}
    advice = [item for row in rows for item in row.get("advice", ())]
    for finding in report.findings:
        if finding.queryid not in listed and finding.as_dict() not in advice:
            line = f"[{_STYLE[finding.severity]}]{finding.severity.value}[/] {finding.rule}: "
            line += shown(finding.message)
            if finding.suggestion:
                line += f" [dim]{shown(finding.suggestion)}[/dim]"
            console.print(line)
    console.print(verdict(report))
