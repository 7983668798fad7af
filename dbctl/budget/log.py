"""Reading the capture log: one JSON object per request, as ``install(log_path=...)`` writes.

    {"at": "...", "route": "/orders/{order_id}", "method": "GET", "status": 200,
     "duration_ms": 4.1, "statements": [{"fingerprint": "...", "statement": "SELECT ...",
     "count": 1, "time_ms": 0.8}], "queries": 1, "looped": [], "budget": 3}

Files are read as a stream of bytes (a log may hold millions of requests), ``-`` is stdin,
and a name ending in ``.gz`` is gunzipped. Bad input is data: a line that is not UTF-8 JSON,
or not a request record (a negative, infinite or missing figure), is counted by reason and
skipped, never fatal. A missing, unreadable or corrupt file is an error.
Only the standard library is imported here.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dbctl.errors import ConfigError

NOT_JSON = "lines that are not JSON"
NOT_A_REQUEST = "lines that are not request records"


@dataclass(slots=True)
class LoggedStatement:
    """One fingerprint within one logged request."""

    fingerprint: str
    statement: str
    count: int
    time_ms: float


@dataclass(slots=True)
class LoggedRequest:
    """One request of the log, with where it was read (file and line)."""

    route: str
    method: str
    status: int
    duration_ms: float
    queries: int
    statements: tuple[LoggedStatement, ...]
    budget: int | None
    path: str
    line: int
    at: str | None = None  # ISO 8601, when the request arrived

    @property
    def db_ms(self) -> float:
        return sum(statement.time_ms for statement in self.statements)


# ``type(x) is int`` rather than isinstance: it leaves out bool, and it is the hot path of a
# log of millions of lines.
def _number(value: Any) -> bool:
    kind = type(value)
    return (kind is int and value >= 0) or (kind is float and 0 <= value < math.inf)


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _statement(item: Any) -> LoggedStatement | None:
    if type(item) is not dict:
        return None
    text, count, time_ms = item.get("statement"), item.get("count", 1), item.get("time_ms", 0)
    if type(text) is not str or not _count(count) or not _number(time_ms):
        return None
    key = item.get("fingerprint")
    if type(key) is not str:
        from dbctl.access.analyze import fingerprint  # a log written by another tool

        key = fingerprint(text)
    return LoggedStatement(key, text, count, float(time_ms))


def parse_record(record: Any, path: str, line: int) -> LoggedRequest | None:
    """The request of a decoded log line, or ``None`` when it is not a request record."""
    if type(record) is not dict:
        return None
    route, method, status = record.get("route"), record.get("method"), record.get("status", 0)
    duration, items = record.get("duration_ms", 0), record.get("statements", [])
    if type(route) is not str or type(method) is not str or type(items) is not list:
        return None
    if not (_count(status) and _number(duration)):
        return None
    statements = []
    for item in items:
        statement = _statement(item)
        if statement is None:
            return None
        statements.append(statement)
    queries = record.get("queries")
    if queries is None:
        queries = sum(s.count for s in statements)
    budget, at = record.get("budget"), record.get("at")
    if at is not None and type(at) is not str:
        return None
    if not _count(queries) or (budget is not None and not _count(budget)):
        return None
    return LoggedRequest(
        route, method, status, float(duration), queries, tuple(statements), budget, path, line, at
    )


def _lines(path: str, stdin: BinaryIO | None) -> Iterator[bytes]:
    """The raw lines of ``path``: bytes, so that one line that is not UTF-8 is one bad line,
    not a failed read."""
    if path == "-":
        if stdin is None:
            raise ConfigError("'-' reads the log from stdin, but there is no stdin")
        yield from stdin
        return
    file = Path(path)
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as handle:
                yield from handle
        else:
            with file.open("rb") as handle:
                yield from handle
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a log file") from None
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated .gz too
        raise ConfigError(f"cannot read {path}: {exc}") from None


def read_requests(
    paths: Sequence[str], skipped: Counter[str], stdin: BinaryIO | None = None
) -> Iterator[LoggedRequest]:
    """Every request record of the logs, in order; what is skipped is counted in ``skipped``."""
    for path in paths:
        for number, row in enumerate(_lines(path, stdin), 1):
            if not row.strip():
                continue
            try:
                record = json.loads(row)
            except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
                skipped[NOT_JSON] += 1
                continue
            request = parse_record(record, path, number)
            if request is None:
                skipped[NOT_A_REQUEST] += 1
            else:
                yield request
