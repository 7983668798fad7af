"""What a database shows of its migrations: its revisions (on dbctl's connection, or on a
fresh one, where nothing uncommitted counts), INVALID indexes left by a failed build, and
its catalog without Alembic's and dbctl's own tables (``snapshot``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbctl.lifecycle.ledger import TABLE as LEDGER_TABLE

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from dbctl.schema.catalog import Catalog

INTERNAL_TABLES = ("alembic_version", LEDGER_TABLE)  # Alembic's and dbctl's own


def snapshot(url: str) -> Catalog:
    """The catalog of the database at ``url``, without Alembic's and dbctl's own tables."""
    from dbctl.pg.catalog_loader import load_catalog
    from dbctl.pg.connect import connect

    with connect(url) as conn:
        return load_catalog(conn, exclude_tables=INTERNAL_TABLES)


def current_heads(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    if connection.in_transaction():
        connection.commit()
    return tuple(sorted(heads))


def heads_on_fresh_connection(
    url: str, table: str = "alembic_version", schema: str | None = None
) -> tuple[str, ...]:
    """The revisions the database shows to anyone else: read on a new connection, so what
    a revision left uncommitted does not count. ``table`` and ``schema`` are names as
    env.py gave them to Alembic (quoted here, whatever their case)."""
    from psycopg import sql

    from dbctl.pg.connect import connect

    name = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    with connect(url, autocommit=True) as conn:
        found = conn.execute(
            sql.SQL("SELECT to_regclass({})").format(sql.Literal(name.as_string(conn)))
        ).fetchone()
        if not found or found[0] is None:
            return ()
        rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(name)).fetchall()
    return tuple(sorted(str(row[0]) for row in rows))


def invalid_indexes(connection: Connection, *, commit: bool = True) -> list[str]:
    """INVALID indexes as ``regclass`` prints them (see ``invalid_index_names``)."""
    return [shown for shown, _ in invalid_index_names(connection, commit=commit)]


def invalid_index_names(connection: Connection, *, commit: bool = True) -> list[tuple[str, str]]:
    """INVALID indexes, ``(regclass text, own name)``, left out those a ``CREATE INDEX
    CONCURRENTLY`` is building right now. ``commit=False`` reads inside the caller's
    transaction (what a revision did, before it commits)."""
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "SELECT i.indexrelid::regclass::text, c.relname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'pg_toast') "
            "AND NOT EXISTS (SELECT FROM pg_stat_progress_create_index p "
            "WHERE p.index_relid = i.indexrelid) ORDER BY 1"
        )
    )
    names = [(str(row[0]), str(row[1])) for row in rows]
    if commit:
        connection.commit()
    return names
