"""How the project's env.py gets the database dbctl names, and how dbctl holds it there.

An ``env.py`` is the project's code. Some use the connection dbctl passes in
``config.attributes["connection"]``; most build an engine of their own, from
``sqlalchemy.url``, from ``DATABASE_URL``, from a settings object that reads
``POSTGRES_SERVER`` and friends. dbctl cannot choose for them, so while the project's code
runs (``Handoff.active``) it

* hands its database over every way projects read one: the shared connection, the
  ``sqlalchemy.url`` option (with the URL's own driver), and the variables of
  ``[tool.dbctl] url_env`` (``project_env``);
* puts the migration's ``lock_timeout`` and ``statement_timeout`` in ``PGOPTIONS`` (libpq
  connections of any kind), and sends what the project prints to stderr (dbctl's stdout
  is its report);
* checks every DBAPI connection any SQLAlchemy pool makes or hands out (class-level pool
  events, which fire before the engine's dialect set-up and the project's own ``connect``
  listeners, and for ``raw_connection()`` too): one query reads the database's identity
  and sets the timeouts. Another database is closed and the run stops with
  ``ForeignDatabase``, naming the line of the project's code that connected and the fix;
  nothing of the project's ran there. A transaction that begins on a connection whose
  timeouts are stale (a connection kept across revisions) gets them again first.

What it cannot see (a raw driver connection, a subprocess) is caught after the fact: the
migration reads ``alembic_version`` back on a fresh connection after every step
(``NotLanded``) and stops before anything destructive.
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbctl.errors import ForeignDatabase
from dbctl.lifecycle.project_env import duration, pgoptions, url_variables
from dbctl.lifecycle.user_code import project_output, user_frame, where
from dbctl.pg.connect import INTERNAL, TAG, connect
from dbctl.pg.url import check_url, redact, sqlalchemy_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings

_IDENTITY = (
    f"{TAG} SELECT current_database()::text, d.oid::bigint, current_setting('port'), "
    "pg_postmaster_start_time()::text{more} "
    "FROM pg_database d WHERE d.datname = current_database()"
)
_TOKENS = itertools.count(1)  # one per handoff: what a pooled connection was checked for


@dataclass(frozen=True)
class Identity:
    """What tells one database from every other: its server (start time and port) and its
    oid and name there. Read with a query, so that host aliases and sockets do not matter."""

    database: str
    oid: int
    port: str
    started: str

    @classmethod
    def of(cls, row: Any) -> Identity:
        return cls(str(row[0]), int(str(row[1])), str(row[2]), str(row[3]))

    def describe(self) -> str:
        return f"database {self.database!r} (port {self.port})"


def read_identity(url: str) -> Identity:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(_IDENTITY.format(more="")).fetchone()
    assert row is not None
    return Identity.of(row)


class Handoff:
    """The database dbctl names, handed to the project's code and held to it."""

    def __init__(self, settings: Settings, url: str, identity: Identity) -> None:
        self.settings = settings
        self.url = check_url(url)
        self.identity = identity
        self.token = next(_TOKENS)
        self.lock_timeout = duration(settings.lock_timeout, "lock_timeout")
        self.statement_timeout = duration(settings.statement_timeout, "statement_timeout")
        self.variables = url_variables(settings, self.url)
        self._saved: dict[str, str | None] = {}
        # Threads that ran before the handoff (a server the process also hosts, a test's
        # live app) are not the project's migration: their connections are left alone.
        # Threads the project's code starts during the run are checked like the caller.
        self._bystanders: set[threading.Thread] = set()
        self._refused: ForeignDatabase | None = None
        # Behind a transaction-mode pooler (migrate --pooler transaction) a session setting
        # would stay on a server connection the pool hands to other clients: the timeouts
        # are set for each transaction instead (set_config(..., true) at its begin), and
        # not in PGOPTIONS (PgBouncer refuses or ignores that startup parameter).
        self.per_transaction = settings.pooler == "transaction"
        self.sends_pgoptions = not self.per_transaction  # (handed_over: not behind PgBouncer)

    @property
    def sqlalchemy_url(self) -> str:
        """What ``sqlalchemy.url`` says to env.py: the URL with its own driver."""
        return sqlalchemy_url(self.url)

    @property
    def _state(self) -> tuple[int, str, str]:
        return (self.token, self.lock_timeout, self.statement_timeout)

    def set_timeouts(self, *, lock_timeout: str, statement_timeout: str) -> None:
        """The timeouts of the next statements, on every connection the project opens."""
        self.lock_timeout = duration(lock_timeout, "lock_timeout")
        self.statement_timeout = duration(statement_timeout, "statement_timeout")
        if self._saved and self.sends_pgoptions:
            os.environ["PGOPTIONS"] = self._pgoptions()

    def _pgoptions(self) -> str:
        return pgoptions(
            self._saved.get("PGOPTIONS"),
            lock_timeout=self.lock_timeout,
            statement_timeout=self.statement_timeout,
        )

    def apply(self, connection: Connection) -> None:
        """Check ``connection`` (dbctl's shared one) and give it the current timeouts now."""
        if connection.in_transaction():
            connection.commit()
        pooled = connection.connection
        self._ensure(pooled.dbapi_connection, pooled.info)

    @contextmanager
    def active(self) -> Iterator[Handoff]:
        """Install the variables and the connection checks while the project's code runs."""
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        listeners: list[tuple[Any, str, Any]] = [
            (Pool, "first_connect", self._on_connect),
            (Pool, "connect", self._on_connect),
            (Pool, "checkout", self._on_checkout),
            (Engine, "begin", self._on_begin),
        ]
        token = _ACTIVE.set(self)
        self._bystanders = set(threading.enumerate()) - {threading.current_thread()}
        for name in [*self.variables, "PGOPTIONS"]:
            self._saved[name] = os.environ.get(name)
        os.environ.update(self.variables)
        if self.sends_pgoptions:
            os.environ["PGOPTIONS"] = self._pgoptions()
        for target, name, listener in listeners:
            event.listen(target, name, listener, insert=True)
        try:
            with project_output():
                yield self
        finally:
            for target, name, listener in listeners:
                event.remove(target, name, listener)
            for name, value in self._saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved = {}
            self._bystanders = set()
            _ACTIVE.reset(token)

    def _on_connect(self, dbapi_connection: Any, record: Any) -> None:
        self._ensure(dbapi_connection, record.info)

    def _on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        self._ensure(dbapi_connection, record.info)

    def _on_begin(self, connection: Connection) -> None:
        pooled = connection.connection
        self._ensure(pooled.dbapi_connection, pooled.info, begin=True)

    def _ensure(self, dbapi: Any, info: MutableMapping[str, Any], *, begin: bool = False) -> None:
        """The database of ``dbapi`` must be ours; then it gets the current timeouts.

        One round trip, and only for a connection not yet seen in this state: a new one,
        one pooled from before, or one whose timeouts changed since (an autocommit
        revision runs without them). ``per_transaction``: at each ``begin``, the timeouts of
        that transaction alone (left uncommitted: they end with it)."""
        if info.get(INTERNAL) or threading.current_thread() in self._bystanders:
            return
        local = self.per_transaction and begin
        if info.get("dbctl_handoff") == self._state and not local:
            return
        # The durations are checked (digits and a unit): safe to write in the SQL,
        # whatever the driver's parameter style.
        scope = "true" if local else "false"
        timeouts = (
            f", set_config('lock_timeout', '{self.lock_timeout}', {scope})"
            f", set_config('statement_timeout', '{self.statement_timeout}', {scope})"
        )
        if self.per_transaction and not local:
            timeouts = ""  # a session setting would outlive this client's transaction
        found: Identity | None = None
        try:
            cursor = dbapi.cursor()
            try:
                cursor.execute(_IDENTITY.format(more=timeouts))
                row = cursor.fetchone()
            finally:
                cursor.close()
            found = Identity.of(row) if row else None
        except Exception:  # not PostgreSQL, or not a database dbctl can identify
            found = None
        if found != self.identity:
            self._close(dbapi)
            refused = self._foreign(found)
            self._refused = self._refused or refused
            raise refused
        if local:
            return  # the transaction goes on: its timeouts end with it
        dbapi.commit()  # set_config(..., false) lasts for the session once committed
        info["dbctl_handoff"] = self._state

    @staticmethod
    def _close(dbapi: Any) -> None:
        for step in ("rollback", "close"):
            try:
                getattr(dbapi, step)()
            except Exception:  # closing what is refused: nothing more to do with it
                continue

    def check(self) -> None:
        """Raise the first refusal of the run, even when the project's code swallowed it
        (a ``try`` around its connect, a thread of its own)."""
        if self._refused is not None:
            raise self._refused

    def _foreign(self, found: Identity | None) -> ForeignDatabase:
        root = self.settings.project_root
        stack = [*_task_stack(), *traceback.extract_stack()[:-3]]
        env_py = [Path(frame.filename) for frame in stack if Path(frame.filename).name == "env.py"]
        at = where(user_frame(stack, root, env_py), root)
        what = found.describe() if found is not None else "a database dbctl cannot identify"
        variables = ", ".join(sorted(self.variables)) or "none"
        return ForeignDatabase(
            f"the project's code{f' at {at}' if at else ''} connected to {what}, not to the "
            f"{self.identity.describe()} dbctl was given: nothing was run there, and dbctl "
            "stopped. Make env.py use config.attributes['connection'] when it is set "
            "(Alembic's connection-sharing recipe) or the sqlalchemy.url option, or name the "
            "variables it reads in url_env ([tool.dbctl] url_env or DBCTL_URL_ENV, now "
            f"{variables}; NAME=template fills in {{host}} {{port}} {{user}} {{password}} "
            "{database})"
        )


