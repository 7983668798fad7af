"""Shadow databases outlive no owner: a killed run's shadow is dropped by the next run, a
live run's shadow and databases dbctl did not make are left alone, SIGTERM drops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from dbctl.pg.shadow import PREFIX, temporary_database
from dbctl.pg.url import libpq_url

pytestmark = pytest.mark.integration

_OWNER = """
import sys, time
from dbctl.pg.shadow import temporary_database
with temporary_database(sys.argv[1]) as url:
    print(url, flush=True)
    time.sleep(300)
"""


@contextmanager
def _owner(admin_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A dbctl process that holds a shadow database; yields it and the shadow's name."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _OWNER, admin_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line, "the owner printed no URL"
        yield proc, line.rsplit("/", 1)[1].split("?", 1)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _databases(admin_url: str) -> dict[str, str | None]:
    """Every database's name and comment."""
    with psycopg.connect(libpq_url(admin_url)) as conn:
        rows = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
        ).fetchall()
    return {str(name): comment for name, comment in rows}


def _wait_until_unlocked(admin_url: str, name: str) -> None:
    """The server ends a killed client's session on its own time: wait (bounded) until no
    session holds an advisory lock keyed on ``name``."""
    deadline = time.monotonic() + 30
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        while True:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = hashtext(%s)::oid",
                (name,),
            ).fetchone()
            if held == (0,):
                return
            assert time.monotonic() < deadline, f"the lock on {name} outlived its owner"
            time.sleep(0.05)


def test_a_killed_owner_s_shadow_is_dropped_by_the_next_run(pg_admin_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    foreign = [f"{PREFIX}handmade_{suffix}", f"{PREFIX}commented_{suffix}"]
    with psycopg.connect(libpq_url(pg_admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{foreign[0]}"')
        conn.execute(f'CREATE DATABASE "{foreign[1]}"')
        conn.execute(f"COMMENT ON DATABASE \"{foreign[1]}\" IS 'made by hand, keep'")
    try:
        with _owner(pg_admin_url) as (proc, name):
            comment = _databases(pg_admin_url)[name]
            assert comment is not None and f"pid {proc.pid} on " in comment
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        _wait_until_unlocked(pg_admin_url, name)
        assert name in _databases(pg_admin_url)  # SIGKILL: nothing ran on the way out

        notes: list[str] = []
        with temporary_database(pg_admin_url, notify=notes.append) as url:
            left = _databases(pg_admin_url)
            assert name not in left
            assert url.rsplit("/", 1)[1] in left
            assert foreign[0] in left and foreign[1] in left  # dbctl did not make them
        assert len(notes) == 1
        assert notes[0].startswith(f"dropped {name}, left by dbctl pid {proc.pid} on ")
        assert "\n" not in notes[0]
    finally:
        with psycopg.connect(libpq_url(pg_admin_url), autocommit=True) as conn:
            for database in foreign:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}"')


def test_a_live_owner_s_shadow_is_kept_and_sigterm_drops_it(pg_admin_url: str) -> None:
    with _owner(pg_admin_url) as (proc, name):
        notes: list[str] = []
        with temporary_database(pg_admin_url, notify=notes.append):
            assert name in _databases(pg_admin_url)
        assert name in _databases(pg_admin_url)
        assert not any(name in note for note in notes)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        assert name not in _databases(pg_admin_url)


def test_the_shadow_is_dropped_at_the_end(pg_admin_url: str) -> None:
    with temporary_database(pg_admin_url) as url:
        name = url.rsplit("/", 1)[1]
        assert name.startswith(PREFIX)
        assert name in _databases(pg_admin_url)
    assert name not in _databases(pg_admin_url)
