"""Human output: each finding as a block, and a one-line verdict.

A block, in the manner of squawk and compilers' diagnostics::

    error[missing-index] queries.sql:12 public.orders
      public.orders is joined on customer_id but no index leads with it (planner cost
      1,234 -> 12, about 2.1 MB)
        CREATE INDEX CONCURRENTLY ix_orders_customer_id ON public.orders (customer_id);

The message wraps between words at the terminal's width (80 columns in a pipe); SQL is
printed on lines of its own, never wrapped, so that it can be copied as it is. Tables are
for figures only (``render.top``, ``render.budget``).

Text from input (messages naming routes and statements, paths, tables) is made printable
(``dbctl.render.escape``) and its rich markup escaped: a ``[/]`` in a route is shown, not
read as a tag.
"""

from __future__ import annotations

import textwrap
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from dbctl.render.escape import printable
from dbctl.report import Finding, Report, Severity

_STYLE = {Severity.error: "bold red", Severity.warning: "yellow", Severity.info: "cyan"}
INDENT = 2


def shown(text: str) -> str:
    """Input text as rich markup that prints it as it is, control characters escaped."""
    return escape(printable(text))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("s" if count != 1 else "")


def verdict(report: Report) -> str:
    """``dbctl check-indexes: failed (1 error, 0 warnings, 2 infos)``: the last line of
    every text report (``infos`` as the JSON summary counts them)."""
    counts = ", ".join(
        plural(report.count(severity), severity.value)
        for severity in (Severity.error, Severity.warning, Severity.info)
    )
    return f"dbctl {shown(report.command)}: {'ok' if report.ok else 'failed'} ({counts})"


def where(finding: Finding) -> str:
    """``path:line table``, or whichever of them the finding has."""
    place = ""
    if finding.location is not None:
        line = f":{finding.location.line}" if finding.location.line else ""
        place = f"{finding.location.path}{line}"
    return " ".join(part for part in (place, finding.table or "") if part)


def block(console: Console, finding: Finding) -> None:
    """One finding: the heading line, the message wrapped between words, the SQL unwrapped."""
    style = _STYLE[finding.severity]
    heading = f"[{style}]{finding.severity.value}[/]{escape('[' + printable(finding.rule) + ']')}"
    place = where(finding)
    console.print(heading + (f" {shown(place)}" if place else ""), soft_wrap=True)
    width = max(console.width - INDENT, 40)
    for paragraph in printable(finding.message).splitlines() or [""]:
        lines = textwrap.wrap(
            paragraph, width, break_long_words=False, break_on_hyphens=False
        )  # between words only: an identifier or a path is never cut
        for line in lines or [""]:
            console.print(Text(" " * INDENT + line), soft_wrap=True)
    if finding.suggestion:  # code of several lines (a fix as Alembic code): line by line
        for line in map(printable, finding.suggestion.split("\n")):
            console.print(Text(" " * (INDENT * 2) + line, style="dim"), soft_wrap=True)


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=False)
    for line in report.text:  # the command's own lines (migrate status: where it stands)
        console.print(Text(printable(line)), soft_wrap=True)
    for number, finding in enumerate(report.findings):
        if number:
            console.print()
        block(console, finding)
    console.print(verdict(report))
