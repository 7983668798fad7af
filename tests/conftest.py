"""Shared fixtures: one real PostgreSQL per test session, started with dbctl's own sandbox.

Set ``DBCTL_TEST_DATABASE_URL`` to a superuser URL of an existing server to use it instead.
Every database a test creates is dropped at the end of the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from dbctl.config import Settings
from dbctl.pg.url import libpq_url, normalize_url, with_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_dbctl_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's DBCTL_* settings or DATABASE_URL."""
    for name in list(os.environ):
        if name.startswith("DBCTL_") and name != "DBCTL_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich renders tables at a fixed width


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLAlchemy URL of the test server's ``postgres`` database, as a superuser."""
    existing = os.environ.get("DBCTL_TEST_DATABASE_URL")
    if existing:
        yield with_database(normalize_url(existing), "postgres")
        return
    from dbctl.pg.sandbox import Sandbox

    sandbox = Sandbox(tmp_path_factory.mktemp("pg") / "state")
    status = sandbox.start()
    assert status.url is not None
    try:
        yield with_database(status.url, "postgres")
    finally:
        sandbox.stop(destroy=True)


def _admin_execute(admin_url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def make_database(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    """``make_database(prefix)``: a fresh empty database; returns its SQLAlchemy URL."""
    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}".lower()
        _admin_execute(pg_admin_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(pg_admin_url, name)

    yield make
    if os.environ.get("DBCTL_TEST_DATABASE_URL"):  # a server of the user's: leave it clean
        for name in created:
            _admin_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # else the session's own cluster is destroyed with its databases, at once (dropping
    # them one by one took ~36 s of the suite)


def project_settings(url: str | None = None) -> Settings:
    """The settings of this repository's companion service, as dbctl resolves them."""
    from dbctl.config import load_settings

    return load_settings({"database_url": url}, cwd=PROJECT_ROOT, environ={})


@pytest.fixture(scope="session")
def migrate_to() -> Callable[[str, str], None]:
    """``migrate_to(url, revision)``: upgrade through dbctl with the real revisions."""
    from dbctl.lifecycle.migrate import upgrade

    def run(url: str, revision: str = "head") -> None:
        upgrade(project_settings(url), url, revision=revision)

    return run


@pytest.fixture(scope="session")
def downgrade_to() -> Callable[[str, str], None]:
    """``downgrade_to(url, revision)``: downgrade through dbctl with the real revisions."""
    from dbctl.lifecycle.migrate import downgrade

    def run(url: str, revision: str) -> None:
        downgrade(project_settings(url), url, revision=revision)

    return run


@pytest.fixture(scope="session")
def migrated_url(make_database: Callable[[str], str], migrate_to: Callable[..., None]) -> str:
    """A database migrated to head once for the whole session."""
    url = make_database("migrated")
    migrate_to(url, "head")
    return url


@pytest.fixture(scope="session")
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = create_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test.

    The code under test may commit: with ``create_savepoint`` its commits release
    savepoints and never reach the database.
    """
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()
