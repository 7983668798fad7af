"""Where statements come from: SQL files and stdin, a capture log, pg_stat_statements.

Bad input is data where it can be: an unreadable log line is counted, a statement that
does not parse becomes a ``parse-error`` finding later. A file that cannot be read at all
is a ``ConfigError`` (one line, exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from dbctl.access.lexer import split_statements
from dbctl.access.model import Statement
from dbctl.errors import ConfigError


@dataclass
class Collected:
    """Statements read from the sources, and what was skipped on the way."""

    statements: list[Statement] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count


def _read(path: str, stdin: TextIO | None) -> str:
    if path == "-":
        if stdin is None:
            raise ConfigError("'-' reads statements from stdin, but there is no stdin")
        return stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def from_files(paths: Sequence[str], stdin: TextIO | None = None) -> Collected:
    """Every statement of the SQL files (``-`` for stdin), with its file and line."""
    collected = Collected()
    for path in paths:
        for text, line in split_statements(_read(path, stdin)):
            collected.statements.append(Statement(text, path, line))
    return collected


def _log_statements(record: object) -> Iterable[str]:
    if not isinstance(record, dict):
        return
    statement = record.get("statement")
    if isinstance(statement, str):
        yield statement
    for item in record.get("statements") or []:
        if isinstance(item, dict) and isinstance(item.get("statement"), str):
            yield item["statement"]
        elif isinstance(item, str):
            yield item


def from_log(path: str, stdin: TextIO | None = None) -> Collected:
    """Statements of a JSON-lines capture log: records with a ``statement`` field, or
    request records with a ``statements`` list (the companion service's capture log)."""
    collected = Collected()
    for number, row in enumerate(_read(path, stdin).splitlines(), 1):
        if not row.strip():
            continue
        try:
            record = json.loads(row)
        except json.JSONDecodeError:
            collected.skip("log lines that are not JSON")
            continue
        found = list(_log_statements(record))
        if not found:
            collected.skip("log lines without a statement")
        for text in found:
            collected.statements.append(Statement(text, path, number))
    return collected
