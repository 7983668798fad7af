"""dbctl migrate against a real PostgreSQL: locks, timeouts, failures, checksums."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.errors import LockTimeout, MigrationFailed
from dbctl.lifecycle.migrate import downgrade, upgrade
from dbctl.lifecycle.status import migration_status
from dbctl.pg.lock import MIGRATION_LOCK_KEY
from dbctl.pg.url import libpq_url
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration

CHAIN = [
    Rev("r1", None, "CREATE TABLE a (id int PRIMARY KEY)", "DROP TABLE a"),
    Rev("r2", "r1", "CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a)", "DROP TABLE b"),
    Rev("r3", "r2", "CREATE INDEX ix_b_a_id ON b (a_id)", "DROP INDEX ix_b_a_id"),
]


@pytest.fixture
def project(tmp_path: Path) -> AlembicProject:
    proj = AlembicProject(tmp_path / "proj")
    for rev in CHAIN:
        proj.add(rev)
    return proj


def _execute(url: str, sql: str) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_upgrade_records_checksums_and_status_is_clean(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("mig")
    result = upgrade(project.settings(url), url)
    assert result.applied == ("r1", "r2", "r3")
    assert result.after == ("r3",)
    rows = _query(url, "SELECT revision, adopted FROM dbctl_migrations ORDER BY revision")
    assert rows == [("r1", False), ("r2", False), ("r3", False)]
    status = migration_status(project.settings(url), url)
    assert status.findings == ()
    assert status.pending == ()
    again = upgrade(project.settings(url), url)
    assert again.applied == ()


# Three deploys at once prove what eight did (one applies, two wait on the lock and find
# nothing to do) at three processes' start-up instead of eight on two cores.
CONCURRENT = 3


def test_concurrent_migrates_apply_each_revision_once(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migconc")
    # Each revision also counts its own runs: a second run would insert a second row.
    project.add(
        Rev(
            "r4",
            "r3",
            "CREATE TABLE runs (n int); INSERT INTO runs VALUES (1); SELECT pg_sleep(0.3)",
        )
    )
    env = {**os.environ, "DBCTL_DATABASE_URL": url}
    env.pop("DATABASE_URL", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dbctl", "migrate", "--lock-wait", "60"],
            cwd=project.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(CONCURRENT)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    codes = [proc.returncode for proc in procs]
    assert codes == [0] * CONCURRENT, outputs
    applied = [out for out, _ in outputs if "4 applied" in out]
    assert len(applied) == 1, outputs
    assert _query(url, "SELECT count(*) FROM runs") == [(1,)]
    assert _query(url, "SELECT version_num FROM alembic_version") == [("r4",)]
    assert _query(url, "SELECT count(*) FROM dbctl_migrations") == [(4,)]


def test_lock_wait_expires_with_a_clear_message(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("miglock")
    with psycopg.connect(libpq_url(url), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        with pytest.raises(LockTimeout, match=r"another migration holds the migration lock \(pid"):
            upgrade(project.settings(url, lock_wait=0.3), url)
    assert _query(url, "SELECT to_regclass('a')") == [(None,)]


def test_lock_timeout_fires_on_a_busy_table(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migbusy")
    settings = project.settings(url, lock_timeout="300ms")
    upgrade(settings, url, revision="r2")
    with psycopg.connect(libpq_url(url)) as busy:
        busy.execute("INSERT INTO b VALUES (1, NULL)")  # ROW EXCLUSIVE until rollback
        with pytest.raises(MigrationFailed) as info:
            upgrade(settings, url)
        busy.rollback()
    message = str(info.value)
    assert "revision r3 (migrations/versions/r3.py:11) failed" in message
    assert "lock timeout" in message
    assert message.endswith("the database stays at r2")
    assert "\n" not in message


def test_failure_midway_leaves_the_last_good_revision(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migfail")
    project.add(Rev("r4", "r3", "CREATE TABLE c (id int); INSERT INTO c VALUES ('not a number')"))
    project.add(Rev("r5", "r4", "CREATE TABLE d (id int)"))
    with pytest.raises(MigrationFailed) as info:
        upgrade(project.settings(url), url)
    message = str(info.value)
    assert message.startswith(
        "revision r4 (migrations/versions/r4.py:12) failed: invalid input syntax"
    )
    assert "statement: INSERT INTO c VALUES ('not a number')" in message
    assert _query(url, "SELECT version_num FROM alembic_version") == [("r3",)]
    assert _query(url, "SELECT to_regclass('c'), to_regclass('d')") == [(None, None)]
    assert _query(url, "SELECT count(*) FROM dbctl_migrations") == [(3,)]


def test_failed_concurrent_index_is_reported_invalid(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migcic")
    project.add(
        Rev(
            "r4",
            "r3",
            "CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1)",
            "DROP TABLE dup",
        )
    )
    project.add(
        Rev("r5", "r4", "CREATE UNIQUE INDEX CONCURRENTLY ix_dup_v ON dup (v)", autocommit=True)
    )
    settings = project.settings(url)
    with pytest.raises(MigrationFailed, match="INVALID index left behind: ix_dup_v"):
        upgrade(settings, url)
    status = migration_status(settings, url)
    rules = sorted(f.rule for f in status.findings)
    assert rules == ["invalid-index", "pending-migration"]


def _index_validity(url: str, name: str) -> list[tuple[object, ...]]:
    return _query(
        url,
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        f"WHERE c.relname = '{name}'",
    )


def test_a_rerun_rebuilds_the_invalid_index_an_earlier_run_left(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    """The revision says IF NOT EXISTS: rerun as is, it would keep the INVALID index and
    call itself applied. dbctl drops the index the revision builds and lets it run again."""
    url = make_database("migcic_rerun")
    project.add(Rev("r4", "r3", "CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1)"))
    project.add(
        Rev(
            "r5",
            "r4",
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix_dup_v ON dup (v)",
            autocommit=True,
        )
    )
    settings = project.settings(url)
    with pytest.raises(MigrationFailed, match="INVALID index left behind: ix_dup_v"):
        upgrade(settings, url)
    _execute(url, "DELETE FROM dup WHERE ctid = (SELECT min(ctid) FROM dup)")  # data fixed
    notes: list[str] = []
    result = upgrade(settings, url, notify=notes.append)
    assert result.applied == ("r5",)
    assert _index_validity(url, "ix_dup_v") == [(True,)]
    assert "dropped the INVALID index ix_dup_v left by an earlier run of r5" in notes


def test_a_revision_is_not_applied_while_its_index_is_invalid(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    """An INVALID index the revision does not rebuild (left by hand, named in the revision)
    keeps the revision unapplied: an error naming the index, the version unchanged."""
    url = make_database("migcic_kept")
    upgrade(project.settings(url), url)
    _execute(url, "CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1)")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_dup_v ON dup (v)")
    project.add(Rev("r4", "r3", "py:\nop.execute('COMMENT ON INDEX ix_dup_v IS ' + repr('kept'))"))
    settings = project.settings(url)
    with pytest.raises(MigrationFailed) as failed:
        upgrade(settings, url)
    message = str(failed.value)
    assert "revision r4" in message
    assert "ix_dup_v is INVALID" in message
    assert message.endswith("the database stays at r3")
    assert _query(url, "SELECT version_num FROM alembic_version") == [("r3",)]


def test_a_revision_cut_off_by_the_server_says_where_the_database_stays(
    project: AlembicProject, make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the session mid-revision (a restart, an admin's terminate): one
    line naming the revision as interrupted and the revision the database stays at."""
    url = make_database("migcut")
    upgrade(project.settings(url), url)
    project.add(
        Rev("r4", "r3", "CREATE TABLE c (id int); SELECT pg_terminate_backend(pg_backend_pid())")
    )
    monkeypatch.chdir(project.root)
    result = CliRunner().invoke(app, ["migrate", "--database-url", url], terminal_width=300)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: revision r4 (")
    assert "was interrupted: the server closed the connection" in lines[0]
    assert lines[0].endswith("the database stays at r3")
    assert _query(url, "SELECT to_regclass('c')") == [(None,)]


def test_concurrent_revision_is_exempt_from_lock_timeout(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migcic2")
    settings = project.settings(url, lock_timeout="200ms")
    upgrade(settings, url)
    project.add(Rev("r4", "r3", "CREATE INDEX CONCURRENTLY ix_a_id ON a (id)", autocommit=True))
    done = threading.Event()
    with psycopg.connect(libpq_url(url)) as busy:
        busy.execute("INSERT INTO a VALUES (1)")  # an open writer that CIC must wait for

        def release() -> None:
            done.wait(1.0)
            busy.rollback()

        threading.Thread(target=release).start()
        result = upgrade(settings, url)
        done.set()
    assert result.applied == ("r4",)


def test_checksum_mismatch_after_an_edit(
    project: AlembicProject, make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_database("migsum")
    upgrade(project.settings(url), url)
    path = project.versions / "r2.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # line endings only: no change
    assert migration_status(project.settings(url), url).findings == ()
    path.write_text(path.read_text() + "\n# edited after it was applied\n")
    findings = migration_status(project.settings(url), url).findings
    assert [(f.rule, f.location.path if f.location else None) for f in findings] == [
        ("checksum-mismatch", "migrations/versions/r2.py")
    ]
    monkeypatch.chdir(project.root)
    result = CliRunner().invoke(app, ["migrate", "status", "--database-url", url])
    assert result.exit_code == 1
    assert "checksum-mismatch" in result.stdout


def test_multiple_heads_and_pending(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("mighead")
    upgrade(project.settings(url), url, revision="r2")
    project.add(Rev("r3b", "r2", "CREATE TABLE e (id int)"))
    status = migration_status(project.settings(url), url)
    rules = sorted(f.rule for f in status.findings)
    assert rules == ["multiple-heads", "pending-migration", "pending-migration"]
    with pytest.raises(MigrationFailed, match="cannot migrate to 'head'"):
        upgrade(project.settings(url), url)


def test_downgrade_forgets_checksums(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migdown")
    upgrade(project.settings(url), url)
    result = downgrade(project.settings(url), url, revision="r1")
    assert result.applied == ("r3", "r2")
    assert _query(url, "SELECT revision FROM dbctl_migrations") == [("r1",)]
    assert _query(url, "SELECT to_regclass('b')") == [(None,)]


def test_existing_database_is_adopted(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("migadopt")
    _execute(
        url,
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
        "INSERT INTO alembic_version VALUES ('r1'); CREATE TABLE a (id int PRIMARY KEY)",
    )
    upgrade(project.settings(url), url)
    rows = _query(url, "SELECT revision, adopted FROM dbctl_migrations ORDER BY revision")
    assert rows == [("r1", True), ("r2", False), ("r3", False)]
