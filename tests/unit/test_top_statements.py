"""The pg_stat_statements reader's pure parts: columns per extension version, the SQL."""

from __future__ import annotations

import math

import pytest

from dbctl.stats.statements import (
    DBCTL_TAG,
    StatsRow,
    build_sql,
    columns,
    quote_role,
    shipped_version,
    sort_key,
    stddev_from,
)

pytestmark = pytest.mark.unit

BLK_1_10 = "blk_read_time + blk_write_time"
BLK_1_11 = (
    "shared_blk_read_time + shared_blk_write_time + local_blk_read_time + local_blk_write_time"
)


OLD = ("0::float8", "total_time", "stddev_time")
SPLIT = ("total_plan_time", "total_exec_time", "stddev_exec_time")  # 1.8 split planning out
NO_LEVEL = "NULL::boolean"


@pytest.mark.parametrize(
    ("version", "timing", "io", "toplevel"),
    [
        ("1.6", OLD, BLK_1_10, NO_LEVEL),
        ("1.7", OLD, BLK_1_10, NO_LEVEL),
        ("1.8", SPLIT, BLK_1_10, NO_LEVEL),
        ("1.9", SPLIT, BLK_1_10, "toplevel"),
        ("1.10", SPLIT, BLK_1_10, "toplevel"),
        ("1.11", SPLIT, BLK_1_11, "toplevel"),
        ("1.12", SPLIT, BLK_1_11, "toplevel"),
    ],
)
def test_columns_follow_the_extension_version(
    version: str, timing: tuple[str, str, str], io: str, toplevel: str
) -> None:
    cols = columns(version)
    assert (cols["plan_ms"], cols["exec_ms"], cols["stddev"]) == timing
    assert cols["io_ms"] == io
    assert cols["toplevel"] == toplevel


def test_version_1_10_is_compared_as_a_number_not_a_string() -> None:
    assert columns("1.10")["toplevel"] == "toplevel"  # "1.10" < "1.9" as strings


@pytest.mark.parametrize(
    ("server", "expected"),
    [(110022, "1.7"), (120017, "1.7"), (130016, "1.8"), (140013, "1.9"), (150018, "1.10"),
     (160004, "1.10"), (170002, "1.11"), (180000, "1.12"), (190000, "1.12")],
)  # fmt: skip
def test_the_first_guess_is_the_version_the_server_ships(server: int, expected: str) -> None:
    assert shipped_version(server) == expected


def test_sql_is_tagged_and_filters_by_version() -> None:
    sql = build_sql("1.10")
    assert sql.startswith(DBCTL_TAG + "\n")
    assert "AND toplevel" in sql
    assert "FROM pg_stat_statements\n" in sql
    assert "pg_stat_statements_info" in sql
    assert "dbid = (SELECT oid FROM pg_database WHERE datname = current_database())" in sql
    assert "NOT LIKE '/* dbctl */%'" in sql
    every = build_sql("1.10", toplevel_only=False)
    assert "AND toplevel" not in every
    old = build_sql("1.8")
    assert "toplevel" not in old.replace("NULL::boolean AS toplevel", "").replace(
        "bool_or(toplevel) AS toplevel", ""
    )
    assert "pg_stat_statements_info" not in old


def test_sql_qualifies_a_schema_off_the_search_path() -> None:
    sql = build_sql("1.10", schema='mon"itoring')
    assert 'FROM "mon""itoring".pg_stat_statements\n' in sql
    assert '"mon""itoring".pg_stat_statements_info' in sql


def test_standard_deviation_from_sums() -> None:
    times = [1.0, 2.0, 4.0, 9.0]
    mean = sum(times) / len(times)
    expected = math.sqrt(sum((t - mean) ** 2 for t in times) / len(times))
    got = stddev_from(len(times), sum(times), sum(t * t for t in times))
    assert got == pytest.approx(expected)
    assert stddev_from(0, 0.0, 0.0) == 0.0
    assert stddev_from(2, 2.0, 2.0 - 1e-15) == 0.0  # rounding never goes negative


def _stats(**changes: object) -> StatsRow:
    base: dict[str, object] = {
        "queryid": 1, "query": "SELECT 1", "calls": 4, "plan_ms": 2.0, "exec_ms": 6.0,
        "exec_sumsq": 10.0, "max_ms": 3.0, "stddev_ms": 0.5, "rows": 8, "shared_hit": 9,
        "shared_read": 1, "io_ms": 0.25,
    }  # fmt: skip
    base.update(changes)
    return StatsRow(**base)  # type: ignore[arg-type]


def test_per_call_figures() -> None:
    s = _stats()
    assert s.total_ms == 8.0
    assert s.mean_ms == 2.0  # planning + execution per call
    assert s.mean_plan_ms == 0.5
    assert s.mean_exec_ms == 1.5
    assert s.rows_per_call == 2.0
    assert s.hit_ratio == 0.9
    assert s.variation == pytest.approx(0.5 / 1.5)
    empty = _stats(calls=0, shared_hit=0, shared_read=0, exec_ms=0.0)
    assert (empty.mean_ms, empty.rows_per_call, empty.hit_ratio, empty.variation) == (
        0.0,
        0.0,
        None,
        None,
    )


def test_io_sort_breaks_ties_on_blocks_read() -> None:
    rows = [
        _stats(queryid=1, io_ms=0.0, shared_read=5),
        _stats(queryid=2, io_ms=0.0, shared_read=50),
    ]
    assert [s.queryid for s in sorted(rows, key=sort_key("io"))] == [2, 1]


@pytest.mark.parametrize(
    ("role", "quoted"),
    [("app", "app"), ("App", '"App"'), ("my-role", '"my-role"'), ('a"b', '"a""b"')],
)
def test_role_names_are_quoted_when_needed(role: str, quoted: str) -> None:
    assert quote_role(role) == quoted
