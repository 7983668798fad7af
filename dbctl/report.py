"""Findings and the report every gate returns.

Checks return ``list[Finding]``; the CLI wraps them in a ``Report`` and decides, with
``--fail-on``, what exit code they mean. The JSON form (``Report.as_dict``) is a contract:
keys may be added, none renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dbctl import __version__


def one_line(text: str, chars: int | None = None) -> str:
    """A statement (or any text) on one line, whitespace collapsed, cut to ``chars`` with an
    ellipsis: how every report shows SQL."""
    line = " ".join(text.split())
    if chars is None or len(line) <= chars:
        return line
    return line[: chars - 1].rstrip() + "…"


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    never = "never"

    def fails(self, severity: Severity) -> bool:
        if self is FailOn.never:
            return False
        return severity.rank >= Severity(self.value).rank


@dataclass(frozen=True)
class Location:
    path: str
    line: int | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    suggestion: str | None = None
    statement: str | None = None
    queryid: int | None = None
    location: Location | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        location = None
        if self.location is not None:
            location = {"path": self.location.path, "line": self.location.line}
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "table": self.table,
            "columns": list(self.columns),
            "suggestion": self.suggestion,
            "statement": self.statement,
            "queryid": self.queryid,
            "location": location,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True)
class Report:
    command: str
    findings: tuple[Finding, ...]
    fail_on: FailOn = FailOn.error
    summary: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    # Not in the JSON contract: the command's own lines for text output (a URL, a status,
    # the revisions), and the notes said on stderr at the end (what was skipped...).
    text: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        command: str,
        findings: Iterable[Finding],
        *,
        fail_on: FailOn = FailOn.error,
        summary: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        text: Iterable[str] = (),
        notes: Iterable[str] = (),
    ) -> Report:
        from dataclasses import replace

        from dbctl.pg.url import scrub

        # the last line of defence: a message built from a driver's or the project's error
        # text may quote a URL or a password (every format renders these messages)
        scrubbed = [replace(f, message=scrub(f.message)) for f in findings]
        ordered = sorted(scrubbed, key=lambda f: (-f.severity.rank, f.rule, f.table or ""))
        return cls(
            command,
            tuple(ordered),
            fail_on,
            dict(summary or {}),
            dict(data or {}),
            tuple(text),
            tuple(scrub(note) for note in notes),
        )

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)

    @property
    def ok(self) -> bool:
        return not any(self.fail_on.fails(finding.severity) for finding in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        summary = {
            **self.summary,
            "errors": self.count(Severity.error),
            "warnings": self.count(Severity.warning),
            "infos": self.count(Severity.info),
        }
        return {
            "dbctl": __version__,
            "command": self.command,
            "ok": self.ok,
            "findings": [finding.as_dict() for finding in self.findings],
            "summary": summary,
            "data": dict(self.data),
        }
