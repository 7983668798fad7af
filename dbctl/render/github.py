"""GitHub Actions workflow commands: one annotation per finding.

Text from input is made printable first (``dbctl.render.escape``: a newline from a log
would otherwise end the command and start a line of its own, such as ``::error``), then
escaped as GitHub's workflow commands require: ``%``, ``\\r`` and ``\\n`` in the message,
and also ``:`` and ``,`` in the properties. A suggestion (code of several lines) keeps its
line breaks, escaped as ``%0A``: GitHub shows them, and they cannot start a line of output.
"""

from __future__ import annotations

from typing import TextIO

from dbctl.render.escape import printable
from dbctl.report import Finding, Report, Severity

_LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(printable(text)).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    properties = [f"title={_escape_property(finding.rule)}"]
    if finding.location is not None:
        properties.insert(0, f"file={_escape_property(finding.location.path)}")
        if finding.location.line is not None:
            properties.insert(1, f"line={finding.location.line}")
    message = printable(finding.message)
    if finding.suggestion:  # code of several lines: its line breaks kept, as %0A
        message += "\n" + "\n".join(map(printable, finding.suggestion.split("\n")))
    return f"::{_LEVEL[finding.severity]} {','.join(properties)}::{_escape_data(message)}"


def render(report: Report, stream: TextIO) -> None:
    for finding in report.findings:
        stream.write(annotation(finding) + "\n")
    errors, warnings = report.count(Severity.error), report.count(Severity.warning)
    stream.write(f"dbctl {printable(report.command)}: {errors} errors, {warnings} warnings\n")
