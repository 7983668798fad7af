"""``dbctl migrate``: Alembic migrations that are safe under concurrent deploys.

Every command runs on one dbctl-owned connection (on the URL's own driver) that is handed
to the project's ``env.py`` through ``config.attributes["connection"]`` (Alembic's "sharing
a connection" recipe); an env.py that opens its own is given the same database every other
way and held to it (``lifecycle.handoff``). dbctl

* takes a session-level advisory lock, waiting at most ``lock_wait`` seconds, so that
  concurrent runs are serialised and each revision is applied exactly once;
* sets ``lock_timeout`` and ``statement_timeout`` on every connection of the run, so that a
  migration that waits on a busy table fails fast instead of queueing all traffic behind it
  (revisions that build indexes ``CONCURRENTLY`` are exempt);
* applies the pending revisions one at a time, each in its own transaction together with
  its checksum in ``dbctl_migrations`` (when env.py migrates on the shared connection), so
  that a failure leaves the database at the last good revision and the error names it;
* reads ``alembic_version`` back on a fresh connection after each step: a revision is
  "applied" only when the database shows it (``NotLanded`` otherwise);
* runs ``[tool.dbctl] baseline`` on an empty database before the first revision.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConfigError, DbctlError, LockTimeout, MigrationFailed, NotLanded
from dbctl.lifecycle import ledger
from dbctl.lifecycle.alembic_project import (
    alembic_config,
    project_relative,
    require_revisions,
    script_directory,
)
from dbctl.lifecycle.handoff import Handoff, handed_over, no_connections
from dbctl.lifecycle.readback import (
    current_heads,
    heads_on_fresh_connection,
    invalid_index_names,
    invalid_indexes,
)
from dbctl.lifecycle.revisions import describe, lineage, upgrade_path
from dbctl.lifecycle.user_code import first_line, frames, raised, user_frame, where
from dbctl.pg.connect import connection_failed, migration_engine
from dbctl.pg.lock import MIGRATION_LOCK_KEY, advisory_lock
from dbctl.pg.url import database_name

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings

Notify = Callable[[str], None]


@dataclass(frozen=True)
class MigrationResult:
    """Where the database stood before and after a migration command."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: tuple[str, ...]  # in the order they ran: upgraded, or downgraded


def _statement(exc: BaseException) -> str:
    statement = " ".join(str(getattr(exc, "statement", "") or "").split())
    return statement if len(statement) <= 200 else statement[:197] + "..."


def _undefined_table(exc: BaseException) -> bool:
    """Whether PostgreSQL said a relation does not exist (SQLSTATE 42P01)."""
    original = getattr(exc, "orig", None)
    return getattr(original, "sqlstate", None) == "42P01" or getattr(original, "pgcode", None) == (
        "42P01"
    )


def _set_timeouts(session: _Session, *, lock_timeout: str, statement_timeout: str) -> None:
    """The timeouts of the next statements, on the shared connection now and on every
    connection the project's code opens or uses (through the handoff)."""
    session.handoff.set_timeouts(lock_timeout=lock_timeout, statement_timeout=statement_timeout)
    session.handoff.apply(session.connection)


