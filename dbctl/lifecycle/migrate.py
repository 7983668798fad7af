"""``dbctl migrate``: Alembic migrations that are safe under concurrent deploys.

Every command runs on one dbctl-owned connection that is handed to the project's
``env.py`` through ``config.attributes["connection"]`` (Alembic's "sharing a connection"
recipe). On that session dbctl

* takes a session-level advisory lock, waiting at most ``lock_wait`` seconds, so that
  concurrent runs are serialised and each revision is applied exactly once;
* sets ``lock_timeout`` and ``statement_timeout``, so that a migration that waits on a busy
  table fails fast instead of queueing all traffic behind it (revisions that build indexes
  ``CONCURRENTLY`` are exempt from ``lock_timeout``);
* applies the pending revisions one at a time, each in its own transaction together with
  its checksum in ``dbctl_migrations``, so that a failure leaves the database at the last
  good revision and the error names the revision that failed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dbctl.errors import ConfigError, MigrationFailed
from dbctl.lifecycle import ledger
from dbctl.lifecycle.revisions import describe, lineage, upgrade_path
from dbctl.pg.connect import connection_failed, create_engine
from dbctl.pg.lock import advisory_lock

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings

Notify = Callable[[str], None]


@dataclass(frozen=True)
class MigrationResult:
    """Where the database stood before and after a migration command."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: tuple[str, ...]  # in the order they ran: upgraded, or downgraded


def alembic_config(
    settings: Settings,
    connection: Connection | None = None,
    *,
    output: io.StringIO | None = None,
) -> Config:
    """An Alembic Config for the project: its alembic.ini if any, dbctl's migrations folder."""
    from alembic.config import Config

    folder = settings.migrations_dir
    if not (folder / "env.py").is_file():
        raise ConfigError(
            f"no Alembic env.py in {folder}: set --migrations, DBCTL_MIGRATIONS or "
            "[tool.dbctl] migrations to the folder that holds env.py and versions/"
        )
    ini = settings.project_root / "alembic.ini"
    config = Config(str(ini) if ini.is_file() else None, output_buffer=output)
    config.set_main_option("script_location", str(folder))
    if not config.get_main_option("path_separator"):
        config.set_main_option("path_separator", "os")
    config.set_main_option("prepend_sys_path", str(settings.project_root))
    if connection is not None:
        config.attributes["connection"] = connection
    # Projects' env.py usually calls logging.config.fileConfig(); dbctl owns the output.
    config.attributes["configure_logger"] = False
    return config


def script_directory(config: Config) -> ScriptDirectory:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(config)
    except CommandError as exc:
        raise ConfigError(f"cannot read the migrations: {exc}") from None


def current_heads(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    if connection.in_transaction():
        connection.commit()
    return tuple(sorted(heads))


def _set_timeouts(connection: Connection, *, lock_timeout: str, statement_timeout: str) -> None:
    import sqlalchemy.exc
    from sqlalchemy import text

    for name, value in (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)):
        try:
            connection.execute(
                text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
            )
        except sqlalchemy.exc.DBAPIError:
            connection.rollback()
            raise ConfigError(
                f"{name} = {value!r} is not a PostgreSQL duration (e.g. '5s', '2min', '0')"
            ) from None
    connection.commit()


def project_relative(settings: Settings, path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(settings.project_root))
    except ValueError:
        return path


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def _statement(exc: BaseException) -> str:
    statement = " ".join(str(getattr(exc, "statement", "") or "").split())
    return statement if len(statement) <= 200 else statement[:197] + "..."


def invalid_indexes(connection: Connection) -> list[str]:
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "SELECT i.indexrelid::regclass::text FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'pg_toast')"
        )
    )
    names = [row[0] for row in rows]
    connection.commit()
    return names


