"""The one capture-log reader behind ``query-budget`` and ``check-indexes --from-log``.

Bytes in (a .gz by its magic bytes, stdin), one bounded line at a time; every bad line is
counted by its reason and skipped, never the whole log.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dbctl.access.sources import from_log
from dbctl.budget import log as reader
from dbctl.budget.log import read_records, read_requests

pytestmark = pytest.mark.unit

GOOD = {
    "route": "/a",
    "method": "GET",
    "status": 200,
    "duration_ms": 1.5,
    "statements": [{"statement": "SELECT 1", "count": 1, "time_ms": 0.5}],
}
GOOD_LINE = json.dumps(GOOD).encode()


def with_figure(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def read(data: bytes, tmp_path: Path, name: str = "log.jsonl") -> tuple[list[Any], Counter[str]]:
    path = tmp_path / name
    path.write_bytes(data)
    skipped: Counter[str] = Counter()
    return list(read_requests([str(path)], skipped)), skipped


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\xff\xfe not utf-8", reader.NOT_UTF8),
        (b'{"route": "/a\xc3"}', reader.NOT_UTF8),
        (b"{not json", reader.NOT_JSON),
        (b"[" * 100_000, reader.TOO_DEEP),
        (b'{"route": "/a", "x": ' + b"9" * 4301 + b"}", reader.BAD_NUMBER),
        (GOOD_LINE.replace(b"1.5", b"NaN"), reader.BAD_NUMBER),
        (GOOD_LINE.replace(b"1.5", b"-Infinity"), reader.BAD_NUMBER),
        (GOOD_LINE.replace(b"/a", b"/a\\ud800"), reader.BAD_TEXT),
        (GOOD_LINE.replace(b"/a", b"/a\\udfff\\ud800"), reader.BAD_TEXT),
        (with_figure(duration_ms=1e308), reader.OUT_OF_RANGE),
        (GOOD_LINE.replace(b"1.5", b"1e309"), reader.OUT_OF_RANGE),  # reads as inf
        (with_figure(duration_ms=-1), reader.OUT_OF_RANGE),
        (with_figure(status=10**30), reader.OUT_OF_RANGE),
        (with_figure(budget=2**63), reader.OUT_OF_RANGE),
        (with_figure(queries=-3), reader.OUT_OF_RANGE),
        (
            with_figure(statements=[{"statement": "SELECT 1", "count": 10**12, "time_ms": 1}]),
            reader.OUT_OF_RANGE,
        ),
        (
            with_figure(statements=[{"statement": "SELECT 1", "count": 1, "time_ms": 1e300}]),
            reader.OUT_OF_RANGE,
        ),
        (with_figure(route=7), reader.NOT_A_REQUEST),
        (with_figure(statements="SELECT 1"), reader.NOT_A_REQUEST),
        (with_figure(status=True), reader.NOT_A_REQUEST),
        (b"[1, 2]", reader.NOT_A_REQUEST),
    ],
)
def test_one_bad_line_is_counted_by_its_reason_and_the_rest_is_read(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    requests, skipped = read(GOOD_LINE + b"\n" + line + b"\n" + GOOD_LINE + b"\n", tmp_path)
    assert [r.line for r in requests] == [1, 3]
    assert skipped == {reason: 1}


def test_a_valid_surrogate_pair_is_a_character_not_a_bad_line(tmp_path: Path) -> None:
    [request], skipped = read(GOOD_LINE.replace(b"/a", b"/a\\ud83d\\ude00"), tmp_path)
    assert request.route == "/a\U0001f600" and not skipped


def test_a_line_over_the_limit_is_one_skipped_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1000)
    long = json.dumps({**GOOD, "route": "/" + "x" * 5000}).encode()
    data = GOOD_LINE + b"\n" + long + b"\n" + GOOD_LINE + b"\n" + long  # the last: no newline
    requests, skipped = read(data, tmp_path)
    assert [r.line for r in requests] == [1, 3]
    assert skipped == {reader.TOO_LONG: 2}


def test_the_limit_is_one_mebibyte_by_default(tmp_path: Path) -> None:
    long = with_figure(route="/" + "x" * (1 << 20))
    requests, skipped = read(GOOD_LINE + b"\n" + long + b"\n" + GOOD_LINE, tmp_path)
    assert len(requests) == 2 and skipped == {reader.TOO_LONG: 1}


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path: Path) -> None:
    [request], skipped = read(b"\xef\xbb\xbf" + GOOD_LINE + b"\n", tmp_path)
    assert request.route == "/a" and not skipped


@pytest.mark.parametrize("name", ["log.jsonl.gz", "log.jsonl", "log"])
def test_gzip_is_known_by_its_magic_bytes_whatever_the_name(tmp_path: Path, name: str) -> None:
    requests, skipped = read(gzip.compress(GOOD_LINE + b"\n" + GOOD_LINE), tmp_path, name)
    assert len(requests) == 2 and not skipped


def test_a_plain_log_named_gz_is_read_as_it_is(tmp_path: Path) -> None:
    requests, _ = read(GOOD_LINE + b"\n", tmp_path, "log.jsonl.gz")
    assert len(requests) == 1


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_is_read_as_bytes_gzip_too(compress: bool) -> None:
    data = b"\xef\xbb\xbf" + GOOD_LINE + b"\n\xff\n" + GOOD_LINE
    stdin = io.BytesIO(gzip.compress(data) if compress else data)
    skipped: Counter[str] = Counter()
    assert len(list(read_requests(["-"], skipped, stdin))) == 2
    assert skipped == {reader.NOT_UTF8: 1}


def test_read_records_gives_every_decoded_line_with_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"statement": "SELECT 1"}\n\n[1]\n{bad\n')
    skipped: Counter[str] = Counter()
    records = list(read_records([str(path)], skipped))
    assert records == [(str(path), 1, {"statement": "SELECT 1"}), (str(path), 3, [1])]
    assert skipped == {reader.NOT_JSON: 1}


def test_check_indexes_reads_the_log_through_the_same_reader(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    statement = {"statement": "SELECT * FROM t WHERE a = 1"}
    lines = [
        json.dumps(statement).encode(),
        b"[" * 50_000,
        b'{"statement": "SELECT 1", "n": ' + b"1" * 5000 + b"}",
        b'{"statement": "SELECT \xff"}',
        json.dumps({**GOOD, "statements": [statement, "SELECT 2", 3]}).encode(),
        json.dumps({"statements": "SELECT * FROM t"}).encode(),  # a string is not a list
        b'{"statement": "SELECT \\ud800"}',
    ]
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + b"\n".join(lines)))
    collected = from_log(str(path))
    assert [(s.text, s.line) for s in collected.statements] == [
        ("SELECT * FROM t WHERE a = 1", 1),
        ("SELECT * FROM t WHERE a = 1", 5),
        ("SELECT 2", 5),
    ]
    assert collected.skipped == {
        f"log {reader.TOO_DEEP}": 1,
        f"log {reader.BAD_NUMBER}": 1,
        f"log {reader.NOT_UTF8}": 1,
        "log lines without a statement": 1,
        f"log {reader.BAD_TEXT}": 1,
    }


def test_check_indexes_reads_a_binary_stdin_given_as_text() -> None:
    raw = io.BytesIO(b'{"statement": "SELECT 1"}\n\xff\xfe\n')
    text = io.TextIOWrapper(raw, encoding="utf-8")
    collected = from_log("-", text)
    assert [s.text for s in collected.statements] == ["SELECT 1"]
    assert collected.skipped == {f"log {reader.NOT_UTF8}": 1}


def test_identical_statements_share_one_string_and_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"statement": "SELECT 1"}\n' * 3)
    first, *rest = from_log(str(path)).statements
    assert first.fingerprint
    assert all(s.text is first.text and s.fingerprint is first.fingerprint for s in rest)
