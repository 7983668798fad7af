"""The sandbox, end to end: a real server started, queried, stopped and destroyed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
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
    assert (Path(report["data_dir"]) / "PG_VERSION").is_file()  # the cluster's own folder

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


# -- concurrency, stale state, the port ----------------------------------------------------

DBCTL = str(Path(sys.executable).with_name("dbctl"))


def _postmasters(data_dir: Path) -> list[int]:
    """The pids of the postmasters of ``data_dir`` (their command line names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"postgres") and str(data_dir).encode() in argv:
            found.append(int(entry.name))
    return found


def test_concurrent_starts_share_one_server(state_dir: Path) -> None:
    """Three ``sandbox start`` at once: one starts the server, the others wait for it and
    report it; all exit 0 with the same URL; one postmaster."""
    runs = [
        subprocess.Popen(
            [DBCTL, "sandbox", "start", "--dir", str(state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    firsts = sorted(out.splitlines()[0] for out, _ in outputs)
    urls = {line.split(": ", 1)[1] for line in firsts}
    assert len(urls) == 1
    assert [line.split(":", 1)[0] for line in firsts] == [
        "sandbox already running",
        "sandbox already running",
        "sandbox started",
    ]
    box = sandbox_module.Sandbox(state_dir)
    assert len(_postmasters(box.data_dir)) == 1
    with psycopg.connect(libpq_url(urls.pop())) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _fake_crash(box: sandbox_module.Sandbox, pid: int, port: int) -> None:
    """What a crashed server leaves when its pid now belongs to another process."""
    lines = [str(pid), str(box.data_dir), "1700000000", str(port), str(box.socket_dir)]
    lines += ["127.0.0.1", "  2277380    557072", "ready   "]
    (box.data_dir / "postmaster.pid").write_text("\n".join(lines) + "\n")
    (box.socket_dir / f".s.PGSQL.{port}.lock").write_text(f"{pid}\n{box.data_dir}\n")
    state = json.loads(box.state_file.read_text())
    box.state_file.write_text(json.dumps({**state, "pid": pid, "port": port}))


def test_a_stale_pid_of_another_process_is_stopped_and_start_starts_again(
    state_dir: Path,
) -> None:
    box = sandbox_module.Sandbox(state_dir)
    port = box.start().port
    assert port is not None
    box.stop()
    other = subprocess.Popen(["sleep", "300"])
    try:
        _fake_crash(box, other.pid, port)
        status = box.status()
        assert status.running is False
        assert box.url() is None
        result = CliRunner().invoke(app, ["sandbox", "status", "--dir", str(state_dir)])
        assert result.output.startswith("running:    no\n")

        started = box.start()
        assert started.started is True
        assert started.pid not in (None, other.pid)
        assert started.url is not None
        with psycopg.connect(libpq_url(started.url)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert other.poll() is None  # the other process is left alone
        assert box.status().running is True
    finally:
        other.kill()
        other.wait()


def test_restart_keeps_the_port_while_it_is_free(state_dir: Path) -> None:
    box = sandbox_module.Sandbox(state_dir)
    first = box.start()
    assert first.url is not None
    with psycopg.connect(libpq_url(first.url)) as conn:  # leaves TIME_WAIT on the port
        conn.execute("SELECT 1")
    box.stop()
    notes: list[str] = []
    again = box.start(notify=notes.append)
    assert again.url == first.url
    assert notes == []

    box.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        # as a server would bind it: the connections above may leave TIME_WAIT on the port
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", first.port or 0))
        holder.listen()
        moved = box.start(notify=notes.append)
    assert moved.port != first.port
    assert notes == [
        f"the sandbox's port {first.port} is taken: it now listens on {moved.port} "
        "(export DATABASE_URL again)"
    ]