class _Session:
    """One migration session: connection, Alembic config and script directory."""

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self.settings = settings
        self.connection = connection
        self.config = alembic_config(settings, connection)
        self.directory = script_directory(self.config)

    def apply(self, script: Script, notify: Notify | None) -> None:
        """Upgrade to ``script`` and record its checksum; one transaction unless autocommit."""
        from alembic import command

        info = describe(script)
        connection = self.connection
        path = project_relative(self.settings, info.path)
        _set_timeouts(
            connection,
            lock_timeout="0" if info.autocommit else self.settings.lock_timeout,
            statement_timeout="0" if info.autocommit else self.settings.statement_timeout,
        )
        try:
            if info.autocommit:
                # Alembic's autocommit block needs to own the transactions.
                command.upgrade(self.config, script.revision)
                ledger.record(connection, script.revision, info.checksum, path)
                connection.commit()
            else:
                connection.begin()
                command.upgrade(self.config, script.revision)
                ledger.record(connection, script.revision, info.checksum, path)
                connection.commit()
        except Exception as exc:
            import sqlalchemy.exc

            if not isinstance(exc, sqlalchemy.exc.DBAPIError):
                raise
            connection.rollback()
            self._fail(script, path, exc)
        if notify is not None:
            notify(f"applied {script.revision} ({path})")

    def _fail(self, script: Script, path: str, exc: BaseException) -> None:
        at = ", ".join(current_heads(self.connection)) or "base"
        message = f"revision {script.revision} ({path}) failed: {_first_line(exc)}"
        if "lock timeout" in message:
            message += f" (lock_timeout {self.settings.lock_timeout}: a busy table; retry later)"
        statement = _statement(exc)
        if statement:
            message += f"; statement: {statement}"
        invalid = invalid_indexes(self.connection)
        if invalid:
            message += f"; INVALID index left behind: {', '.join(invalid)} (drop it and retry)"
        raise MigrationFailed(f"{message}; the database stays at {at}")

    def adopt_unrecorded(self, heads: tuple[str, ...]) -> None:
        """Record revisions applied before dbctl managed this database."""
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

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            session = _Session(settings, connection)
            if not lock:
                yield session
                return
            with advisory_lock(connection, wait=settings.lock_wait, notify=notify):
                ledger.ensure(connection)
                connection.commit()
                yield session
    except sqlalchemy.exc.OperationalError as exc:
        raise connection_failed(url, exc) from None
    finally:
        engine.dispose()


def _unknown_revision(exc: BaseException, target: str) -> MigrationFailed:
    return MigrationFailed(f"cannot migrate to {target!r}: {exc}")


def upgrade(
    settings: Settings, url: str, *, revision: str = "head", notify: Notify | None = None
) -> MigrationResult:
    """Upgrade the database at ``url`` to ``revision`` (default: every head)."""
    from alembic.util import CommandError

    with migration_session(settings, url, notify=notify) as session:
        before = current_heads(session.connection)
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
        for script in steps:
            session.apply(script, notify)
        after = current_heads(session.connection)
    return MigrationResult(before, after, tuple(script.revision for script in steps))


def alembic_upgrade(settings: Settings, url: str, *, revision: str = "head") -> MigrationResult:
    """``alembic upgrade`` as a plain deploy runs it (its env.py runs even with nothing to do).

    verify-schema uses it to check that a second upgrade is a no-op.
    """
    from alembic import command

    with migration_session(settings, url, notify=None) as session:
        before = current_heads(session.connection)
        command.upgrade(session.config, revision)
        if session.connection.in_transaction():
            session.connection.commit()
        after = current_heads(session.connection)
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
    import sqlalchemy.exc
    from alembic import command
    from alembic.util import CommandError

    with migration_session(settings, url, notify=notify) as session:
        connection = session.connection
        before = current_heads(connection)
        _set_timeouts(
            connection,
            lock_timeout=settings.lock_timeout,
            statement_timeout=settings.statement_timeout,
        )
        try:
            command.downgrade(session.config, revision)
        except CommandError as exc:
            raise _unknown_revision(exc, revision) from None
        except sqlalchemy.exc.DBAPIError as exc:
            connection.rollback()
            at = ", ".join(current_heads(connection)) or "base"
            raise MigrationFailed(
                f"downgrade to {revision} failed: {_first_line(exc)}; the database stays at {at}"
            ) from None
        if connection.in_transaction():
            connection.commit()
        after = current_heads(connection)
        old, new = lineage(session.directory, before), lineage(session.directory, after)
        reverted = [rev for rev in old[::-1] if rev not in set(new)]
        ledger.forget(connection, reverted)
        connection.commit()
    if notify is not None:
        for rev in reverted:
            notify(f"reverted {rev}")
    return MigrationResult(before, after, tuple(reverted))


def offline_sql(settings: Settings, *, start: str | None, end: str = "head") -> str:
    """The SQL an upgrade from ``start`` (default: base) to ``end`` would run, without a DB."""
    from alembic import command
    from alembic.util import CommandError

    buffer = io.StringIO()
    config = alembic_config(settings, output=buffer)
    if not config.get_main_option("sqlalchemy.url"):
        config.set_main_option("sqlalchemy.url", "postgresql+psycopg://offline/offline")
    span = f"{start}:{end}" if start else end
    try:
        command.upgrade(config, span, sql=True)
    except CommandError as exc:
        raise _unknown_revision(exc, span) from None
    return buffer.getvalue()
