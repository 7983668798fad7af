"""The baseline: what some projects create before their first revision.

Projects that began with ``metadata.create_all()`` and only later adopted Alembic often
have a first revision that alters tables it never created. On an empty database (a new
environment, verify-schema's shadow) that chain cannot run alone. ``[tool.dbctl] baseline``
(or ``--baseline``) names what creates the starting schema, as ``module:attr``:

* a function, called with a SQLAlchemy ``Connection`` inside a transaction dbctl commits;
* a ``MetaData`` (or a declarative base), created with ``create_all``.

It runs only on an empty database (no table outside the system schemas), before the first
revision; on a database that already holds tables it is left out, and the command says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConfigError, MigrationFailed
from dbctl.lifecycle.user_code import frames, import_object, raised, user_frame, where

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings

_USER_TABLES = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND c.relname NOT IN ('alembic_version', 'dbctl_migrations')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
"""


def is_empty(connection: Connection) -> bool:
    """Whether the database holds no table, view or materialized view of its own."""
    from sqlalchemy import text

    count = connection.execute(text(_USER_TABLES)).scalar()
    if connection.in_transaction():
        connection.commit()
    return not count


def _runner(settings: Settings) -> Any:
    from sqlalchemy import MetaData

    spec = settings.baseline
    assert spec is not None
    target = import_object(spec, settings.project_root, "baseline")
    if not isinstance(target, MetaData):
        target = getattr(target, "metadata", target) if isinstance(target, type) else target
    if isinstance(target, MetaData):
        return target.create_all
    if callable(target):
        return target
    raise ConfigError(
        f"baseline {spec!r} is a {type(target).__name__}: give a function that takes a "
        "SQLAlchemy Connection, or a MetaData"
    )


def has_tables(connection: Connection) -> bool:
    """Whether the database holds a table of its own (in the current transaction)."""
    from sqlalchemy import text

    return bool(connection.execute(text(_USER_TABLES)).scalar())


def run_baseline(
    settings: Settings,
    connection: Connection,
    *,
    guard: Callable[[Connection], bool] | None = None,
) -> bool:
    """Create the baseline on ``connection`` (an empty database), committed. ``guard`` runs
    first in the same transaction (behind a transaction-mode pooler: the migration lock,
    then the database checked again): False leaves the baseline out."""
    run = _runner(settings)
    import sqlalchemy.exc

    try:
        with connection.begin():
            if guard is not None and not guard(connection):
                return False
            run(connection)
    except sqlalchemy.exc.DBAPIError as exc:
        raise MigrationFailed(
            f"the baseline {settings.baseline} failed: {raised(exc)}; the database stays empty"
        ) from None
    except (Exception, SystemExit) as exc:
        at = where(user_frame(frames(exc), settings.project_root), settings.project_root)
        raise MigrationFailed(
            f"the baseline {settings.baseline}{f' ({at})' if at else ''} raised {raised(exc)}; "
            "the database stays empty"
        ) from None
    return True
