"""How the project's env.py gets the database dbctl names, and how dbctl holds it there.

An ``env.py`` is the project's code. Some use the connection dbctl passes in
``config.attributes["connection"]``; most build an engine of their own, from
``sqlalchemy.url``, from ``DATABASE_URL``, from a settings object that reads
``POSTGRES_SERVER`` and friends. dbctl cannot choose for them, so while the project's code
runs (``Handoff.active``) it

* hands its database over every way projects read one: the shared connection, the
  ``sqlalchemy.url`` option (with the URL's own driver), and the variables of
  ``[tool.dbctl] url_env`` in the environment (``DATABASE_URL`` by default; ``NAME=template``
  fills in ``{host}``, ``{port}``, ``{user}``, ``{password}``, ``{database}``, ``{url}``);
* puts the migration's ``lock_timeout`` and ``statement_timeout`` in ``PGOPTIONS`` (libpq
  connections of any kind) and sets them on every connection any SQLAlchemy engine opens;
* checks every connection any SQLAlchemy engine opens, before the project can send a
  statement on it: its database must be the one dbctl names (same server start time, port,
  database oid and name); any other is closed and the run stops with ``ForeignDatabase``,
  naming the line of the project's code that connected and the fix.

What it cannot see (a raw driver connection, a subprocess) is caught after the fact: the
migration reads ``alembic_version`` back on a fresh connection after every step
(``NotLanded``) and stops before anything destructive.
"""

from __future__ import annotations

import os
import re
import string
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from dbctl.errors import ConfigError, ForeignDatabase
from dbctl.lifecycle.user_code import user_frame, where
from dbctl.pg.connect import TAG, connect, is_internal
from dbctl.pg.url import check_url, database_name, redact, sqlalchemy_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings

_IDENTITY = (
    f"{TAG} SELECT current_database()::text, d.oid::bigint, current_setting('port'), "
    "pg_postmaster_start_time()::text{more} "
    "FROM pg_database d WHERE d.datname = current_database()"
)
_DURATION = re.compile(r"\d+(\.\d+)?(us|ms|s|min|h|d)?")
_TEMPLATE_FIELDS = {"url", "host", "port", "user", "password", "database"}


def duration(value: str, name: str) -> str:
    """``value`` as a PostgreSQL duration (``5s``, ``300ms``, ``0``), else a ConfigError."""
    text = "".join(str(value).split())
    if not _DURATION.fullmatch(text):
        raise ConfigError(
            f"{name} = {value!r} is not a PostgreSQL duration (e.g. '5s', '300ms', '2min', '0')"
        )
    return text


@dataclass(frozen=True)
class Identity:
    """What tells one database from every other: its server (start time and port) and its
    oid and name there. Read with a query, so that host aliases and sockets do not matter."""

    database: str
    oid: int
    port: str
    started: str

    def describe(self) -> str:
        return f"database {self.database!r} (port {self.port})"


def read_identity(url: str) -> Identity:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(_IDENTITY.format(more="")).fetchone()
    assert row is not None
    return Identity(str(row[0]), int(str(row[1])), str(row[2]), str(row[3]))


