"""The ``env.py`` shapes of real Alembic projects, for the safety tests of issue 10.

Each is what a project writes, not what dbctl documents: most never look at
``config.attributes["connection"]``. dbctl must run each one on the database it was given
or refuse before a statement reaches any other.
"""

from __future__ import annotations

# Alembic's "sharing a connection" recipe, dbctl's documented shape.
SHARED = """
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

config = context.config


def run(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
    with engine.connect() as connection:
        run(connection)
"""

# The FastAPI templates: its own engine from the environment, attributes never read.
OWN_ENGINE_FROM_DATABASE_URL = """
import os

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config

if context.is_offline_mode():
    context.configure(url=os.environ["DATABASE_URL"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
"""

# Alembic's generic template: engine_from_config over sqlalchemy.url.
STOCK_TEMPLATE = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
"""

# Takes the shared connection, then migrates on a second one of the same engine.
SECOND_CONNECTION = """
from alembic import context

config = context.config
shared = config.attributes["connection"]
with shared.engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

# A statement before configure(): SQLAlchemy autobegins, Alembic then takes the
# transaction for the caller's and never commits it; the connection closes: rolled back.
QUERY_BEFORE_BEGIN = """
from alembic import context
from sqlalchemy import engine_from_config, pool, text

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}),
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    connection.execute(text("SELECT 1"))
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

# The shared connection with a statement first: fine, dbctl owns that transaction.
SHARED_QUERY_FIRST = """
from alembic import context
from sqlalchemy import text

config = context.config
connection = config.attributes["connection"]
connection.execute(text("SELECT 1"))
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""

# Alembic's async template (asyncpg); it never reads the attributes either.
ASYNC = """
import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import async_engine_from_config

config = context.config


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    connectable = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
"""

# A URL written into env.py: nothing dbctl hands over can redirect it.
HARDCODED_TEMPLATE = """
from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
connectable = create_engine({url!r}, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def hardcoded(url: str) -> str:
    return HARDCODED_TEMPLATE.format(url=url)
