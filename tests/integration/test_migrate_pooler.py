"""dbctl migrate behind PgBouncer (Debian's pgbouncer, started here on loopback): in
transaction mode a session's advisory lock and session settings do not hold, so migrate
detects it and refuses in one line; with ``--pooler transaction`` each revision takes a
transaction-level lock and sets its timeouts for its own transaction only (nothing leaks to
the pool's other clients), and concurrent deploys still apply each revision once. In
session mode nothing changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from dbctl.pg.sandbox import free_port
from dbctl.pg.url import libpq_url
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
CHAIN = [
    Rev("p1", None, "CREATE TABLE a (id int PRIMARY KEY)", "DROP TABLE a"),
    Rev(
        "p2",
        "p1",
        "CREATE TABLE runs (n int); INSERT INTO runs VALUES (1); SELECT pg_sleep(0.3)",
        "DROP TABLE runs",
    ),
]


def _start(folder: Path, server_port: int, mode: str) -> Iterator[int]:
    """A PgBouncer in ``mode`` in front of the test server, configured as Debian ships it
    (no ``ignore_startup_parameters``: the ``options`` parameter is refused); yields its
    port."""
    folder.mkdir(parents=True)
    port = free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host=127.0.0.1 port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = {mode}
default_pool_size = 4
max_client_conn = 50
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""
    )
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root, as PostgreSQL does
        shutil.chown(folder, "postgres")
        for child in folder.iterdir():
            shutil.chown(child, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # closed with the process: the log file keeps what PgBouncer says
    try:
        for _ in range(100):
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=1
                ):
                    break
            except psycopg.OperationalError:
                if process.poll() is not None:
                    assert process.stderr is not None
                    pytest.fail(f"pgbouncer did not start: {process.stderr.read()!r}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(scope="module")
def bouncers(pg_admin_url: str) -> Iterator[dict[str, int]]:
    if not Path(PGBOUNCER).exists():
        pytest.skip("pgbouncer is not installed: apt-get install pgbouncer")
    server_port = make_url(pg_admin_url).port
    assert server_port is not None
    # not under pytest's tmp folder: as root that is 0700, and PgBouncer runs as postgres
    folder = Path(tempfile.mkdtemp(prefix="dbctl-pgbouncer-"))
    folder.chmod(0o755)
    try:
        transaction = _start(folder / "transaction", server_port, "transaction")
        session = _start(folder / "session", server_port, "session")
        ports = {"transaction": next(transaction), "session": next(session)}
        yield ports
        for started in (transaction, session):
            next(started, None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _through(url: str, port: int) -> str:
    """``url`` with PgBouncer's port instead of the server's."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def _migrate(project: AlembicProject, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBCTL_DATABASE_URL": url}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "dbctl", "migrate", *args],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def _concurrent_deploys(project: AlembicProject, env: dict[str, str]) -> list[tuple[str, str]]:
    """Three ``migrate --pooler transaction`` at once; each must succeed: their outputs."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dbctl", "migrate", "--pooler", "transaction"],
            cwd=project.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    return outputs


def _assert_pool_defaults(pooled: str) -> None:
    """The pool's server connections keep the defaults: no session-level timeout left."""
    with psycopg.connect(libpq_url(pooled), autocommit=True) as conn:
        for _ in range(8):  # eight transactions, on the server connections the pool hands out
            row = conn.execute(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
            ).fetchone()
            assert row == ("0", "0")


@pytest.fixture
def project(tmp_path: Path) -> AlembicProject:
    project = AlembicProject(tmp_path / "proj")
    for rev in CHAIN:
        project.add(rev)
    return project


def test_transaction_mode_is_detected_and_refused_in_one_line(
    project: AlembicProject, bouncers: dict[str, int], make_database: Callable[[str], str]
) -> None:
    url = make_database("pool_refuse")
    done = _migrate(project, _through(url, bouncers["transaction"]))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "transaction-mode pooler" in line
    assert "--pooler transaction" in line
    assert _query(url, "SELECT to_regclass('a')") == [(None,)]  # nothing ran
    # and nothing was left on the pool's server connections (checked before any setting)
    _assert_pool_defaults(_through(url, bouncers["transaction"]))
    down = _migrate(
        project,
        _through(url, bouncers["transaction"]),
        "--pooler",
        "transaction",
        "down",
        "--to",
        "base",
    )
    assert down.returncode == 2
    assert "migrate down runs under the session's migration lock" in down.stderr


def test_session_mode_migrates_as_a_direct_connection(
    project: AlembicProject, bouncers: dict[str, int], make_database: Callable[[str], str]
) -> None:
    url = make_database("pool_session")
    done = _migrate(project, _through(url, bouncers["session"]))
    assert done.returncode == 0, done.stderr
    assert _query(url, "SELECT version_num FROM alembic_version") == [("p2",)]


def test_pooler_transaction_locks_each_revision_and_leaks_no_setting(
    project: AlembicProject, bouncers: dict[str, int], make_database: Callable[[str], str]
) -> None:
    url = make_database("pool_tx")
    pooled = _through(url, bouncers["transaction"])
    env = {**os.environ, "DBCTL_DATABASE_URL": pooled}
    env.pop("DATABASE_URL", None)
    _concurrent_deploys(project, env)
    assert _query(url, "SELECT count(*) FROM runs") == [(1,)]  # p2 ran once
    assert _query(url, "SELECT version_num FROM alembic_version") == [("p2",)]
    assert _query(url, "SELECT count(*) FROM dbctl_migrations") == [(2,)]
    # the pool's server connections kept their defaults: no session-level timeout left
    _assert_pool_defaults(pooled)


BASELINE = """
from sqlalchemy import text


def create(connection):
    connection.execute(text("CREATE TABLE base (id int PRIMARY KEY)"))
    connection.execute(text("SELECT pg_sleep(0.3)"))
"""


def test_pooler_transaction_makes_the_baseline_once_under_the_lock(
    project: AlembicProject, bouncers: dict[str, int], make_database: Callable[[str], str]
) -> None:
    (project.root / "baseline_pool.py").write_text(BASELINE)
    url = make_database("pool_base")
    env = {
        **os.environ,
        "DBCTL_DATABASE_URL": _through(url, bouncers["transaction"]),
        "DBCTL_BASELINE": "baseline_pool:create",
    }
    env.pop("DATABASE_URL", None)
    outputs = _concurrent_deploys(project, env)
    said = [
        line for _, err in outputs for line in err.splitlines() if "baseline_pool:create" in line
    ]
    # one deploy made it; each other one saw it made, before the lock or under it, or (the
    # database already at a revision) had no word for it
    assert said.count("created the baseline baseline_pool:create") == 1, outputs
    assert set(said) <= {
        "created the baseline baseline_pool:create",
        "baseline baseline_pool:create was created meanwhile by another deploy",
        "baseline baseline_pool:create left out: the database has tables",
    }, outputs
    assert _query(url, "SELECT version_num FROM alembic_version") == [("p2",)]
