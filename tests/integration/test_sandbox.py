"""The sandbox, end to end: a real server started, queried, stopped and destroyed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.pg import sandbox as sandbox_module
from dbctl.pg.url import libpq_url

pytestmark = pytest.mark.integration


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "project" / ".dbctl"
    yield state
    sandbox_module.Sandbox(state).stop(destroy=True)


def test_start_status_url_stop(state_dir: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["sandbox", "start", "--dir", str(state_dir)])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("sandbox started: postgresql+psycopg://postgres@127.0.0.1:")

    again = runner.invoke(app, ["sandbox", "start", "--dir", str(state_dir)])
    assert again.exit_code == 0
    assert again.output.startswith("sandbox already running: ")

    url = runner.invoke(app, ["sandbox", "url", "--dir", str(state_dir)]).output.strip()
    with psycopg.connect(libpq_url(url)) as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        # The extension is usable, not just listed: the library is preloaded.
        conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()
    assert listen == ("127.0.0.1",)
    assert fsync == ("off",)
    assert preload == ("pg_stat_statements",)

    status = runner.invoke(app, ["sandbox", "status", "--dir", str(state_dir), "--format", "json"])
    report = json.loads(status.output)
    assert report["running"] is True
    assert report["url"] == url
    assert "pg_stat_statements" in report["extensions"]
    assert Path(report["data_dir"]).is_dir() or os.geteuid() == 0

    stopped = runner.invoke(app, ["sandbox", "stop", "--dir", str(state_dir)])
    assert stopped.output == "sandbox stopped\n"
    status = runner.invoke(app, ["sandbox", "status", "--dir", str(state_dir), "--format", "json"])
    assert json.loads(status.output)["running"] is False
    gone = runner.invoke(app, ["sandbox", "url", "--dir", str(state_dir)])
    assert gone.exit_code == 2
    assert gone.stderr == "error: the sandbox is not running: start it with 'dbctl sandbox start'\n"


def test_restart_keeps_data_and_destroy_removes_it(state_dir: Path) -> None:
    box = sandbox_module.Sandbox(state_dir)
    url = box.start().url
    assert url is not None
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
    box.stop()
    url = box.start().url
    assert url is not None
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
    assert box.stop(destroy=True) is True
    assert not box.data_root.exists()
    assert box.stop() is False


def test_as_root_the_data_lives_where_the_server_user_can_reach(state_dir: Path) -> None:
    box = sandbox_module.Sandbox(state_dir)
    if os.geteuid() == 0:
        assert str(box.data_root).startswith("/tmp/dbctl-sandbox-")
    else:
        assert box.data_root == state_dir.resolve() / "sandbox"


def test_no_server_binaries_is_one_line_and_exit_2(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(sandbox_module, "SEARCH_GLOBS", ())
    result = CliRunner().invoke(app, ["sandbox", "start", "--dir", str(state_dir)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no PostgreSQL server binaries found")
    assert result.stderr.count("\n") == 1


def test_a_bad_bindir_setting_is_named(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBCTL_PG_BINDIR", str(state_dir))
    result = CliRunner().invoke(app, ["sandbox", "start", "--dir", str(state_dir)])
    assert result.exit_code == 2
    assert f"DBCTL_PG_BINDIR={state_dir} does not hold initdb" in result.stderr