class _Session:
    """One migration session: the shared connection, the handoff, Alembic's config and
    script directory."""

    def __init__(self, settings: Settings, connection: Connection, handoff: Handoff) -> None:
        self.settings = settings
        self.connection = connection
        self.handoff = handoff
        self.config = alembic_config(settings, connection, handoff=handoff)
        self.directory = require_revisions(
            script_directory(self.config, settings.project_root), settings
        )
        # --pooler transaction: the migration lock per revision's transaction (a session's
        # lock would stay on a server connection the pool hands to other clients)
        self.per_transaction = settings.pooler == "transaction"

    @property
    def database(self) -> str:
        return database_name(self.handoff.url)

    def run_env(self, direction: str, target: str) -> MigrationContext | None:
        """Run the project's env.py to upgrade (or downgrade) to ``target``, as Alembic's
        ``command.upgrade`` does; returns the context env.py configured (None if none)."""
        from alembic.runtime.environment import EnvironmentContext

        directory = self.directory

        def steps(rev: Any, context: Any) -> Any:
            if direction == "upgrade":
                return directory._upgrade_revs(target, rev)
            return directory._downgrade_revs(target, rev)

        with EnvironmentContext(
            self.config, directory, fn=steps, as_sql=False, destination_rev=target
        ) as environment:
            directory.run_env()
            return getattr(environment, "_migration_context", None)

    def attempt(
        self, direction: str, target: str, *, script: Script | None
    ) -> MigrationContext | None:
        """``run_env`` with the project's errors told as the project's: the revision (or
        env.py) and line that raised, and where the database stays."""
        import sqlalchemy.exc
        from alembic.util import CommandError

        try:
            context = self.run_env(direction, target)
            self.handoff.check()
            return context
        except (Exception, SystemExit) as exc:  # sys.exit() in the project's code included
            self._rollback()
            self.handoff.check()  # a refusal the project's code caught or wrapped is still one
            if isinstance(exc, DbctlError):
                raise
            if isinstance(exc, CommandError):  # Alembic's: an unknown or unreachable target
                raise _unknown_revision(exc, target) from None
            if isinstance(exc, sqlalchemy.exc.DBAPIError) and _connection_lost(exc):
                what = "was interrupted: the server closed the connection"
                raise self._failure(exc, script, f"{what} ({first_line(exc)})") from None
            if isinstance(exc, sqlalchemy.exc.DBAPIError):
                raise self._failure(exc, script, "failed: " + first_line(exc)) from None
            raise self._failure(exc, script, "raised " + raised(exc)) from None

    def _rollback(self) -> None:
        try:
            self.connection.rollback()
        except Exception:  # the connection died with the failure: the reading below says it
            self.connection.invalidate()

    def _failure(self, exc: BaseException, script: Script | None, what: str) -> MigrationFailed:
        """The project's failure, said as its own: the revision (or env.py) and line at
        fault, what it raised, and where the database stays."""
        root = self.settings.project_root
        paths = {Path(s.path).resolve(): s.revision for s in self.directory.walk_revisions()}
        env_py = (Path(self.directory.dir) / "env.py").resolve()
        frame = user_frame(frames(exc), root, [*paths, env_py])
        at = where(frame, root)
        culprit = paths.get(Path(frame.filename).resolve()) if frame is not None else None
        location: tuple[str, int | None] | None = None
        if frame is not None:
            location = (project_relative(self.settings, frame.filename), frame.lineno)
        if culprit is not None:
            who = f"revision {culprit} ({at})"
        elif frame is not None and Path(frame.filename).resolve() == env_py:
            who = f"env.py ({at})"
        elif script is not None:
            path = project_relative(self.settings, script.path)
            who, location = f"revision {script.revision} ({path})", (path, None)
        else:
            who = f"the migration{f' ({at})' if at else ''}"
        message = f"{who} {what}"
        if "lock timeout" in message:
            message += f" (lock_timeout {self.settings.lock_timeout}: a busy table; retry later)"
        statement = _statement(exc)
        if statement:
            message += f"; statement: {statement}"
        try:
            heads = heads_on_fresh_connection(self.handoff.url)
            invalid = invalid_indexes(self.connection) if not _connection_lost(exc) else []
        except Exception:  # the server itself went away: say what is known
            return MigrationFailed(
                f"{message}; the database could not be read afterwards (PostgreSQL rolls "
                "back the revision's transaction: it stays where it was, unless the revision "
                "ran outside one)"
            )
        if invalid:
            message += f"; INVALID index left behind: {', '.join(invalid)} (drop it and retry)"
        message += f"; the database stays at {', '.join(heads) or 'base'}"
        if not heads and _undefined_table(exc) and self.settings.baseline is None:
            message += (
                " (a first revision that alters tables it never creates starts from a "
                "create_all: give the schema it expects with --baseline module:attr)"
            )
        return MigrationFailed(message, location, _sqlstate(exc))

    def landed(
        self, context: MigrationContext | None, expected: set[str], done: str
    ) -> tuple[str, ...]:
        """The heads the database shows after a step; ``NotLanded`` unless they hold every
        ``expected`` revision (or, with ``expected`` empty, none is left)."""
        table = getattr(context, "version_table", "alembic_version")
        schema = getattr(context, "version_table_schema", None)
        heads = heads_on_fresh_connection(self.handoff.url, table, schema)
        if (expected <= set(heads)) if expected else not heads:
            return heads
        shown = ", ".join(heads) or "base"
        reason = "it was not committed"
        if context is not None and context.connection is not self.connection:
            if getattr(context, "_in_external_transaction", False):
                reason = (
                    "env.py's connection was already in a transaction when it called "
                    "context.configure() (a statement ran first), so Alembic left the commit "
                    "to env.py, which never came: run that statement after "
                    "context.begin_transaction(), or commit before configure()"
                )
            else:
                reason = "env.py migrated on a connection of its own and did not commit it"
        raise NotLanded(
            f"{done}, but database {self.database!r} does not show it (alembic_version says "
            f"{shown}): {reason}; dbctl stopped"
        )

    def apply(
        self,
        script: Script,
        notify: Notify | None,
        *,
        before_commit: Callable[[Connection], None] | None = None,
    ) -> bool:
        """Upgrade to ``script`` and record its checksum; one transaction unless autocommit.
        ``before_commit`` sees the shared connection while the revision's transaction is
        still open (its locks held): not called when the revision runs outside one, or on a
        connection env.py opened itself. False when, behind a transaction-mode pooler,
        another deploy applied it while this one waited for the lock."""
        info = describe(script)
        connection = self.connection
        path = project_relative(self.settings, info.path)
        if self.per_transaction and info.autocommit:
            raise MigrationFailed(
                f"revision {script.revision} ({path}) runs outside a transaction "
                "(CONCURRENTLY or an autocommit_block): behind a transaction-mode pooler no "
                "lock can cover it; apply it through a direct connection or a session-mode pool"
            )
        source = _source(info.path)
        left = self.rebuild_invalid(script.revision, source, notify)
        _set_timeouts(
            self,
            lock_timeout="0" if info.autocommit else self.settings.lock_timeout,
            statement_timeout="0" if info.autocommit else self.settings.statement_timeout,
        )
        if not info.autocommit:  # Alembic's autocommit block needs to own the transactions
            connection.begin()
        if self.per_transaction and self._applied_meanwhile(script, notify):
            return False
        context = self.attempt("upgrade", script.revision, script=script)
        shared = context is None or context.connection is connection
        if self.per_transaction:
            self._still_locked(script, path)
        if shared and before_commit is not None and connection.in_transaction():
            before_commit(connection)
        if shared:  # the revision and its checksum commit together
            ledger.record(connection, script.revision, info.checksum, path)
            self.refuse_invalid(f"revision {script.revision} ({path})", source, left)
        if connection.in_transaction():
            connection.commit()
        try:
            self.landed(context, {script.revision}, f"revision {script.revision} ({path}) ran")
        except NotLanded:
            if shared:
                ledger.forget(connection, [script.revision])
                connection.commit()
            raise
        if not shared:
            self.refuse_invalid(f"revision {script.revision} ({path})", source, left)
            ledger.record(connection, script.revision, info.checksum, path)
            connection.commit()
        if notify is not None:
            notify(f"applied {script.revision} ({path})")
        return True

    def xact_lock(self) -> None:
        """The migration lock for the current transaction only (``--pooler transaction``),
        waiting at most ``lock_wait`` seconds."""
        from sqlalchemy import text

        wait = self.settings.lock_wait
        deadline = time.monotonic() + wait
        delay = 0.02
        query = text("SELECT pg_try_advisory_xact_lock(:key)")
        while not self.connection.execute(query, {"key": MIGRATION_LOCK_KEY}).scalar():
            if time.monotonic() >= deadline:
                self._rollback()
                raise LockTimeout(
                    f"another migration held the migration lock for more than {wait:g}s: wait "
                    "for it to end, or raise --lock-wait"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _still_locked(self, script: Script, path: str) -> None:
        """``--pooler transaction``: the revision's transaction must still hold the lock it
        took (a COMMIT in the revision ends it, and its timeouts with it)."""
        from sqlalchemy import text

        held = self.connection.execute(
            text(
                "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND objsubid = 1 "
                "AND classid = ((:key >> 32) & 4294967295)::oid "
                "AND objid = (:key & 4294967295)::oid)"
            ),
            {"key": MIGRATION_LOCK_KEY},
        ).scalar()
        if not held:
            self._rollback()
            heads = heads_on_fresh_connection(self.handoff.url)
            raise MigrationFailed(
                f"revision {script.revision} ({path}) ended its own transaction (a COMMIT in "
                "its upgrade): behind a transaction-mode pooler the migration lock and the "
                "timeouts ended with it, and what ran after it ran without them; the database "
                f"stays at {', '.join(heads) or 'base'}"
            )

    def _applied_meanwhile(self, script: Script, notify: Notify | None) -> bool:
        """Take the transaction's lock; then whether another deploy applied ``script``
        while this one waited (its transaction is then rolled back)."""
        from alembic.runtime.migration import MigrationContext

        self.xact_lock()
        heads = tuple(MigrationContext.configure(self.connection).get_current_heads())
        if script.revision not in lineage(self.directory, heads):
            return False
        self.connection.rollback()
        if notify is not None:
            notify(f"{script.revision} was applied meanwhile by another deploy")
        return True

    def rebuild_invalid(self, revision: str, source: str, notify: Notify | None) -> set[str]:
        """Drop the INVALID indexes an earlier, failed run of this revision left (the ones
        it names and builds ``CONCURRENTLY``), so that it builds them again instead of
        keeping them through ``IF NOT EXISTS``. The INVALID indexes left are returned."""
        connection = self.connection
        left: set[str] = set()
        for shown, own in invalid_index_names(connection):
            if not (_names(source, own) and _CONCURRENTLY.search(source)):
                left.add(shown)
                continue
            level = connection.get_isolation_level()
            if connection.in_transaction():  # the read of the level began one: nothing in it
                connection.commit()
            connection.execution_options(isolation_level="AUTOCOMMIT")
            try:  # the driver reads "%%" as "%" (SQLAlchemy passes it parameters)
                connection.exec_driver_sql(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {shown}".replace("%", "%%")
                )
            finally:
                if connection.in_transaction():  # SQLAlchemy's own, empty in autocommit
                    connection.commit()
                connection.execution_options(isolation_level=level)
            if notify is not None:
                notify(f"dropped the INVALID index {shown} left by an earlier run of {revision}")
        return left

    def refuse_invalid(self, who: str, source: str, before: set[str]) -> None:
        """``MigrationFailed`` when the revision leaves an INVALID index: a new one, or one
        it names. On the shared connection its transaction (the version update) is rolled
        back first, so it is not applied."""
        connection = self.connection
        shared = connection.in_transaction()
        invalid = [
            shown
            for shown, own in invalid_index_names(connection, commit=not shared)
            if shown not in before or _names(source, own)
        ]
        if not invalid:
            return
        if shared:
            connection.rollback()
        heads = heads_on_fresh_connection(self.handoff.url)
        shown = ", ".join(invalid)
        raise MigrationFailed(
            f"{who} ran, but index {shown} is INVALID (a CREATE INDEX CONCURRENTLY that "
            f"failed, or one kept by IF NOT EXISTS): drop it (DROP INDEX CONCURRENTLY "
            f"{invalid[0]}) and migrate again; the database stays at {', '.join(heads) or 'base'}"
        )

    def run_baseline(self, before: tuple[str, ...], notify: Notify | None) -> None:
        """``[tool.dbctl] baseline`` on an empty database, before the first revision."""
        from dbctl.lifecycle.baseline import has_tables, is_empty, run_baseline

        if self.settings.baseline is None or before:
            return
        if not is_empty(self.connection):
            if notify is not None:
                notify(f"baseline {self.settings.baseline} left out: the database has tables")
            return

        def locked(connection: Connection) -> bool:  # another deploy may have made it since
            self.xact_lock()
            return not has_tables(connection)

        made = run_baseline(
            self.settings, self.connection, guard=locked if self.per_transaction else None
        )
        self.handoff.check()  # a refusal the baseline swallowed stops the run here
        if notify is not None:
            notify(
                f"created the baseline {self.settings.baseline}"
                if made
                else f"baseline {self.settings.baseline} was created meanwhile by another deploy"
            )

    def known(self, heads: tuple[str, ...]) -> tuple[str, ...]:
        """``heads``, once every one is a revision of the project's folder."""
        defined = {script.revision for script in self.directory.walk_revisions()}
        unknown = [rev for rev in heads if rev not in defined]
        if unknown:
            raise MigrationFailed(
                f"database {self.database!r} is at revision {', '.join(unknown)}, which no "
                f"file in {project_relative(self.settings, self.directory.dir)} defines: "
                "check out the code that applied it (or the right --migrations)"
            )
        return heads

    def adopt_unrecorded(self, heads: tuple[str, ...]) -> None:
        """Record revisions applied before dbctl managed this database."""
        if self.per_transaction:
            self.xact_lock()
        recorded = ledger.read(self.connection)
        for revision in lineage(self.directory, heads):
            if revision not in recorded:
                script = self.directory.get_revision(revision)
                if script is None:
                    continue
                info = describe(script)
                path = project_relative(self.settings, info.path)
                ledger.record(self.connection, revision, info.checksum, path, adopted=True)
        self.connection.commit()


@contextmanager
def migration_session(
    settings: Settings, url: str, *, notify: Notify | None, lock: bool = True
) -> Iterator[_Session]:
    import sqlalchemy.exc

    per_transaction = settings.pooler == "transaction"
    pooling = _probe(url) if lock else Pooling(transaction=False, options=True)
    if pooling.transaction and not per_transaction:
        raise ConfigError(
            f"the connection to {database_name(url)!r} goes through a transaction-mode "
            f"pooler (PgBouncer?): backend {pooling.pid} served another client after this "
            "one's transaction, so the migration lock and timeouts would not hold; migrate "
            "through a direct connection or a session-mode pool (dbctl migrate also takes "
            "--pooler transaction)"
        )
    with handed_over(settings, url, options_ok=pooling.options) as handoff:
        engine = migration_engine(url, prepared=not per_transaction)
        try:
            try:
                connection = engine.connect()
            except sqlalchemy.exc.OperationalError as exc:
                raise connection_failed(url, exc) from None
            with connection:
                session = _Session(settings, connection, handoff)
                if not lock or per_transaction:
                    yield session
                    return
                with advisory_lock(connection, wait=settings.lock_wait, notify=notify):
                    yield session
        except sqlalchemy.exc.DBAPIError as exc:  # dbctl's own statements: the lock, ledger
            raise MigrationFailed(
                f"the migration session on {database_name(url)!r} failed: {first_line(exc)}"
            ) from None
        finally:
            engine.dispose()


@dataclass(frozen=True, slots=True)
class Pooling:
    """What the server at a URL is, as far as a migration cares: behind a transaction-mode
    pooler (``pid``: the backend that served another client next), and whether it takes
    the ``options`` startup parameter (PgBouncer refuses it: then no PGOPTIONS)."""

    transaction: bool
    options: bool
    pid: int | None = None


_PROBED: dict[str, Pooling] = {}
PROBES = 3  # tries of the probe: one that a busy pool hides is caught by another


def _probe(url: str) -> Pooling:
    """Before anything is set on any session: a transaction-mode pooler is seen when, once
    this client's transaction ends, another client is served by the same backend (PgBouncer
    hands out the most recent idle server connection) or this client by another one. On a
    direct connection or a session-mode pool neither can happen. Once per URL and process
    (verify-schema's round trip opens a session per revision)."""
    found = _PROBED.get(url)
    if found is None:
        found = _PROBED[url] = _probed(url)
    return found


def _probed(url: str) -> Pooling:
    import psycopg

    from dbctl.pg.connect import connect
    from dbctl.pg.url import libpq_url

    query = "SELECT pg_backend_pid()"
    pooled = False
    with connect(url, autocommit=True) as first:
        before = _pid(first.execute(query).fetchone())
        for _ in range(PROBES):  # under load another client may take the backend first
            with connect(url, autocommit=True) as second:
                other = _pid(second.execute(query).fetchone())
            after = _pid(first.execute(query).fetchone())
            pooled = other == before or after != before
            if pooled:
                break
    options = True
    try:
        with psycopg.connect(libpq_url(url), options="-c lock_timeout=0", connect_timeout=10):
            pass
    except psycopg.OperationalError as exc:
        if "unsupported startup parameter" not in str(exc):
            raise connection_failed(url, exc) from None
        options = False
    return Pooling(transaction=pooled, options=options, pid=before)


def _pid(row: Any) -> int | None:
    return int(row[0]) if row else None


def _sqlstate(exc: BaseException) -> str | None:
    original = getattr(exc, "orig", None) or exc
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(state) if state else None


def _connection_lost(exc: BaseException) -> bool:
    """Whether the server ended the session (shutdown, terminate, crash, network): SQLSTATE
    class 08 or 57P0x, or a connection SQLAlchemy found invalidated."""
    if getattr(exc, "connection_invalidated", False):
        return True
    original = getattr(exc, "orig", None)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or ""
    return state.startswith(("08", "57P0"))


_CONCURRENTLY = re.compile(r"concurrently", re.IGNORECASE)


def _names(source: str, name: str) -> bool:
    """Whether a revision's source names ``name`` (as a whole word, in any case)."""
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", source, re.IGNORECASE) is not None


def _source(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _unknown_revision(exc: BaseException, target: str) -> MigrationFailed:
    return MigrationFailed(f"cannot migrate to {target!r}: {exc}")


def upgrade(
    settings: Settings, url: str, *, revision: str = "head", notify: Notify | None = None
) -> MigrationResult:
    """Upgrade the database at ``url`` to ``revision`` (default: every head)."""
    from alembic.util import CommandError

    with migration_session(settings, url, notify=notify) as session:
        before = session.known(current_heads(session.connection))
        session.adopt_unrecorded(before)
        heads = sorted(session.directory.get_heads())
        if revision == "head" and len(heads) > 1:
            raise MigrationFailed(
                f"cannot migrate to 'head': the migrations have {len(heads)} heads "
                f"({', '.join(heads)}); merge them with 'alembic merge heads', or use --to heads"
            )
        try:
            steps = upgrade_path(session.directory, before, revision)
        except CommandError as exc:
            raise _unknown_revision(exc, revision) from None
        if steps:
            session.run_baseline(before, notify)
        applied = [script.revision for script in steps if session.apply(script, notify)]
        after = current_heads(session.connection)
    return MigrationResult(before, after, tuple(applied))


def alembic_upgrade(settings: Settings, url: str, *, revision: str = "head") -> MigrationResult:
    """``alembic upgrade`` as a plain deploy runs it (its env.py runs even with nothing to do).

    verify-schema uses it to check that a second upgrade is a no-op.
    """
    with migration_session(settings, url, notify=None) as session:
        before = current_heads(session.connection)
        _set_timeouts(
            session,
            lock_timeout=settings.lock_timeout,
            statement_timeout=settings.statement_timeout,
        )
        session.attempt("upgrade", revision, script=None)
        if session.connection.in_transaction():
            session.connection.commit()
        after = heads_on_fresh_connection(url)
        known = {script.revision for script in session.directory.walk_revisions()}
        unknown = [rev for rev in after if rev not in known]
        if unknown:
            raise MigrationFailed(
                f"the upgrade left the database at {', '.join(unknown)}, which no revision in "
                f"{project_relative(settings, session.directory.dir)} defines: env.py takes "
                "its revisions from elsewhere (version_locations); point --migrations there"
            )
        applied = [
            r
            for r in lineage(session.directory, after)
            if r not in set(lineage(session.directory, before))
        ]
    return MigrationResult(before, after, tuple(applied))


def downgrade(
    settings: Settings, url: str, *, revision: str, notify: Notify | None = None
) -> MigrationResult:
    """Downgrade the database at ``url`` to ``revision`` (``base`` for an empty schema)."""
    if settings.pooler == "transaction":
        raise ConfigError(
            "migrate down runs under the session's migration lock, which a transaction-mode "
            "pooler does not hold: run it through a direct connection or a session-mode pool"
        )
    with migration_session(settings, url, notify=notify) as session:
        connection = session.connection
        before = session.known(current_heads(connection))
        if not before and revision != "base":
            raise MigrationFailed(
                f"the database is at base: there is nothing to downgrade to {revision!r}"
            )
        _set_timeouts(
            session,
            lock_timeout=settings.lock_timeout,
            statement_timeout=settings.statement_timeout,
        )
        context = session.attempt("downgrade", revision, script=None)
        if connection.in_transaction():
            connection.commit()
        after = heads_on_fresh_connection(
            url,
            getattr(context, "version_table", "alembic_version"),
            getattr(context, "version_table_schema", None),
        )
        if after == before and before:  # nothing moved: was there anything to do?
            current: Any = before  # Alembic takes the heads as its context gives them
            if session.directory._downgrade_revs(revision, current):
                session.landed(context, set(), f"the downgrade to {revision} ran")
        old, new = lineage(session.directory, before), lineage(session.directory, after)
        reverted = [rev for rev in old[::-1] if rev not in set(new)]
        ledger.forget(connection, reverted)
        connection.commit()
    if notify is not None:
        for rev in reverted:
            notify(f"reverted {rev}")
    return MigrationResult(before, after, tuple(reverted))


def _postgres_url(url: str | None) -> bool:
    """Whether SQLAlchemy reads ``url`` as a PostgreSQL URL (offline mode only needs its
    dialect: anything else, Alembic's ``driver://`` template or mlflow's ``""``, gets
    PostgreSQL's, the only one dbctl migrates)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url:
        return False
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except ArgumentError:
        return False


def offline_sql(settings: Settings, *, start: str | None, end: str = "head") -> str:
    """The SQL an upgrade from ``start`` (default: base) to ``end`` would run, without a DB."""
    from alembic import command
    from alembic.util import CommandError

    buffer = io.StringIO()
    config = alembic_config(settings, output=buffer)
    if not _postgres_url(config.get_main_option("sqlalchemy.url")):  # none, '""', driver://
        config.set_main_option("sqlalchemy.url", "postgresql+psycopg://offline/offline")
    span = f"{start}:{end}" if start else end
    try:
        with no_connections(settings):
            command.upgrade(config, span, sql=True)
    except CommandError as exc:
        raise _unknown_revision(exc, span) from None
    return buffer.getvalue()
