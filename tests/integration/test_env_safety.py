"""dbctl on env.py files as real projects write them: it migrates only the database it names.

Every test runs the CLI the way a developer would, with ``DATABASE_URL`` in the environment
naming their own seeded database, and checks that this database is byte-for-byte the same
afterwards (its catalog, its rows), whatever the env.py does: dbctl either gets the env.py
onto the database it was given, or refuses in one line before any statement reaches
another one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from dbctl.cli import app
from dbctl.pg.url import libpq_url, with_database
from tests.support import env_variants as envs
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration

R1 = Rev(
    "r1",
    None,
    "CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL); "
    "CREATE TABLE orders (id integer PRIMARY KEY, "
    "customer_id integer NOT NULL REFERENCES customers (id), total integer NOT NULL)",
    "DROP TABLE orders; DROP TABLE customers",
)
R2 = Rev(
    "r2",
    "r1",
    "ALTER TABLE orders ADD COLUMN note text; "
    "CREATE INDEX ix_orders_customer_id ON orders (customer_id)",
    "DROP INDEX ix_orders_customer_id; ALTER TABLE orders DROP COLUMN note",
)
MODELS = """
from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table, Text

metadata = MetaData()
customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", Text, nullable=False),
)
orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("total", Integer, nullable=False),
    Column("note", Text),
)
Index("ix_orders_customer_id", orders.c.customer_id)
"""


def _libpq(url: str) -> str:
    return libpq_url(url)


def _execute(url: str, *statements: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def fingerprint(url: str) -> dict[str, Any]:
    """The catalog and every row of the database at ``url`` (dbctl's and Alembic's tables
    included), as a comparable value."""
    from dbctl.pg.catalog_loader import load_catalog

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        catalog = load_catalog(conn)
        rows = {}
        for key in sorted(catalog.tables):
            digest = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "  # type: ignore[arg-type]
                f"FROM {key} t"
            ).fetchone()
            rows[key] = digest
    return {"catalog": catalog, "rows": rows}


def version(url: str) -> list[str]:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return []
        return sorted(row[0] for row in conn.execute("SELECT version_num FROM alembic_version"))


@dataclass
class World:
    """A project, the developer's seeded database (in DATABASE_URL) and an empty target."""

    project: AlembicProject
    dev: str
    target: str
    before: dict[str, Any]

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(
            app, list(args), env={"DATABASE_URL": self.dev, **(env or {})}, terminal_width=200
        )

    def dev_unchanged(self) -> bool:
        return fingerprint(self.dev) == self.before


def _scheme(url: str, driver: str) -> str:
    return url.replace("postgresql+psycopg://", f"postgresql+{driver}://", 1)


@pytest.fixture
def make_world(
    tmp_path: Path, make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., World]]:
    def make(env_py: str | Callable[[str], str], driver: str = "psycopg") -> World:
        dev = make_database("dev")
        seeder = AlembicProject(tmp_path / "seed", env_py=envs.SHARED)
        seeder.add(R1)
        seeder.add(R2)
        from dbctl.lifecycle.migrate import upgrade

        upgrade(seeder.settings(dev), dev)
        _execute(
            dev,
            "INSERT INTO customers VALUES (1, 'ann@example.com'), (2, 'bob@example.com')",
            "INSERT INTO orders VALUES (10, 1, 500, 'first'), (11, 2, 700, NULL)",
        )
        root = tmp_path / "project"
        project = AlembicProject(
            root,
            models=MODELS,
            env_py=env_py(dev) if callable(env_py) else env_py,
            tool='lint_from = "r2"',  # R2's plain CREATE INDEX is lint-migrations' concern
        )
        project.add(R1)
        project.add(R2)
        monkeypatch.chdir(root)
        target = _scheme(make_database("target"), driver)
        return World(project, _scheme(dev, driver), target, fingerprint(dev))

    yield make


def test_an_async_env_py_connecting_elsewhere_is_named_by_its_line(
    make_world: Callable[..., World],
) -> None:
    world = make_world(
        lambda dev: envs.ASYNC.replace(
            "config.get_section(config.config_ini_section, {}),",
            f'{{"sqlalchemy.url": {dev.replace("+psycopg", "+asyncpg")!r}}},',
        ),
        "asyncpg",
    )
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    assert "at migrations/env.py:" in _one_error_line(result)
    assert world.dev_unchanged()


