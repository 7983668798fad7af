"""Human output: a rich table of findings and a one-line summary.

Text from input (messages naming routes and statements, paths, tables) is made printable
(``dbctl.render.escape``) and its rich markup escaped: a ``[/]`` in a route is shown, not
read as a tag.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dbctl.render.escape import printable
from dbctl.report import Report, Severity

_STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}


def shown(text: str) -> str:
    """Input text as rich markup that prints it as it is, control characters escaped."""
    return escape(printable(text))


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=False)
    if report.findings:
        table = Table(show_lines=False, expand=False)
        for column in ("severity", "rule", "where", "message"):
            table.add_column(column, overflow="fold")
        for finding in report.findings:
            where = finding.table or ""
            if finding.location is not None:
                line = f":{finding.location.line}" if finding.location.line else ""
                where = f"{finding.location.path}{line}" + (f" {where}" if where else "")
            message = shown(finding.message)
            if finding.suggestion:
                message += f"\n[dim]{shown(finding.suggestion)}[/dim]"
            table.add_row(
                f"[{_STYLE[finding.severity]}]{finding.severity.value}[/]",
                shown(finding.rule),
                shown(where),
                message,
            )
        console.print(table)
    errors, warnings = report.count(Severity.error), report.count(Severity.warning)
    verdict = "ok" if report.ok else "failed"
    console.print(
        f"dbctl {shown(report.command)}: {verdict} ({errors} errors, {warnings} warnings, "
        f"{report.count(Severity.info)} notes)"
    )
