"""Snapshots and the window since one: pure differences, no database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dbctl.errors import ConfigError
from dbctl.stats.snapshots import Counters, Snapshot, load, save, snapshot_path, window
from dbctl.stats.statements import StatsRead, StatsRow, stddev_from

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def stats(queryid: int | None, times: list[float], **changes: object) -> StatsRow:
    """A statement that ran once per item of ``times`` (execution ms)."""
    exec_ms = sum(times)
    base: dict[str, object] = {
        "queryid": queryid,
        "query": f"SELECT {queryid}" if queryid is not None else "<insufficient privilege>",
        "calls": len(times),
        "plan_ms": 0.1 * len(times),
        "exec_ms": exec_ms,
        "exec_sumsq": sum(t * t for t in times),
        "max_ms": max(times, default=0.0),
        "stddev_ms": stddev_from(len(times), exec_ms, sum(t * t for t in times)),
        "rows": len(times),
        "shared_hit": 10 * len(times),
        "shared_read": len(times),
        "io_ms": 0.0,
        "toplevel": True,
    }
    base.update(changes)
    return StatsRow(**base)  # type: ignore[arg-type]


def read(*rows: StatsRow, **changes: object) -> StatsRead:
    visible = tuple(r for r in rows if r.queryid is not None)
    hidden = tuple(r for r in rows if r.queryid is None)
    base: dict[str, object] = {
        "rows": visible,
        "hidden_rows": hidden,
        "all_total_ms": sum(r.total_ms for r in rows),
        "all_statements": len(rows),
        "version": "1.10",
        "database": "app",
        "role": "app",
        "stats_reset": T0 - timedelta(days=1),
        "dealloc": 0,
    }
    base.update(changes)
    return StatsRead(**base)  # type: ignore[arg-type]


def test_snapshot_round_trips_through_json() -> None:
    snap = Snapshot.of("deploy", read(stats(1, [1.0, 2.0]), stats(None, [5.0])), T0)
    again = Snapshot.from_dict(json.loads(json.dumps(snap.as_dict())))
    assert again == snap
    assert again.statements[1] == Counters(2, 0.2, 3.0, 5.0, 2, 20, 2, 0.0)
    assert again.hidden.calls == 1
    assert isinstance(again.statements[1].calls, int)


def test_window_subtracts_counters() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0, 2.0])), T0)
    now = read(stats(1, [1.0, 2.0, 4.0, 9.0]))
    w = window(now, before)
    [row] = w.rows
    assert row.calls == 2
    assert row.exec_ms == pytest.approx(13.0)
    assert row.mean_ms == pytest.approx((0.2 + 13.0) / 2)
    assert row.stddev_ms == pytest.approx(2.5)  # of 4 and 9
    assert row.max_ms is None  # unknown over a window
    assert (row.rows, row.shared_hit, row.shared_read) == (2, 20, 2)
    assert w.new == frozenset() and w.reset == frozenset()
    assert w.total_ms == pytest.approx(row.total_ms)


def test_statements_new_idle_and_gone() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0]), stats(2, [1.0]), stats(3, [1.0])), T0)
    now = read(stats(1, [1.0]), stats(2, [1.0, 1.0]), stats(4, [7.0]))
    w = window(now, before)
    assert [r.queryid for r in w.rows] == [2, 4]  # 1 did not run in the window
    assert w.new == frozenset({4})
    assert w.rows[1].calls == 1
    assert w.gone == 1  # 3


def test_counters_that_went_down_count_from_their_reset() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0] * 10), stats(2, [1.0])), T0)
    now = read(stats(1, [3.0, 3.0]), stats(2, [1.0, 1.0]))
    w = window(now, before)
    assert w.reset == frozenset({1})
    first = w.rows[0]
    assert first.calls == 2 and first.exec_ms == 6.0  # since its reset
    assert w.rows[1].calls == 1
    assert not w.stats_reset


def test_a_reset_of_every_database_resets_every_statement() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0])), T0)
    now = read(stats(1, [1.0] * 5), stats_reset=T0 + timedelta(minutes=5))
    w = window(now, before)
    assert w.stats_reset
    assert w.reset == frozenset({1})
    assert w.rows[0].calls == 5


def test_evictions_are_counted() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0]), dealloc=3), T0)
    assert window(read(stats(1, [1.0, 1.0]), dealloc=7), before).evicted == 4
    assert window(read(stats(1, [1.0, 1.0]), dealloc=None), before).evicted is None


def test_hidden_entries_are_summed_over_the_window() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0]), stats(None, [5.0])), T0)
    now = read(stats(1, [1.0]), stats(None, [5.0, 5.0]), stats(None, [1.0]))
    w = window(now, before)
    assert w.hidden.calls == 2
    assert w.hidden.exec_ms == pytest.approx(6.0)
    assert w.total_ms == pytest.approx(6.0 + 0.2)


def test_another_database_or_level_is_refused() -> None:
    before = Snapshot.of("a", read(stats(1, [1.0])), T0)
    with pytest.raises(ConfigError, match="snapshot 'a' is of database app, not other: save one"):
        window(read(stats(1, [1.0]), database="other"), before)
    with pytest.raises(ConfigError, match="saved without --all-levels: compare with it without"):
        window(read(stats(1, [1.0]), toplevel_only=False), before)


def test_save_and_load(tmp_path: Path) -> None:
    snap = Snapshot.of("v1.2", read(stats(1, [1.0])), T0)
    path = save(tmp_path / "snapshots", snap)
    assert path == tmp_path / "snapshots" / "v1.2.json"
    assert load(tmp_path / "snapshots", "v1.2") == snap
    assert not list((tmp_path / "snapshots").glob("*.partial"))
    replaced = replace(snap, saved_at=T0 + timedelta(hours=1))
    save(tmp_path / "snapshots", replaced)
    assert load(tmp_path / "snapshots", "v1.2").saved_at == replaced.saved_at


def test_a_missing_snapshot_names_the_saved_ones(tmp_path: Path) -> None:
    save(tmp_path, Snapshot.of("deploy", read(), T0))
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "nope")
    assert str(caught.value) == (
        f"no snapshot named 'nope' in {tmp_path} (saved: deploy): save one with --save nope"
    )


def test_a_damaged_snapshot_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"format": 99}')
    with pytest.raises(ConfigError, match=r"bad.json is not a dbctl snapshot \(format 99"):
        load(tmp_path, "bad")
    (tmp_path / "worse.json").write_text("not json")
    with pytest.raises(ConfigError, match="is not a dbctl snapshot"):
        load(tmp_path, "worse")


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 101, "a b"])
def test_snapshot_names_stay_in_their_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed"):
        snapshot_path(tmp_path, name)
