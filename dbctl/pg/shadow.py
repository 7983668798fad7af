"""Temporary databases: the shadow database verify-schema migrates, and scratch space.

A temporary database is created on a running server (the sandbox, or the server of
``--database-url``) with ``CREATE DATABASE ... TEMPLATE template0`` and dropped at the end
with ``DROP DATABASE ... WITH (FORCE)``: no ``initdb`` per run.

A run that is killed cannot drop its database, so every temporary database says who owns it:

- its owner holds a session-level advisory lock keyed on the database's name for as long as
  the database lives, on its maintenance connection (the server releases it when that session
  ends, however the owner died). The two-``int4`` form, in dbctl's own key space
  (``SHADOW_LOCK_SPACE``, ``hashtext(name)``): ``pg_locks`` shows it with ``objsubid = 2``,
  so it never meets the migration lock of ``dbctl.pg.lock`` (one ``bigint``, ``objsubid = 1``);
- ``COMMENT ON DATABASE`` records that dbctl made it, for which pid on which host.

Before it creates one, every run drops the ``dbctl_shadow_*`` databases whose comment says
dbctl made them and whose lock no session holds, with a one-line note; a database that
dbctl did not make is never dropped, whatever its name. While the database lives, SIGTERM
(in the main thread, when nothing else handles it) exits through the context managers,
so the database is dropped on the way out.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConnectionFailed, DbctlError
from dbctl.pg.connect import connect
from dbctl.pg.url import redact, with_database

if TYPE_CHECKING:
    import psycopg

PREFIX = "dbctl_shadow_"
SHADOW_LOCK_SPACE = int.from_bytes(hashlib.sha256(b"dbctl:shadow").digest()[:4], "big") & 0x7FFFFFFF
OWNER_MARK = "dbctl temporary database"
_NAME_PATTERN = "^" + PREFIX + "[a-z0-9_]+$"
_OWNER = re.compile(r"pid (\d+) on (\S+), created (\S+)")

Notify = Callable[[str], None]


def _maintenance_url(url: str) -> str:
    return with_database(url, "postgres")


def _owner_comment(purpose: str) -> str:
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = socket.gethostname().split()[0] if socket.gethostname().strip() else "unknown"
    return (
        f"{OWNER_MARK} ({purpose}) of pid {os.getpid()} on {host}, created {created}: "
        "a later dbctl run drops it once that run's session is gone"
    )


def _admin_connection(url: str) -> tuple[psycopg.Connection[Any], str]:
    admin_url = _maintenance_url(url)
    try:
        return connect(admin_url, autocommit=True), admin_url
    except ConnectionFailed:
        return connect(url, autocommit=True), url  # no access to 'postgres': the given one


def _hold_session(admin: psycopg.Connection[Any]) -> None:
    """The lock lives as long as this session: no idle timeout may end it (PostgreSQL 14+)."""
    if admin.info.server_version >= 140000:
        admin.execute("SET idle_session_timeout = 0")


def drop_abandoned(admin: psycopg.Connection[Any], notify: Notify | None = None) -> list[str]:
    """Drop the temporary databases dbctl made whose owner's session is gone; their names.

    Only databases named ``dbctl_shadow_*`` whose comment says dbctl made them, and whose
    advisory lock no session holds (checked again by taking the lock before the drop).
    One that cannot be dropped (another role's, say) is left for its owner.
    """
    import psycopg
    from psycopg import sql

    rows = admin.execute(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d "
        "WHERE d.datname ~ %s AND shobj_description(d.oid, 'pg_database') LIKE %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' "
        "AND l.objsubid = 2 AND l.classid = %s::oid AND l.objid = hashtext(d.datname)::oid)",
        (_NAME_PATTERN, OWNER_MARK + " (%", SHADOW_LOCK_SPACE),
    ).fetchall()
    dropped = []
    for name, comment in rows:
        got = admin.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (SHADOW_LOCK_SPACE, name)
        ).fetchone()
        if not got or not got[0]:
            continue  # its owner (or another cleaner) holds it now
        try:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        except psycopg.Error:
            continue
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (SHADOW_LOCK_SPACE, name))
        dropped.append(str(name))
        if notify is not None:
            owner = _OWNER.search(str(comment or ""))
            left_by = (
                f"dbctl pid {owner[1]} on {owner[2]} (created {owner[3]})" if owner else "dbctl"
            )
            notify(f"dropped {name}, left by {left_by} whose run is gone")
    return dropped


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM raises ``SystemExit(143)`` here, so the context managers run on the way out.

    Only in the main thread, and only when SIGTERM has its default action (a handler someone
    else installed is theirs). A second SIGTERM while cleaning up is ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def temporary_database(
    url: str, *, purpose: str = "shadow", notify: Notify | None = None
) -> Iterator[str]:
    """A fresh empty database on the server of ``url``; yields its URL, drops it after.

    First drops the temporary databases that killed dbctl runs left (``notify`` says which).
    """
    import psycopg
    from psycopg import sql

    kind = "" if purpose == "shadow" else f"{purpose}_"
    name = f"{PREFIX}{kind}{uuid.uuid4().hex[:10]}"
    ident = sql.Identifier(name)
    with _sigterm_exits():
        admin, admin_url = _admin_connection(url)
        with admin:
            _hold_session(admin)
            drop_abandoned(admin, notify)
            admin.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (SHADOW_LOCK_SPACE, name))
            try:
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident))
            except psycopg.errors.InsufficientPrivilege:
                raise DbctlError(
                    f"the role of {redact(url)} may not create databases, which the {purpose} "
                    "database needs: grant it CREATEDB, or give no --database-url to use the "
                    "sandbox"
                ) from None
            try:
                admin.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        ident, sql.Literal(_owner_comment(purpose))
                    )
                )
                yield with_database(url, name)
            finally:
                _drop(admin, admin_url, ident)


def _drop(admin: psycopg.Connection[Any], admin_url: str, ident: Any) -> None:
    """Drop the database on the maintenance connection, or a new one if that one died."""
    import psycopg
    from psycopg import sql

    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
    try:
        admin.execute(statement)
        return
    except psycopg.OperationalError:
        with suppress(psycopg.Error):
            admin.close()
    with connect(admin_url, autocommit=True) as again:
        again.execute(statement)
