"""check-indexes on hostile input files, without a database (``--schema``): one line and
exit 2 for what cannot be read, a counted skip for a bad log line, never a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dbctl.cli import app

pytestmark = pytest.mark.unit

SCHEMA = "CREATE TABLE customers (id bigint PRIMARY KEY, name text);\n"
QUERY = "SELECT * FROM customers WHERE name = 'n'"


def run(tmp_path: Path, *args: str, stdin: bytes | None = None) -> Any:
    schema = tmp_path / "schema.sql"
    schema.write_text(SCHEMA)
    command = ["check-indexes", "--schema", str(schema), "--format", "json", *args]
    return CliRunner().invoke(app, command, input=stdin)


def findings(result: Any) -> list[tuple[str, str]]:
    return [(f["rule"], f["message"]) for f in json.loads(result.stdout)["findings"]]


def test_a_sql_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_bytes(QUERY.encode() + b" -- caf\xe9\n")
    result = run(tmp_path, str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path} is not UTF-8: byte 0xe9 at offset {len(QUERY) + 7} (line 1); convert "
        "it, e.g. iconv -f latin1 -t utf-8\n"
    )


def test_binary_stdin_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "-", stdin=b"\x7fELF\x02\x01\x01\x00\x00\xd0\x00")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: stdin is not UTF-8: byte 0xd0 at offset 9")


def test_a_sql_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_bytes(b"\xef\xbb\xbf" + QUERY.encode())
    result = run(tmp_path, str(path))
    assert result.exit_code == 1, result.output
    assert "missing-index" in [rule for rule, _ in findings(result)]


def test_a_gzipped_log_with_bad_lines(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl.gz"
    lines = [
        json.dumps({"statement": QUERY}).encode(),
        b"[" * 100_000,
        b'{"statement": "SELECT 1", "n": ' + b"7" * 4301 + b"}",
        b"\xff",
    ]
    log.write_bytes(gzip.compress(b"\xef\xbb\xbf" + b"\n".join(lines)))
    result = run(tmp_path, "--from-log", str(log))
    assert result.exit_code == 1, result.output
    notes = sorted(message for rule, message in findings(result) if rule == "skipped-input")
    assert notes == [
        "1 skipped: log lines nested too deep",
        "1 skipped: log lines that are not UTF-8",
        "1 skipped: log lines with NaN, Infinity or an integer of over 4,300 digits",
    ]


def test_a_log_on_binary_stdin(tmp_path: Path) -> None:
    data = gzip.compress(json.dumps({"statement": QUERY}).encode() + b"\n\xfe\xff\n")
    result = run(tmp_path, "--from-log", "-", stdin=data)
    assert result.exit_code == 1, result.output
    assert ("skipped-input", "1 skipped: log lines that are not UTF-8") in findings(result)


def test_a_schema_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    schema = tmp_path / "latin1.sql"
    schema.write_bytes(SCHEMA.encode() + b"COMMENT ON TABLE customers IS 'caf\xe9';\n")
    query = tmp_path / "q.sql"
    query.write_text(QUERY + ";\n")
    result = CliRunner().invoke(app, ["check-indexes", "--schema", str(schema), str(query)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {schema} is not UTF-8: byte 0xe9 at offset ")
    assert "Traceback" not in result.output


def test_a_row_count_hint_says_a_table_is_small(tmp_path: Path) -> None:
    """From DDL alone a table's size is unknown: --rows TABLE=N tells it (issue 12)."""
    query = tmp_path / "q.sql"
    query.write_text(QUERY + ";\n")
    plain = findings(run(tmp_path, str(query)))
    assert [rule for rule, _ in plain].count("missing-index") == 1
    hinted = findings(run(tmp_path, "--rows", "customers=40", str(query)))
    assert "missing-index" not in [rule for rule, _ in hinted]
    assert any(rule == "small-table" for rule, _ in hinted)
    bad = run(tmp_path, "--rows", "customers=many", str(query))
    assert bad.exit_code == 2
    assert "--rows" in bad.stderr


@pytest.mark.parametrize("size", ["lots", "5XB", "-1MB", "1.5.2GB", ""])
def test_a_bad_size_budget_is_a_usage_error(tmp_path: Path, size: str) -> None:
    query = tmp_path / "q.sql"
    query.write_text(QUERY + ";\n")
    result = run(tmp_path, "--max-size", size, str(query))
    assert result.exit_code == 2
    assert "--max-size" in result.stderr
    assert "Traceback" not in result.output
