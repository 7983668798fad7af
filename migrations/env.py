"""Alembic environment of the companion service.

The metadata is ``service.db.Base.metadata``. The database comes from, in order:

1. an open connection in ``config.attributes["connection"]`` (what ``dbctl migrate`` passes,
   Alembic's "sharing a connection" recipe): used as is; dbctl owns it and its commit;
2. ``sqlalchemy.url`` of the Alembic config, when the caller set one;
3. the service settings: ``DATABASE_URL``, else the running dbctl sandbox.

Offline mode (``alembic upgrade --sql``) renders PostgreSQL SQL without any database.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from dbctl.alembic import include_name
from dbctl.pg.url import normalize_url
from service.db import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return normalize_url(url)
    from service.settings import ServiceSettings, resolve_database_url

    return resolve_database_url(ServiceSettings())


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_name=include_name,  # autogenerate leaves dbctl's dbctl_migrations alone
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    # Rendering SQL needs only the dialect: no database is looked for.
    url = config.get_main_option("sqlalchemy.url")
    target = {"url": normalize_url(url)} if url else {"dialect_name": "postgresql"}
    configure(literal_binds=True, dialect_opts={"paramstyle": "named"}, **target)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        run_migrations_on(shared)
        return
    engine = create_engine(database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            run_migrations_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