@contextmanager
def no_connections(settings: Settings) -> Iterator[None]:
    """While Alembic prints the offline SQL, which needs no database: every SQLAlchemy
    engine's connect (the project's own ``create_engine`` in env.py or a revision) is
    refused before it reaches a server, with ``ForeignDatabase`` naming the line that
    tried. A raw driver connection is not seen (as in a handoff)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def refuse(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        root = settings.project_root
        at = where(user_frame([*_task_stack(), *traceback.extract_stack()[:-1]], root), root)
        raise ForeignDatabase(
            f"the project's code{f' at {at}' if at else ''} connects to a database while "
            "Alembic prints the SQL offline, which needs none: it was not let connect, and "
            "dbctl stopped. Run SQL through op.execute() or op.get_bind(), not an engine of "
            "its own"
        )

    event.listen(Engine, "do_connect", refuse, insert=True)
    try:
        yield
    finally:
        event.remove(Engine, "do_connect", refuse)


def _task_stack() -> list[traceback.FrameSummary]:
    """The frames of the asyncio task that is running, if any: an async env.py connects
    from a coroutine whose frames are not on the thread's stack."""
    import asyncio

    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return []
    if task is None:
        return []
    return list(traceback.StackSummary.extract((f, f.f_lineno) for f in task.get_stack()))


_ACTIVE: ContextVar[Handoff | None] = ContextVar("dbctl_handoff", default=None)


@contextmanager
def handed_over(settings: Settings, url: str, *, options_ok: bool = True) -> Iterator[Handoff]:
    """The handoff of ``url`` while the block runs: the active one when it is the same
    database (verify-schema's steps nest), else a new one. ``options_ok`` False: the server
    refuses the ``options`` startup parameter (PgBouncer), so no PGOPTIONS."""
    current = _ACTIVE.get()
    if current is not None and current.url == check_url(url):
        yield current
        return
    if current is not None:
        raise AssertionError(f"a handoff of {redact(current.url)} is active: not {redact(url)}")
    made = Handoff(settings, url, read_identity(url))
    made.sends_pgoptions = made.sends_pgoptions and options_ok
    with made.active() as handoff:
        yield handoff
