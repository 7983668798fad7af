"""Reading the capture log: one JSON object per request, as ``install(log_path=...)`` writes.

    {"at": "...", "route": "/orders/{order_id}", "method": "GET", "status": 200,
     "duration_ms": 4.1, "statements": [{"fingerprint": "...", "statement": "SELECT ...",
     "count": 1, "time_ms": 0.8}], "queries": 1, "looped": [], "budget": 3}

The one log reader of dbctl: ``query-budget`` reads requests (``read_requests``) and
``check-indexes --from-log`` statements (``dbctl.access.sources.from_log``), both through
``read_records``. A log may hold millions of requests and come from anywhere, so:

- it is read as bytes, one line at a time (memory holds one line, never the file); ``-`` is
  stdin; a gzip stream is known by its magic bytes, whatever the file is called;
- a line longer than ``MAX_LINE_BYTES`` (1 MiB) is skipped without being held;
- a UTF-8 byte order mark at the start of a line is dropped;
- a bad line is counted by its reason and skipped, never the whole log: not UTF-8, not JSON,
  nested too deep, NaN / Infinity or an integer longer than Python reads, a lone surrogate
  (``\\ud800``) in a string, and for requests a figure out of range (negative, non-finite,
  over ``MAX_MS`` or ``MAX_COUNT``) or a record of the wrong shape.

A missing, unreadable or corrupt file is an error (``ConfigError``, exit 2). Only the standard
library is imported here.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from dbctl.errors import ConfigError

MAX_LINE_BYTES = 1 << 20  # a capture record is a few kB; a longer line is not one
MAX_MS = 1e10  # ~116 days: no request or statement takes longer
MAX_COUNT = 2**31 - 1  # statements per request, executions, budgets
MAX_STATUS = 999

NOT_UTF8 = "lines that are not UTF-8"
NOT_JSON = "lines that are not JSON"
TOO_DEEP = "lines nested too deep"
TOO_LONG = "lines longer than 1 MiB"
BAD_NUMBER = "lines with NaN, Infinity or an integer of over 4,300 digits"
BAD_TEXT = "lines with a lone surrogate (\\ud800-\\udfff) in a string"
OUT_OF_RANGE = "request records with a figure out of range (negative, infinite, too large)"
NOT_A_REQUEST = "lines that are not request records"

_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # a cheap look before the walk
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


# NaN, Infinity and -Infinity are not JSON; Python's decoder takes them unless told.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


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
# log of millions of lines. ``None``: the wrong type; ``False``: a number out of range.
def _ms(value: Any) -> bool | None:
    kind = type(value)
    if kind is not int and kind is not float:
        return None
    return bool(0 <= value <= MAX_MS)  # NaN fails both comparisons


def _count(value: Any, most: int = MAX_COUNT) -> bool | None:
    if type(value) is not int:
        return None
    return 0 <= value <= most


class _Skip(Exception):
    """A record that is not a request, with the reason it is counted under."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _check(verdict: bool | None) -> None:
    if not verdict:
        raise _Skip(NOT_A_REQUEST if verdict is None else OUT_OF_RANGE)


def _statement(item: Any) -> LoggedStatement:
    if type(item) is not dict:
        raise _Skip(NOT_A_REQUEST)
    text, count, time_ms = item.get("statement"), item.get("count", 1), item.get("time_ms", 0)
    if type(text) is not str:
        raise _Skip(NOT_A_REQUEST)
    _check(_count(count))
    _check(_ms(time_ms))
    key = item.get("fingerprint")
    if type(key) is not str:
        from dbctl.access.lexer import fingerprint  # a log written by another tool

        key = fingerprint(text)
    return LoggedStatement(key, text, count, float(time_ms))


def request_of(record: Any, path: str, line: int) -> LoggedRequest:
    """The request of a decoded log line; ``_Skip`` (with its reason) when it is none."""
    if type(record) is not dict:
        raise _Skip(NOT_A_REQUEST)
    route, method, status = record.get("route"), record.get("method"), record.get("status", 0)
    duration, items = record.get("duration_ms", 0), record.get("statements", [])
    if type(route) is not str or type(method) is not str or type(items) is not list:
        raise _Skip(NOT_A_REQUEST)
    _check(_count(status, MAX_STATUS))
    _check(_ms(duration))
    statements = tuple(_statement(item) for item in items)
    queries = record.get("queries")
    if queries is None:
        queries = sum(s.count for s in statements)
    _check(_count(queries))
    budget, at = record.get("budget"), record.get("at")
    if budget is not None:
        _check(_count(budget))
    if at is not None and type(at) is not str:
        raise _Skip(NOT_A_REQUEST)
    return LoggedRequest(
        route, method, status, float(duration), queries, statements, budget, path, line, at
    )


