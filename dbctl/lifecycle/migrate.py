"""``dbctl migrate``: Alembic upgrades run on one dbctl-owned connection.

dbctl hands its connection to the project's ``env.py`` through
``config.attributes["connection"]`` (Alembic's "sharing a connection" recipe), so that
everything a migration does happens in the session dbctl set up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbctl.errors import ConfigError, MigrationFailed
from dbctl.pg.connect import connection_failed, create_engine

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings

Notify = Callable[[str], None]


@dataclass(frozen=True)
class MigrationResult:
    """Where the database stood before and after a migration command."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: tuple[str, ...]  # in the order they ran: upgraded, or downgraded


def alembic_config(settings: Settings, connection: Connection | None = None) -> Config:
    """An Alembic Config for the project: its alembic.ini if any, dbctl's migrations folder."""
    from alembic.config import Config

    folder = settings.migrations_dir
    if not (folder / "env.py").is_file():
        raise ConfigError(
            f"no Alembic env.py in {folder}: set --migrations, DBCTL_MIGRATIONS or "
            "[tool.dbctl] migrations to the folder that holds env.py and versions/"
        )
    ini = settings.project_root / "alembic.ini"
    config = Config(str(ini) if ini.is_file() else None)
    config.set_main_option("script_location", str(folder))
    config.set_main_option("prepend_sys_path", str(settings.project_root))
    if connection is not None:
        config.attributes["connection"] = connection
    # Projects' env.py usually calls logging.config.fileConfig(); dbctl owns the output.
    config.attributes["configure_logger"] = False
    return config


def current_heads(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    if connection.in_transaction():
        connection.commit()
    return tuple(sorted(heads))


def _lineage(config: Config, heads: tuple[str, ...]) -> list[str]:
    """Every revision at or below ``heads``, the oldest first."""
    from alembic.script import ScriptDirectory

    if not heads:
        return []
    script = ScriptDirectory.from_config(config)
    revisions = script.iterate_revisions(heads, "base")
    return [rev.revision for rev in revisions if rev is not None][::-1]


def _changed(config: Config, before: tuple[str, ...], after: tuple[str, ...]) -> tuple[str, ...]:
    """The revisions applied (upgrade) or reverted (downgrade) between two states."""
    old, new = _lineage(config, before), _lineage(config, after)
    if set(new) >= set(old):
        return tuple(rev for rev in new if rev not in set(old))
    return tuple(rev for rev in old[::-1] if rev not in set(new))


def _run(
    settings: Settings,
    url: str,
    *,
    action: Callable[[Config], None],
    target: str,
    notify: Notify | None,
) -> MigrationResult:
    """Run one Alembic command on a dbctl connection; turn its failures into one line."""
    import sqlalchemy.exc
    from alembic.util import CommandError

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            config = alembic_config(settings, connection)
            before = current_heads(connection)
            try:
                action(config)
            except CommandError as exc:
                raise MigrationFailed(f"cannot migrate to {target!r}: {exc}") from None
            except sqlalchemy.exc.DBAPIError as exc:
                if connection.in_transaction():
                    connection.rollback()
                now = current_heads(connection)
                raise MigrationFailed(
                    f"migration failed after {', '.join(now) or 'base'}: "
                    f"{str(exc.orig).strip().splitlines()[0]}"
                ) from None
            if connection.in_transaction():
                connection.commit()
            after = current_heads(connection)
    except sqlalchemy.exc.OperationalError as exc:
        raise connection_failed(url, exc) from None
    finally:
        engine.dispose()
    applied = _changed(config, before, after) if before != after else ()
    if notify is not None:
        for rev in applied:
            notify(f"ran {rev}")
    return MigrationResult(before=before, after=after, applied=applied)


def upgrade(
    settings: Settings, url: str, *, revision: str = "head", notify: Notify | None = None
) -> MigrationResult:
    """Upgrade the database at ``url`` to ``revision`` (default: every head)."""
    from alembic import command

    return _run(
        settings,
        url,
        action=lambda config: command.upgrade(config, revision),
        target=revision,
        notify=notify,
    )


def downgrade(
    settings: Settings, url: str, *, revision: str, notify: Notify | None = None
) -> MigrationResult:
    """Downgrade the database at ``url`` to ``revision`` (``base`` for an empty schema)."""
    from alembic import command

    return _run(
        settings,
        url,
        action=lambda config: command.downgrade(config, revision),
        target=revision,
        notify=notify,
    )
