"""top-queries' judgement, pure: sort, limit, the objective, hidden statements, advice."""

from __future__ import annotations

import pytest

from dbctl.report import FailOn, Finding, Severity
from dbctl.stats.statements import StatsRow
from dbctl.stats.top import TopResult, analyse

pytestmark = pytest.mark.unit


def stats(queryid: int | None, calls: int, mean: float, **changes: object) -> StatsRow:
    base: dict[str, object] = {
        "queryid": queryid,
        "query": f"SELECT {queryid}" if queryid is not None else "<insufficient privilege>",
        "calls": calls,
        "plan_ms": 0.0,
        "exec_ms": calls * mean,
        "exec_sumsq": calls * mean * mean,
        "max_ms": mean,
        "stddev_ms": 0.0,
        "rows": calls,
        "shared_hit": 0,
        "shared_read": 0,
        "io_ms": 0.0,
    }
    base.update(changes)
    return StatsRow(**base)  # type: ignore[arg-type]


# total: 1 -> 100, 2 -> 50, 3 -> 40, 4 -> 10
STATEMENTS = [
    stats(1, calls=10, mean=10.0, rows=5, io_ms=1.0),
    stats(2, calls=1000, mean=0.05, rows=1000, io_ms=3.0),
    stats(3, calls=2, mean=20.0, rows=2000, io_ms=2.0),
    stats(4, calls=100, mean=0.1, rows=1, io_ms=0.0),
]
TOTAL = 200.0


def run(**options: object) -> tuple[list[int | None], list[Finding], dict[str, object]]:
    kwargs: dict[str, object] = {"sort": "total", "limit": 20, "min_calls": 0, "slo_ms": 3.0}
    kwargs.update(options)
    statements = kwargs.pop("statements", STATEMENTS)
    hidden = kwargs.pop("hidden", ())
    result = analyse(statements, hidden, TOTAL, **kwargs)  # type: ignore[arg-type]
    return [row.stats.queryid for row in result.rows], result.findings, result.summary


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("total", [1, 2, 3, 4]),
        ("mean", [3, 1, 4, 2]),
        ("calls", [2, 4, 1, 3]),
        ("rows", [3, 2, 1, 4]),
        ("io", [2, 3, 1, 4]),
    ],
)
def test_sort_orders(sort: str, order: list[int]) -> None:
    assert run(sort=sort)[0] == order


def test_ties_keep_a_stable_order() -> None:
    same = [stats(9, 1, 1.0), stats(5, 1, 1.0), stats(7, 1, 1.0)]
    assert run(statements=same)[0] == [5, 7, 9]


def test_limit_and_min_calls() -> None:
    assert run(limit=2)[0] == [1, 2]
    assert run(min_calls=50)[0] == [2, 4]


def test_breaches_are_error_findings_with_every_figure() -> None:
    _, findings, summary = run()
    assert [f.queryid for f in findings] == [1, 3]
    first = findings[0]
    assert first.rule == "slo-breach"
    assert first.severity is Severity.error
    assert first.message == "SELECT 1: mean 10.00 ms over 10 calls is above the 3 ms objective"
    assert first.statement == "SELECT 1"
    assert first.evidence["mean_ms"] == 10.0
    assert first.evidence["share"] == 0.5
    assert first.evidence["slo_ms"] == 3.0
    assert {"calls", "total_ms", "max_ms", "stddev_ms", "hit_ratio", "io_ms"} <= set(first.evidence)
    assert summary["slo_breaches"] == 2
    assert summary["slo_breach_ms"] == 140.0
    assert summary["slo_breach_share"] == pytest.approx(0.7)
    assert summary["statements"] == 4


def test_a_mean_equal_to_the_objective_is_not_a_breach() -> None:
    assert run(statements=[stats(1, 3, 3.0)])[1] == []


def test_breaches_beyond_the_limit_are_one_finding() -> None:
    ids, findings, summary = run(sort="calls", limit=2)
    assert ids == [2, 4]
    [finding] = findings
    assert finding.queryid is None
    assert finding.message == (
        "2 more statements above the 3 ms objective are not listed (70.0% of the time): "
        "raise --limit or use --sort mean"
    )
    assert finding.evidence["queryids"] == [1, 3]
    assert summary["slo_breaches"] == 2


def test_hidden_statements_are_counted_and_judged() -> None:
    hidden = [stats(None, 4, 5.0), stats(None, 100, 0.1)]
    ids, findings, summary = run(hidden=hidden, role="Monitor", min_calls=3)
    assert None not in ids
    hidden_finding = findings[-1]
    assert hidden_finding.message == (
        "1 statements of other roles, whose text this role may not see, are above the 3 ms "
        "objective (10.0% of the time)"
    )
    assert hidden_finding.suggestion == 'GRANT pg_read_all_stats TO "Monitor";'
    assert summary["hidden"] == 2
    assert summary["statements"] == 6
    assert summary["slo_breaches"] == 2  # 1 and the hidden one; 3 ran 2 times, under 3


def test_window_wording_and_marks() -> None:
    result = analyse(
        STATEMENTS, (), TOTAL, sort="total", limit=20, min_calls=0, slo_ms=3.0,
        new=frozenset({3}), reset=frozenset({1}), since="deploy",
    )  # fmt: skip
    assert result.findings[0].message.endswith(
        "over 10 calls since snapshot 'deploy' is above the 3 ms objective"
    )
    rows = {row.stats.queryid: row for row in result.rows}
    assert rows[3].new and not rows[3].reset
    assert rows[1].reset and not rows[1].new


def test_advice_is_asked_for_the_listed_statements_and_shown_under_them() -> None:
    asked: list[list[int | None]] = []

    def advise(listed: list[StatsRow]) -> dict[int, list[Finding]]:
        asked.append([s.queryid for s in listed])
        return {
            2: [
                Finding(
                    "missing-index",
                    Severity.error,
                    "t is filtered on a",
                    suggestion="CREATE INDEX ...",
                )
            ]
        }

    result = analyse(
        STATEMENTS, (), TOTAL, sort="total", limit=2, min_calls=0, slo_ms=3.0, advise=advise
    )
    assert asked == [[1, 2]]
    assert result.rows[1].advice[0].rule == "missing-index"
    assert [f.rule for f in result.findings] == ["slo-breach", "missing-index", "slo-breach"]
    assert result.rows[1].as_dict()["advice"][0]["suggestion"] == "CREATE INDEX ..."


def test_the_report_carries_rows_and_summary() -> None:
    analysis = analyse(STATEMENTS, (), TOTAL, sort="total", limit=2, min_calls=0, slo_ms=3.0)
    result = TopResult(
        rows=tuple(analysis.rows),
        findings=tuple(analysis.findings),
        summary=analysis.summary,
        data={"rows": [row.as_dict() for row in analysis.rows]},
    )
    report = result.report(FailOn.never)
    assert report.ok and report.exit_code == 0
    assert result.report().exit_code == 1
    as_dict = report.as_dict()
    assert as_dict["command"] == "top-queries"
    assert as_dict["summary"]["listed"] == 2
    assert as_dict["summary"]["errors"] == 2
    row = as_dict["data"]["rows"][0]
    assert row["queryid"] == 1 and row["query"] == "SELECT 1"
    assert row["slo_breach"] is True
    assert row["mean_ms"] == 10.0
