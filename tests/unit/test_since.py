"""--since means one thing everywhere (issue 13): a time (ISO 8601, or 30m, 2h, 1d ago) or a
saved snapshot's name. query-budget reads the requests since the snapshot's time;
top-queries compares with the snapshot, or with the newest one saved by the time given."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.errors import ConfigError
from dbctl.stats.snapshots import Snapshot, save, snapshot_dir
from dbctl.when import newest_snapshot_by, parse_since

pytestmark = pytest.mark.unit

NOW = datetime.now(UTC)


def _snapshot(state: Path, name: str, saved_at: datetime) -> None:
    save(snapshot_dir(state), Snapshot(name, saved_at, "app", "1.10", True, {}))


def test_a_name_is_a_snapshot_a_time_is_a_time(tmp_path: Path) -> None:
    _snapshot(tmp_path, "deploy", NOW - timedelta(hours=3))
    assert parse_since("deploy", "--since", tmp_path) == NOW - timedelta(hours=3)
    two_hours = parse_since("2h", "--since", tmp_path)
    now = datetime.now(UTC)  # not NOW: collection may have been a while ago
    assert two_hours is not None and abs(two_hours - (now - timedelta(hours=2))).seconds < 5
    with pytest.raises(ConfigError, match="or the name of a snapshot saved with top-queries"):
        parse_since("yesterday", "--since", tmp_path)


def test_the_newest_snapshot_saved_by_a_time(tmp_path: Path) -> None:
    _snapshot(tmp_path, "old", NOW - timedelta(days=2))
    _snapshot(tmp_path, "deploy", NOW - timedelta(hours=3))
    _snapshot(tmp_path, "recent", NOW - timedelta(minutes=10))
    assert newest_snapshot_by(tmp_path, NOW - timedelta(hours=2)) == "deploy"
    assert newest_snapshot_by(tmp_path, NOW - timedelta(days=3)) is None


def test_query_budget_since_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _snapshot(tmp_path / ".dbctl", "deploy", NOW - timedelta(hours=1))
    log = tmp_path / "requests.jsonl"
    records = [
        {"method": "GET", "route": route, "status": 200, "ms": 1.0, "at": at.isoformat(),
         "statements": [{"statement": "SELECT 1", "count": 1, "ms": 0.1}]}
        for route, at in (("/before", NOW - timedelta(hours=2)), ("/after", NOW))
    ]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(
        app, ["query-budget", str(log), "--since", "deploy", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert [e["route"] for e in json.loads(result.stdout)["data"]["endpoints"]] == ["/after"]