WORKING = {
    "shared connection": (envs.SHARED, "psycopg"),
    "own engine from DATABASE_URL": (envs.OWN_ENGINE_FROM_DATABASE_URL, "psycopg"),
    "sqlalchemy.url (stock template)": (envs.STOCK_TEMPLATE, "psycopg"),
    "second connection of the shared engine": (envs.SECOND_CONNECTION, "psycopg"),
    "shared connection, a query first": (envs.SHARED_QUERY_FIRST, "psycopg"),
    "async env.py on asyncpg": (envs.ASYNC, "asyncpg"),
    "psycopg2 URL": (envs.STOCK_TEMPLATE, "psycopg2"),
}


@pytest.mark.parametrize("variant", sorted(WORKING))
def test_each_env_py_runs_on_the_named_database_only(
    variant: str, make_world: Callable[..., World]
) -> None:
    env_py, driver = WORKING[variant]
    world = make_world(env_py, driver)
    target = world.target

    result = world.run("migrate", "--database-url", target)
    assert result.exit_code == 0, result.output
    assert "(2 applied)" in result.stdout
    assert version(target) == ["r2"]
    assert world.dev_unchanged()

    result = world.run("migrate", "status", "--database-url", target)
    assert result.exit_code == 0, result.output
    assert "pending: none" in result.stdout

    result = world.run("migrate", "down", "--to", "r1", "--database-url", target)
    assert result.exit_code == 0, result.output
    assert version(target) == ["r1"]
    assert world.dev_unchanged()

    at_r1 = fingerprint(target)
    result = world.run("verify-schema", "--database-url", target)
    assert result.exit_code == 0, result.output
    assert fingerprint(target) == at_r1, "verify-schema changed the database it was given"
    assert world.dev_unchanged()

    # No --database-url: the server of DATABASE_URL hosts the shadow; the developer's
    # database itself is never migrated, downgraded or written.
    result = world.run("verify-schema")
    assert result.exit_code == 0, result.output
    assert world.dev_unchanged()

    assert world.run("migrate", "--database-url", target).exit_code == 0
    result = world.run("verify-schema", "--live", "--database-url", target)
    assert result.exit_code == 0, result.output
    assert world.dev_unchanged()


