"""``dbctl_migrations``: dbctl's record of each applied revision file and its checksum.

The table lives beside ``alembic_version`` (same search path), created with the first
record. A revision is recorded in the transaction that applies it, so the record and the
schema change commit together;
revisions that run outside a transaction (``CONCURRENTLY``) are recorded right after.
Revisions applied before dbctl managed the database are adopted on the next migrate, with
``adopted = true``: dbctl cannot know whether their files changed before that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

TABLE = "dbctl_migrations"  # dbctl.alembic keeps it out of the project's autogenerate

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    revision text PRIMARY KEY,
    checksum text NOT NULL,
    path text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    adopted boolean NOT NULL DEFAULT false
)
"""


@dataclass(frozen=True)
class Entry:
    revision: str
    checksum: str
    path: str
    applied_at: datetime
    adopted: bool


def ensure(connection: Connection) -> None:
    from sqlalchemy import text

    connection.execute(text(_CREATE))


def exists(connection: Connection) -> bool:
    from sqlalchemy import text

    return bool(connection.execute(text(f"SELECT to_regclass('{TABLE}') IS NOT NULL")).scalar())


def read(connection: Connection) -> dict[str, Entry]:
    from sqlalchemy import text

    if not exists(connection):
        return {}
    rows = connection.execute(
        text(f"SELECT revision, checksum, path, applied_at, adopted FROM {TABLE}")
    )
    return {row[0]: Entry(*row) for row in rows}


def record(
    connection: Connection, revision: str, checksum: str, path: str, *, adopted: bool = False
) -> None:
    from sqlalchemy import text

    ensure(connection)  # made with the first record: a run that applies nothing leaves none
    connection.execute(
        text(
            f"INSERT INTO {TABLE} (revision, checksum, path, adopted) "
            "VALUES (:revision, :checksum, :path, :adopted) "
            "ON CONFLICT (revision) DO UPDATE SET checksum = excluded.checksum, "
            "path = excluded.path, applied_at = now(), adopted = excluded.adopted"
        ),
        {"revision": revision, "checksum": checksum, "path": path, "adopted": adopted},
    )


def forget(connection: Connection, revisions: list[str]) -> None:
    from sqlalchemy import text

    if revisions and exists(connection):
        connection.execute(
            text(f"DELETE FROM {TABLE} WHERE revision = ANY(:revisions)"),
            {"revisions": revisions},
        )
