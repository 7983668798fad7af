"""Where statements come from: SQL files and stdin, a capture log, pg_stat_statements.

Bad input is data where it can be: an unreadable log line is counted (the log is read by
``dbctl.budget.log``, the one log reader, shared with ``query-budget``), a statement that
does not parse becomes a ``parse-error`` finding later. A file that cannot be read at all,
or SQL text that is not UTF-8, is a ``ConfigError`` (one line that names the file and the
byte, exit 2): a text decoded with replacement characters would give advice about names
that do not exist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dbctl.access.lexer import split_statements
from dbctl.access.model import Statement
from dbctl.errors import ConfigError

BOM = b"\xef\xbb\xbf"


@dataclass
class Collected:
    """Statements read from the sources, and what was skipped on the way."""

    statements: list[Statement] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 ``data`` as text, a leading byte order mark dropped; a ``ConfigError`` naming
    ``name``, the line and the byte offset of the first byte that is not UTF-8."""
    start = 3 if data.startswith(BOM) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise ConfigError(
            f"{name} is not UTF-8: byte 0x{data[offset]:02x} at offset {offset} (line {line}); "
            "convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def read_text(path: str, stdin: IO[Any] | None = None) -> str:
    """The text of a SQL file (``-``: stdin, read as bytes), checked to be UTF-8."""
    if path == "-":
        if stdin is None:
            raise ConfigError("'-' reads statements from stdin, but there is no stdin")
        raw = getattr(stdin, "buffer", stdin)
        data = raw.read()
        if isinstance(data, str):  # a text stream with no bytes under it
            data = data.encode("utf-8", "surrogatepass")
        return decode_text(data, "stdin")
    try:
        return decode_text(Path(path).read_bytes(), path)
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a SQL file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def from_files(paths: Sequence[str], stdin: IO[Any] | None = None) -> Collected:
    """Every statement of the SQL files (``-`` for stdin), with its file and line."""
    collected = Collected()
    for path in paths:
        for text, line in split_statements(read_text(path, stdin)):
            collected.statements.append(Statement(text, path, line))
    return collected


def _log_statements(record: object) -> Iterable[str]:
    if not isinstance(record, dict):
        return
    statement = record.get("statement")
    if isinstance(statement, str):
        yield statement
    items = record.get("statements")
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("statement"), str):
            yield item["statement"]
        elif isinstance(item, str):
            yield item


def from_log(path: str, stdin: IO[Any] | None = None) -> Collected:
    """Statements of a JSON-lines capture log (a .gz too; ``-``: stdin): records with a
    ``statement`` field, or request records with a ``statements`` list (the companion
    service's capture log). Read as a stream; a statement seen before shares its text and its
    fingerprint (computed once per distinct text)."""
    from dbctl.access.lexer import fingerprint
    from dbctl.budget.log import read_records

    collected = Collected()
    skipped: Counter[str] = Counter()
    # A log repeats its statements: one string and one fingerprint per distinct text.
    seen: dict[str, tuple[str, str]] = {}
    for _, number, record in read_records([path], skipped, stdin):
        found = False
        for text in _log_statements(record):
            found = True
            known = seen.get(text)
            if known is None:
                known = seen[text] = (text, fingerprint(text))
            statement = Statement(known[0], path, number, fingerprint=known[1])
            collected.statements.append(statement)
        if not found:
            collected.skip("log lines without a statement")
    for reason, count in skipped.items():
        collected.skip(f"log {reason}", count)
    return collected