def _one_error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_an_env_py_that_connects_elsewhere_is_refused_before_any_statement(
    make_world: Callable[..., World],
) -> None:
    world = make_world(envs.hardcoded)
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert "env.py" in line
    assert "config.attributes" in line  # the fix is named
    assert "secret" not in line
    assert version(world.target) == []
    assert world.dev_unchanged()
    with psycopg.connect(_libpq(world.target), autocommit=True) as conn:  # nothing at all
        assert conn.execute("SELECT to_regclass('dbctl_migrations')").fetchone() == (None,)

    for args in (("verify-schema",), ("verify-schema", "--database-url", world.target)):
        result = world.run(*args)
        assert result.exit_code == 2, result.output
        assert "env.py" in _one_error_line(result)
        assert world.dev_unchanged()

    result = world.run("migrate", "down", "--to", "base", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    assert "env.py" in _one_error_line(result)
    assert world.dev_unchanged()


def test_a_revision_that_was_not_committed_is_not_applied(
    make_world: Callable[..., World],
) -> None:
    world = make_world(envs.QUERY_BEFORE_BEGIN)
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert "r1" in line
    assert "begin_transaction" in line
    assert "applied" not in result.stdout
    assert version(world.target) == []
    with psycopg.connect(_libpq(world.target), autocommit=True) as conn:
        ledger = conn.execute("SELECT to_regclass('dbctl_migrations')").fetchone()
        recorded = (
            conn.execute("SELECT count(*) FROM dbctl_migrations").fetchone()
            if ledger and ledger[0]
            else (0,)
        )
    assert recorded == (0,)

    result = world.run("verify-schema")
    assert result.exit_code in (1, 2), result.output
    assert world.dev_unchanged()


def test_dbctls_url_wins_over_the_environment(make_world: Callable[..., World]) -> None:
    """``DATABASE_URL=A dbctl migrate --database-url B`` migrates B and says B."""
    world = make_world(envs.OWN_ENGINE_FROM_DATABASE_URL)
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 0, result.output
    assert world.target.rsplit("/", 1)[1] in result.stdout
    assert version(world.target) == ["r2"]
    assert world.dev_unchanged()


def test_timeouts_reach_a_second_connection(make_world: Callable[..., World]) -> None:
    """lock_timeout holds on the connection env.py opens itself: a busy table fails fast."""
    world = make_world(envs.SECOND_CONNECTION)
    assert world.run("migrate", "--to", "r1", "--database-url", world.target).exit_code == 0
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with psycopg.connect(_libpq(world.target)) as conn:
            conn.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        result = world.run(
            "migrate",
            "--database-url",
            world.target,
            "--lock-timeout",
            "300ms",
            "--statement-timeout",
            "60s",
        )
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 2, result.output
    assert "lock timeout" in _one_error_line(result)
    assert version(world.target) == ["r1"]


def test_the_urls_driver_runs_the_revisions(
    tmp_path: Path, make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision whose bind types only psycopg2 forgives: it passes on a psycopg2 URL (as
    ``alembic upgrade`` runs it), and fails on psycopg 3, so the driver is really used."""
    project = AlembicProject(tmp_path, env_py=envs.SHARED)
    project.add(R1)
    project.add(
        Rev(
            "r2",
            "r1",
            """py:
            import sqlalchemy as sa
            customers = sa.table("customers", sa.column("id", sa.String),
                                 sa.column("email", sa.String))
            op.bulk_insert(customers, [{"id": "1", "email": "ann@example.com"}])
            """,
            "DELETE FROM customers",
        )
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    url = make_database("driver")
    result = runner.invoke(app, ["migrate", "--database-url", _scheme(url, "psycopg2")])
    assert result.exit_code == 0, result.output
    other = make_database("driver")
    result = runner.invoke(app, ["migrate", "--database-url", other])
    assert result.exit_code == 2
    assert "character varying" in result.output


def test_a_missing_driver_is_one_line(
    make_world: Callable[..., World],
) -> None:
    world = make_world(envs.SHARED)
    target = world.target.replace("+psycopg://", "+pg8000://", 1)
    result = world.run("migrate", "--database-url", target)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert "pg8000" in line and "install" in line


def test_shadow_name_is_unique_and_the_given_database_never_downgraded(
    make_world: Callable[..., World],
) -> None:
    """verify-schema given a migrated database: it works beside it, not in it."""
    world = make_world(envs.OWN_ENGINE_FROM_DATABASE_URL)
    assert world.run("migrate", "--database-url", world.target).exit_code == 0
    before = fingerprint(world.target)
    result = world.run("verify-schema", "--database-url", world.target)
    assert result.exit_code == 0, result.output
    assert fingerprint(world.target) == before
    with psycopg.connect(_libpq(with_database(world.target, "postgres")), autocommit=True) as c:
        left = c.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'dbctl_shadow_%'")
        assert left.fetchone() == (0,)


def test_a_connection_elsewhere_from_a_thread_of_env_py_stops_the_run(
    make_world: Callable[..., World],
) -> None:
    """The project's code connects elsewhere from a thread it starts and swallows the
    error: the connection is still refused, and the run still stops."""
    world = make_world(
        lambda dev: envs.SHARED.replace(
            "config = context.config\n",
            "config = context.config\n"
            "import threading\n"
            "def _elsewhere():\n"
            "    try:\n"
            f"        create_engine({dev!r}).connect().exec_driver_sql('DELETE FROM orders')\n"
            "    except Exception:\n"
            "        pass\n"
            "_thread = threading.Thread(target=_elsewhere)\n"
            "_thread.start()\n"
            "_thread.join()\n",
        )
    )
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    assert "nothing was run there" in _one_error_line(result)
    assert version(world.target) == []
    assert world.dev_unchanged()


def test_threads_that_ran_before_the_migration_are_left_alone(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    """A server the process also hosts (a test's live app) keeps its own database while
    dbctl migrates another one in the same process."""
    import importlib
    import sys

    from sqlalchemy import create_engine, text

    world = make_world(envs.SHARED)
    hook = world.project.root / "bystander_hook.py"
    hook.write_text("import threading\ngo = threading.Event()\ndone = threading.Event()\n")
    env_py = world.project.root / "migrations" / "env.py"
    env_py.write_text(
        "import bystander_hook\nbystander_hook.go.set()\nbystander_hook.done.wait(10)\n"
        + env_py.read_text()
    )
    sys.path.insert(0, str(world.project.root))
    try:
        module = importlib.import_module("bystander_hook")
        seen: list[object] = []

        def serve() -> None:
            module.go.wait(30)
            engine = create_engine(world.dev)
            try:
                with engine.connect() as conn:
                    seen.append(conn.execute(text("SELECT count(*) FROM orders")).scalar())
            except Exception as exc:
                seen.append(exc)
            finally:
                engine.dispose()
                module.done.set()

        server = threading.Thread(target=serve)
        server.start()
        result = world.run("migrate", "--to", "r1", "--database-url", world.target)
        server.join()
    finally:
        sys.path.remove(str(world.project.root))
        sys.modules.pop("bystander_hook", None)
    assert result.exit_code == 0, result.output
    assert seen == [2]
    assert version(world.target) == ["r1"]


def _elsewhere_first(dev: str, body: str) -> str:
    """SHARED, preceded by ``body``: what env.py does with an engine on ``dev`` first."""
    return envs.SHARED.replace(
        "config = context.config\n",
        f"config = context.config\nfrom sqlalchemy import event, text\n_dev = {dev!r}\n{body}\n",
    )


def test_the_projects_connect_listener_never_runs_on_another_database(
    make_world: Callable[..., World],
) -> None:
    """A pool ``connect`` listener of the project's (SET, CREATE EXTENSION...) runs after
    dbctl's check: on a foreign database it never runs."""
    world = make_world(
        lambda dev: _elsewhere_first(
            dev,
            "_engine = create_engine(_dev)\n"
            "@event.listens_for(_engine, 'connect')\n"
            "def _setup(dbapi, record):\n"
            "    cursor = dbapi.cursor()\n"
            "    cursor.execute('CREATE TABLE touched_by_connect_event (x int)')\n"
            "    dbapi.commit()\n"
            "_engine.connect()\n",
        )
    )
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    assert "nothing was run there" in _one_error_line(result)
    assert world.dev_unchanged()


def test_a_raw_connection_to_another_database_is_refused(
    make_world: Callable[..., World],
) -> None:
    world = make_world(
        lambda dev: _elsewhere_first(
            dev,
            "_raw = create_engine(_dev).raw_connection()\n"
            "_raw.cursor().execute('CREATE TABLE touched_by_raw_connection (x int)')\n"
            "_raw.commit()\n",
        )
    )
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    assert world.dev_unchanged()
    assert version(world.target) == []


def test_a_side_database_of_another_kind_is_refused(make_world: Callable[..., World]) -> None:
    """An env.py that opens SQLite on the side: dbctl cannot tell what it is, so no."""
    world = make_world(
        lambda dev: _elsewhere_first(
            dev, "create_engine('sqlite://').connect().exec_driver_sql('SELECT 1')\n"
        )
    )
    result = world.run("migrate", "--database-url", world.target)
    assert result.exit_code == 2, result.output
    assert "a database dbctl cannot identify" in _one_error_line(result)


KEPT_CONNECTION = """
from alembic import context

import kept_connection

config = context.config
connection = kept_connection.get(config.get_main_option("sqlalchemy.url"))
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
"""
KEPT_MODULE = """
from sqlalchemy import create_engine

_connection = None


def get(url):
    global _connection
    if _connection is None:
        _connection = create_engine(url).connect()
    return _connection
"""
SEEN = "INSERT INTO seen SELECT {rev!r}, current_setting('lock_timeout'), " + (
    "current_setting('statement_timeout')"
)


def test_timeouts_reach_a_connection_kept_across_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """The project keeps one connection for the whole run; r1 builds an index
    CONCURRENTLY (no timeouts); r2 and r3 must run with the timeouts again."""
    project = AlembicProject(tmp_path, env_py=KEPT_CONNECTION)
    (tmp_path / "kept_connection.py").write_text(KEPT_MODULE)
    project.add(Rev("r0", None, "CREATE TABLE seen (rev text, lock text, statement text)"))
    project.add(
        Rev(
            "r1",
            "r0",
            "CREATE INDEX CONCURRENTLY ix_seen ON seen (rev); " + SEEN.format(rev="r1"),
            autocommit=True,
        )
    )
    project.add(Rev("r2", "r1", SEEN.format(rev="r2")))
    project.add(Rev("r3", "r2", SEEN.format(rev="r3")))
    monkeypatch.chdir(tmp_path)
    url = make_database("kept")
    args = ["migrate", "--database-url", url, "--lock-timeout", "7s", "--statement-timeout", "9s"]
    try:
        result = CliRunner().invoke(app, args)
    finally:
        import sys

        kept = sys.modules.pop("kept_connection", None)
        if kept is not None and kept._connection is not None:
            kept._connection.close()
            kept._connection.engine.dispose()
    assert result.exit_code == 0, result.output
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        rows = conn.execute("SELECT rev, lock, statement FROM seen ORDER BY rev").fetchall()
    assert rows == [("r1", "0", "0"), ("r2", "7s", "9s"), ("r3", "7s", "9s")]
