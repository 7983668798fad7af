"""A session-level advisory lock that serialises concurrent ``dbctl migrate`` runs.

The lock belongs to the session that migrates: it survives the commit of each revision and
is released at the end (or when the session dies). It is a session lock, so behind PgBouncer
in transaction mode it does not hold: migrate through a direct connection (or a PgBouncer
pool in session mode). See docs/migrations.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dbctl.errors import LockTimeout

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"dbctl:migrate").digest()[:8], signed=True)


def _holder(connection: Connection, key: int) -> str:
    from sqlalchemy import text

    row = connection.execute(
        text(
            "SELECT a.pid, a.application_name, a.client_addr, now() - a.xact_start "
            "FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = ((:key >> 32) & 4294967295)::oid "
            "AND l.objid = (:key & 4294967295)::oid AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"key": key},
    ).first()
    if row is None:
        return "another session"
    return f"pid {row[0]} ({row[1] or 'no application name'})"


@contextmanager
def advisory_lock(
    connection: Connection,
    *,
    wait: float,
    key: int = MIGRATION_LOCK_KEY,
    notify: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the advisory lock ``key`` on ``connection``, waiting at most ``wait`` seconds."""
    from sqlalchemy import text

    deadline = time.monotonic() + wait
    delay = 0.02
    told = False
    while True:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        if got:
            connection.commit()
            break
        holder = _holder(connection, key)
        connection.commit()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(
                f"another migration holds the migration lock ({holder}) and did not finish "
                f"within {wait:g}s: wait for it to end, or raise --lock-wait"
            )
        if not told and notify is not None:
            notify(f"waiting for the migration lock held by {holder} (up to {wait:g}s)")
            told = True
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        connection.commit()
