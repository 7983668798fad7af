"""Generated malformed log lines through the one log reader and both commands that read logs.

Random bytes, truncated JSON, deep nesting, huge and non-finite numbers, wrong types, lone
surrogates and control characters: every line is either read or counted as skipped, the
commands exit 0, 1 or 2 and never with an ``unexpected`` error, and their text output
carries no raw control character. Deterministic (derandomized) and small enough for CI.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dbctl.access.sources import from_log
from dbctl.budget.log import read_records, read_requests
from dbctl.cli import app

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CLI_FUZZ = settings(FUZZ, max_examples=12)

GOOD: dict[str, Any] = {
    "at": "2026-11-26T08:00:00+00:00",
    "route": "/orders/{order_id}",
    "method": "GET",
    "status": 200,
    "duration_ms": 4.1,
    "statements": [
        {
            "fingerprint": "f1",
            "statement": "SELECT * FROM customers WHERE id = %(id)s",
            "count": 3,
            "time_ms": 0.8,
        }
    ],
    "queries": 3,
    "budget": 2,
}

PIECES = ["a", "/", "{", "}", " ", "%", ":", ",", "\n", "\r", "\x1b", "\x07", "\x9b", "\u202e"]
PIECES += ["\ud800", "\udfff", "é", "日", "[/]", "::error ", "\\", '"', "\x00"]
HOSTILE_TEXT = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -0.0, 2**63, 10**400]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, HOSTILE_TEXT)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(HOSTILE_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["route", "method", "status", "duration_ms", "statements", "queries", "budget", "at"]
)


def _encode(value: Any) -> bytes:
    # Python's encoder writes NaN/Infinity and lone surrogates (\ud800 escapes) as they are.
    return json.dumps(value).encode()


@st.composite
def mutated_record(draw: st.DrawFn) -> bytes:
    record = json.loads(json.dumps(GOOD))
    for _ in range(draw(st.integers(1, 3))):
        record[draw(FIELDS)] = draw(VALUES)
    if draw(st.booleans()):
        record["statements"] = [
            {
                "statement": draw(st.one_of(HOSTILE_TEXT, VALUES)),
                "count": draw(st.one_of(NUMBERS, VALUES)),
                "time_ms": draw(NUMBERS),
            }
        ]
    return _encode(record)


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    line = _encode(GOOD)
    return line[: draw(st.integers(0, len(line) - 1))]


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(900, 5000))
    opener = draw(st.sampled_from([b"[", b'{"a":']))
    return opener * depth


@st.composite
def huge_number(draw: st.DrawFn) -> bytes:
    digits = draw(st.integers(4000, 6000))
    field = draw(st.sampled_from([b"duration_ms", b"status", b"queries", b"budget"]))
    line = _encode(GOOD)
    return line.replace(b'"' + field + b'": ', b'"' + field + b'": ' + b"9" * digits + b', "x": ')


LINES = st.one_of(
    st.binary(max_size=80),
    mutated_record(),
    truncated(),
    nested(),
    huge_number(),
    st.sampled_from(
        [
            b"\xef\xbb\xbf" + _encode(GOOD),
            _encode(GOOD).replace(b"4.1", b"NaN"),
            _encode(GOOD).replace(b"4.1", b"1e999"),
            _encode(GOOD).replace(b"/orders", b"/orders\\ud800"),
            _encode({"statement": "SELECT \x1b[2J 1"}),
            b"\xff\xfe\x00",
            b"",
        ]
    ),
)
LOGS = st.lists(LINES, min_size=1, max_size=8).map(lambda lines: b"\n".join(lines) + b"\n")


def _counted(data: bytes, path: Path) -> tuple[int, Counter[str]]:
    path.write_bytes(data)
    skipped: Counter[str] = Counter()
    read = sum(1 for _ in read_records([str(path)], skipped))
    return read, skipped


@FUZZ
@given(data=LOGS, compress=st.booleans())
def test_every_line_is_read_or_counted(tmp_path: Path, data: bytes, compress: bool) -> None:
    path = tmp_path / "fuzz.log"
    raw = gzip.compress(data) if compress else data
    read, skipped = _counted(raw, path)
    lines = [line for line in data.split(b"\n") if line.strip()]
    assert read + sum(skipped.values()) == len(lines)
    requests_skipped: Counter[str] = Counter()
    requests = list(read_requests([str(path)], requests_skipped))
    assert len(requests) + sum(requests_skipped.values()) == len(lines)
    for request in requests:  # what the reader lets through is printable as UTF-8
        (request.route + request.method).encode("utf-8")
        assert 0 <= request.duration_ms <= 1e10 and 0 <= request.queries < 2**31
    collected = from_log(str(path))
    for statement in collected.statements:
        statement.text.encode("utf-8")


def _no_raw_controls(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F]
    assert not bad, bad


@CLI_FUZZ
@given(data=LOGS, output=st.sampled_from(["text", "json", "github", "sarif"]))
def test_query_budget_on_malformed_logs(tmp_path: Path, data: bytes, output: str) -> None:
    log = tmp_path / "fuzz.jsonl"
    log.write_bytes(_encode(GOOD) + b"\n" + data)
    result = CliRunner().invoke(app, ["query-budget", str(log), "--format", output])
    assert result.exit_code in (0, 1, 2), result.output
    assert "unexpected" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if output in ("text", "github"):
        _no_raw_controls(result.stdout)
    else:
        json.loads(result.stdout)
    _no_raw_controls(result.stderr)


@CLI_FUZZ
@given(data=LOGS, output=st.sampled_from(["text", "json", "github"]))
def test_check_indexes_on_malformed_logs(tmp_path: Path, data: bytes, output: str) -> None:
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE customers (id bigint PRIMARY KEY, name text);\n")
    log = tmp_path / "fuzz.jsonl"
    log.write_bytes(data)
    args = ["check-indexes", "--schema", str(schema), "--from-log", str(log), "--format", output]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1, 2), result.output
    assert "unexpected" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if output != "json":
        _no_raw_controls(result.stdout)
    _no_raw_controls(result.stderr)