def url_parts(url: str) -> dict[str, str]:
    """The fields a ``url_env`` template may use."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return {
        "url": url,
        "host": parts.hostname or query.get("host", ["localhost"])[0],
        "port": str(parts.port or query.get("port", ["5432"])[0]),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": database_name(url),
    }


def environment(settings: Settings, url: str) -> dict[str, str]:
    """The variables ``url_env`` asks for, filled in for the database at ``url``."""
    values = url_parts(url)
    found: dict[str, str] = {}
    for entry in settings.url_env:
        name, has_template, template = entry.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise ConfigError(f"url_env entry {entry!r}: give NAME or NAME=template")
        if not has_template:
            found[name] = url
            continue
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        unknown = fields - _TEMPLATE_FIELDS
        if unknown:
            raise ConfigError(
                f"url_env entry {name}: unknown field {{{sorted(unknown)[0]}}} "
                f"(use {', '.join('{' + f + '}' for f in sorted(_TEMPLATE_FIELDS))})"
            )
        found[name] = template.format(**values)
    return found


class Handoff:
    """The database dbctl names, handed to the project's code and held to it."""

    def __init__(self, settings: Settings, url: str, identity: Identity) -> None:
        self.settings = settings
        self.url = check_url(url)
        self.identity = identity
        self.lock_timeout = duration(settings.lock_timeout, "lock_timeout")
        self.statement_timeout = duration(settings.statement_timeout, "statement_timeout")
        self.variables = environment(settings, self.url)
        self._saved: dict[str, str | None] = {}
        # Threads that ran before the handoff (a server the process also hosts, a test's
        # live app) are not the project's migration: their connections are left alone.
        # Threads the project's code starts during the run are checked like the caller.
        self._bystanders: set[threading.Thread] = set()
        self._refused: ForeignDatabase | None = None

    @property
    def sqlalchemy_url(self) -> str:
        """What ``sqlalchemy.url`` says to env.py: the URL with its own driver."""
        return sqlalchemy_url(self.url)

    def set_timeouts(self, *, lock_timeout: str, statement_timeout: str) -> None:
        """The timeouts of the next statements, on every connection the project opens."""
        self.lock_timeout = duration(lock_timeout, "lock_timeout")
        self.statement_timeout = duration(statement_timeout, "statement_timeout")
        if self._saved:
            os.environ["PGOPTIONS"] = self._pgoptions()

    def _pgoptions(self) -> str:
        own = self._saved.get("PGOPTIONS") or ""
        ours = f"-c lock_timeout={self.lock_timeout} -c statement_timeout={self.statement_timeout}"
        return f"{own} {ours}".strip()

    @contextmanager
    def active(self) -> Iterator[Handoff]:
        """Install the variables and the connection check while the project's code runs."""
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        token = _ACTIVE.set(self)
        self._bystanders = set(threading.enumerate()) - {threading.current_thread()}
        for name in [*self.variables, "PGOPTIONS"]:
            self._saved[name] = os.environ.get(name)
        os.environ.update(self.variables)
        os.environ["PGOPTIONS"] = self._pgoptions()
        event.listen(Engine, "engine_connect", self._check_connection)
        try:
            yield self
        finally:
            event.remove(Engine, "engine_connect", self._check_connection)
            for name, value in self._saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved = {}
            self._bystanders = set()
            _ACTIVE.reset(token)

    def _check_connection(self, connection: Connection) -> None:
        """engine_connect, for every engine: the database must be ours; then the timeouts.

        Runs before the project's code gets the connection; one round trip per new
        DBAPI connection (a pooled one is checked once, again only when timeouts change).
        """
        if is_internal(connection.engine) or threading.current_thread() in self._bystanders:
            return
        state = (id(self), self.lock_timeout, self.statement_timeout)
        pooled = connection.connection
        if pooled.info.get("dbctl_handoff") == state:
            return
        dbapi: Any = pooled.dbapi_connection
        cursor = dbapi.cursor()
        try:
            # The durations are checked (digits and a unit): safe to write in the SQL,
            # whatever the driver's parameter style.
            timeouts = (
                f", set_config('lock_timeout', '{self.lock_timeout}', false)"
                f", set_config('statement_timeout', '{self.statement_timeout}', false)"
            )
            cursor.execute(_IDENTITY.format(more=timeouts))
            row = cursor.fetchone()
        finally:
            cursor.close()
        found = Identity(str(row[0]), int(row[1]), str(row[2]), str(row[3])) if row else None
        if found != self.identity:
            dbapi.rollback()
            connection.invalidate()
            refused = self._foreign(connection, found)
            self._refused = self._refused or refused
            raise refused
        dbapi.commit()  # set_config(..., false) lasts for the session once committed
        pooled.info["dbctl_handoff"] = state

    def check(self) -> None:
        """Raise the first refusal of the run, even when the project's code swallowed it
        (a ``try`` around its connect, a thread of its own)."""
        if self._refused is not None:
            raise self._refused

    def _foreign(self, connection: Connection, found: Identity | None) -> ForeignDatabase:
        root = self.settings.project_root
        stack = traceback.extract_stack()[:-2]
        env_py = [Path(frame.filename) for frame in stack if Path(frame.filename).name == "env.py"]
        frame = user_frame(stack, root, env_py)
        at = where(frame, root)
        engine_url = connection.engine.url.render_as_string(hide_password=True)
        what = found.describe() if found is not None else "another database"
        variables = ", ".join(sorted(self.variables)) or "none"
        return ForeignDatabase(
            f"the project's code{f' at {at}' if at else ''} connected to {what} through "
            f"{redact(engine_url)}, not to the {self.identity.describe()} dbctl was given: "
            "nothing was run there, and dbctl stopped. Make env.py use "
            "config.attributes['connection'] when it is set (Alembic's connection-sharing "
            "recipe) or the sqlalchemy.url option, or add the variable it reads to "
            f"[tool.dbctl] url_env (now: {variables})"
        )


_ACTIVE: ContextVar[Handoff | None] = ContextVar("dbctl_handoff", default=None)


@contextmanager
def handed_over(settings: Settings, url: str) -> Iterator[Handoff]:
    """The handoff of ``url`` while the block runs: the active one when it is the same
    database (verify-schema's steps nest), else a new one."""
    current = _ACTIVE.get()
    if current is not None and current.url == check_url(url):
        yield current
        return
    if current is not None:
        raise AssertionError(f"a handoff of {redact(current.url)} is active: not {redact(url)}")
    with Handoff(settings, url, read_identity(url)).active() as handoff:
        yield handoff
