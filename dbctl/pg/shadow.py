"""Temporary databases: the shadow database verify-schema migrates, and scratch space.

A temporary database is created on a running server (the sandbox, or the server of
``--database-url``) with ``CREATE DATABASE ... TEMPLATE template0`` and dropped at the end
with ``DROP DATABASE ... WITH (FORCE)``: no ``initdb`` per run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from dbctl.errors import ConnectionFailed, DbctlError
from dbctl.pg.connect import connect
from dbctl.pg.url import redact, with_database

PREFIX = "dbctl_shadow_"


def _maintenance_url(url: str) -> str:
    return with_database(url, "postgres")


@contextmanager
def temporary_database(url: str, *, purpose: str = "shadow") -> Iterator[str]:
    """A fresh empty database on the server of ``url``; yields its URL, drops it after."""
    import psycopg

    kind = "" if purpose == "shadow" else f"{purpose}_"
    name = f"{PREFIX}{kind}{uuid.uuid4().hex[:10]}"
    admin_url = _maintenance_url(url)
    try:
        admin = connect(admin_url, autocommit=True)
    except ConnectionFailed:
        admin_url = url  # no access to 'postgres': work from the given database
        admin = connect(admin_url, autocommit=True)
    with admin:
        try:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        except psycopg.errors.InsufficientPrivilege:
            raise DbctlError(
                f"the role of {redact(url)} may not create databases, which the {purpose} "
                "database needs: grant it CREATEDB, or give no --database-url to use the sandbox"
            ) from None
    try:
        yield with_database(url, name)
    finally:
        with connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