def parse_record(record: Any, path: str, line: int) -> LoggedRequest | None:
    """The request of a decoded log line, or ``None`` when it is not a request record."""
    try:
        return request_of(record, path, line)
    except _Skip:
        return None


class _Joined(io.RawIOBase):
    """The bytes already read to look at a stream's start, then the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _opened(stream: IO[bytes]) -> IO[bytes]:
    """``stream``, gunzipped when it starts with gzip's magic bytes."""
    peek = getattr(stream, "peek", None)
    head = peek(2)[:2] if peek is not None else b""
    if len(head) < 2:  # no peek (or a pipe that gave one byte so far): read, then rejoin
        head = stream.read(2)
        stream = io.BufferedReader(_Joined(head, stream))
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    return stream


def _binary(stdin: IO[Any]) -> IO[bytes]:
    """The bytes under a text stream (``sys.stdin``), or the stream when it is binary."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]
    if isinstance(stdin, io.TextIOBase):  # text with no bytes under it (a StringIO)
        return io.BytesIO(stdin.read().encode("utf-8", "surrogatepass"))
    return stdin


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The lines of ``stream``; ``None`` for a line longer than ``MAX_LINE_BYTES``, which is
    read past in pieces of that size, never held whole."""
    limit = MAX_LINE_BYTES + 1  # room for the newline
    while True:
        line = stream.readline(limit)
        if not line:
            return
        if len(line) < limit or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(limit)
        yield None


def _lines(path: str, stdin: IO[Any] | None) -> Iterator[bytes | None]:
    """The raw lines of ``path`` (``-``: stdin): bytes, so that one line that is not UTF-8 is
    one bad line, not a failed read."""
    if path == "-":
        if stdin is None:
            raise ConfigError("'-' reads the log from stdin, but there is no stdin")
        try:
            yield from _bounded_lines(_opened(_binary(stdin)))
        except (OSError, EOFError, zlib.error) as exc:
            raise ConfigError(f"cannot read stdin: {exc}") from None
        return
    try:
        with Path(path).open("rb") as handle:
            yield from _bounded_lines(_opened(handle))
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a log file") from None
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated .gz too
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string with a lone surrogate (``"\\ud800"``
    decodes to one: it cannot be printed or written as UTF-8)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if _SURROGATE.search(item):
                return True
        elif kind is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def decode_line(row: bytes) -> Any:
    """The JSON value of one raw line; ``_Skip`` with the reason when it has none."""
    if row.startswith(_BOM):
        row = row[3:]
    try:
        text = row.decode("utf-8")
    except UnicodeDecodeError:
        raise _Skip(NOT_UTF8) from None
    try:
        record = _DECODER.decode(text)
    except json.JSONDecodeError:
        raise _Skip(NOT_JSON) from None
    except ValueError:  # NaN / Infinity, or an integer over sys.get_int_max_str_digits()
        raise _Skip(BAD_NUMBER) from None
    except RecursionError:
        raise _Skip(TOO_DEEP) from None
    if _SURROGATE_ESCAPE.search(row) and _lone_surrogate(record):
        raise _Skip(BAD_TEXT)
    return record


def read_records(
    paths: Sequence[str], skipped: Counter[str], stdin: IO[Any] | None = None
) -> Iterator[tuple[str, int, Any]]:
    """``(path, line number, JSON value)`` of every readable line of the logs, in order;
    blank lines are passed over, bad ones counted in ``skipped`` by reason."""
    for path in paths:
        for number, row in enumerate(_lines(path, stdin), 1):
            if row is None:
                skipped[TOO_LONG] += 1
                continue
            if not row.strip():
                continue
            try:
                yield path, number, decode_line(row)
            except _Skip as skip:
                skipped[skip.reason] += 1


def read_requests(
    paths: Sequence[str], skipped: Counter[str], stdin: BinaryIO | IO[Any] | None = None
) -> Iterator[LoggedRequest]:
    """Every request record of the logs, in order; what is skipped is counted in ``skipped``."""
    for path, number, record in read_records(paths, skipped, stdin):
        try:
            yield request_of(record, path, number)
        except _Skip as skip:
            skipped[skip.reason] += 1
