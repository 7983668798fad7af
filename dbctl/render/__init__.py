"""Renderers of a ``Report``: text (rich), json, sarif, github. The only printing code."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TextIO

from dbctl.report import Report


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


# The text renderer of each command that has its own (a table of figures); the others
# get the findings as blocks and a verdict (``text``).
TEXT_RENDERERS = {"top-queries": "top", "query-budget": "budget"}
# Commands whose output is their own lines (a URL, a status, SQL to pipe): no findings, no
# verdict line to get in the way of $(dbctl sandbox url); in JSON, their data as it is.
PLAIN = {
    "sandbox start": None,
    "sandbox stop": None,
    "sandbox status": "",  # JSON: the status itself
    "sandbox url": None,
    "migrate": None,
    "migrate down": None,
    "migrate history": "revisions",  # JSON: the list of revisions
    "migrate sql": None,
}


def render(report: Report, output: Format, stream: TextIO) -> None:
    """Write ``report`` to ``stream`` in the chosen format, with the renderer its command
    has (importing only that one: rich costs a tenth of a second that JSON does not need)."""
    import importlib

    if report.command in PLAIN:
        _plain(report, output, stream)
        return
    module = {"text": "text", "json": "json_", "sarif": "sarif", "github": "github"}[output]
    if output is Format.text:
        module = TEXT_RENDERERS.get(report.command, "text")
    renderer: Callable[[Report, TextIO], None] = importlib.import_module(
        f"dbctl.render.{module}"
    ).render
    renderer(report, stream)


def _plain(report: Report, output: Format, stream: TextIO) -> None:
    import json

    from dbctl.render.escape import printable

    if output is Format.json and PLAIN[report.command] is not None:
        key = PLAIN[report.command]
        data = report.data[key] if key else report.data
        stream.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if output is not Format.text:
        from dbctl.render import json_

        json_.render(report, stream)
        return
    for line in report.text:
        if report.command == "migrate sql":
            stream.write(line)  # the SQL as Alembic wrote it, to pipe into psql
        else:
            stream.write(printable(line) + "\n")
