"""The project's own code in dbctl's runs: its errors told as its own, a baseline for chains
that start from create_all, verify-schema's checks standing on their own, and the round
trip blaming the one revision at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from dbctl.cli import app
from dbctl.lifecycle.verify import verify_schema
from dbctl.pg.url import libpq_url
from dbctl.report import Location
from tests.support import env_variants as envs
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration

TABLES = Rev(
    "r1",
    None,
    "CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL)",
    "DROP TABLE customers",
)
MODELS = """
from sqlalchemy import Column, Integer, MetaData, Table, Text

metadata = MetaData()
customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", Text, nullable=False),
)
"""


def _cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200)


def _error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output and "dbctl bug" not in result.output
    return lines[0]


def _versions(url: str) -> list[str]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0]:  # type: ignore[index]
            return []
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AlembicProject:
    project = AlembicProject(tmp_path, models=MODELS, env_py=envs.OWN_ENGINE_FROM_DATABASE_URL)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    return project


def test_a_revision_that_raises_is_named_with_its_line(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    project.add(Rev("r2", "r1", "py:\nraise ValueError('the data is not ready')", ""))
    url = make_database("raises")
    result = _cli(project.root, "migrate", "--database-url", url)
    assert result.exit_code == 2
    line = _error(result)
    assert line.startswith("error: revision r2 (migrations/versions/r2.py:11) raised ValueError")
    assert "the data is not ready" in line
    assert line.endswith("the database stays at r1")
    assert _versions(url) == ["r1"]


def test_an_env_py_that_raises_is_named_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    env_py = "import app_settings_that_do_not_exist\n" + envs.SHARED
    project = AlembicProject(tmp_path, env_py=env_py)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    result = _cli(project.root, "migrate", "--database-url", make_database("envpy"))
    assert result.exit_code == 2
    line = _error(result)
    assert line.startswith("error: env.py (migrations/env.py:1)")
    assert "ModuleNotFoundError" in line and "app_settings_that_do_not_exist" in line
    assert line.endswith("the database stays at base")


def test_an_irreversible_downgrade_is_one_finding(
    project: AlembicProject, pg_admin_url: str
) -> None:
    """r3 cannot be downgraded: one finding for r3, none for the revisions after or
    below it, and the report says what was left unchecked."""
    project.add(Rev("r2", "r1", "CREATE TABLE a (id int PRIMARY KEY)", "DROP TABLE a"))
    project.add(Rev("r3", "r2", "py:\nop.execute('CREATE TABLE b (id int PRIMARY KEY)')",
                    "py:\nraise NotImplementedError('no way back')"))  # fmt: skip
    project.add(Rev("r4", "r3", "CREATE TABLE c (id int PRIMARY KEY)", "DROP TABLE c"))
    result = verify_schema(project.settings(pg_admin_url, models=None), pg_admin_url)
    found = [f for f in result.findings if f.rule == "downgrade-mismatch"]
    assert len(found) == 1, result.findings
    assert found[0].location is not None
    assert found[0].location.path == "migrations/versions/r3.py"
    assert "NotImplementedError" in found[0].message
    assert "the 2 revisions below it were not round-tripped" in found[0].message


def test_a_lossy_downgrade_is_blamed_once(project: AlembicProject, pg_admin_url: str) -> None:
    """r3's downgrade leaves its table behind (and its upgrade tolerates that); the
    revisions below it are fine and must not inherit the blame."""
    project.add(Rev("r2", "r1", "CREATE TABLE a (id int PRIMARY KEY)", "DROP TABLE a"))
    project.add(Rev("r3", "r2", "CREATE TABLE IF NOT EXISTS b (id int PRIMARY KEY)", "SELECT 1"))
    project.add(Rev("r4", "r3", "CREATE TABLE c (id int PRIMARY KEY)", "DROP TABLE c"))
    result = verify_schema(project.settings(pg_admin_url, models=None), pg_admin_url)
    found = [f for f in result.findings if f.rule == "downgrade-mismatch"]
    assert [f.location.path for f in found if f.location] == ["migrations/versions/r3.py"], found
    assert "public.b" in found[0].message


BROKEN_MODELS = """
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.types import UserDefinedType


class NoSuchType(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "no_such_type"


metadata = MetaData()
Table("customers", metadata, Column("id", Integer, primary_key=True),
      Column("email", NoSuchType()))
"""


def test_models_that_cannot_be_laid_out_fail_one_check(tmp_path: Path, pg_admin_url: str) -> None:
    """Drift cannot run: one verify-step-failed error; the round trip's and the rules'
    findings are still there, and the check is not said to be ok."""
    project = AlembicProject(tmp_path, models=BROKEN_MODELS, env_py=envs.SHARED)
    project.add(TABLES)
    project.add(Rev("r2", "r1", "CREATE TABLE IF NOT EXISTS events (at timestamptz)", "SELECT 1"))
    said: list[str] = []
    result = verify_schema(project.settings(pg_admin_url), pg_admin_url, notify=said.append)
    rules = sorted(f.rule for f in result.findings)
    assert rules == ["downgrade-mismatch", "missing-primary-key", "verify-step-failed"], rules
    failed = next(f for f in result.findings if f.rule == "verify-step-failed")
    assert failed.message.startswith("drift from the models could not run: ")
    assert "no_such_type" in failed.message
    assert any(line.startswith("drift from the models: could not run") for line in said), said
    statuses = {c["check"]: c["status"] for c in result.checks}
    assert statuses["drift from the models"] == "failed"
    assert statuses["schema rules"] == "findings"


def test_models_that_do_not_import_fail_one_check(tmp_path: Path, pg_admin_url: str) -> None:
    project = AlembicProject(tmp_path, models="import nowhere_to_be_found\n", env_py=envs.SHARED)
    project.add(TABLES)
    result = verify_schema(project.settings(pg_admin_url), pg_admin_url)
    [failed] = [f for f in result.findings if f.rule == "verify-step-failed"]
    assert "ModuleNotFoundError" in failed.message
    assert ".py:1)" in failed.message  # the models module's own line


# A chain that starts from create_all: its first revision alters a table it never made.
ALTERS = Rev(
    "r1",
    None,
    "ALTER TABLE customers ADD COLUMN note text",
    "ALTER TABLE customers DROP COLUMN note",
)
BASELINE = """
from sqlalchemy import Column, Integer, MetaData, Table, Text, text

metadata = MetaData()
Table("customers", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
      Column("email", Text, nullable=False))


def create(connection):
    connection.execute(text("CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL)"))
"""


@pytest.mark.parametrize("spec", ["baseline_schema:create", "baseline_schema:metadata"])
def test_a_baseline_lets_a_create_all_chain_start_from_empty(
    spec: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[str], str],
) -> None:
    # ALTERS changes the baseline's tables without a lock_timeout: lint-migrations' concern
    project = AlembicProject(tmp_path, env_py=envs.SHARED, tool='lint_from = "r1"')
    project.add(ALTERS)
    (tmp_path / "baseline_schema.py").write_text(BASELINE)
    monkeypatch.chdir(tmp_path)

    without = _cli(tmp_path, "migrate", "--database-url", make_database("nobase"))
    assert without.exit_code == 2
    assert 'relation "customers" does not exist' in _error(without)
    assert "--baseline module:attr" in _error(without)

    url = make_database("base")
    result = _cli(tmp_path, "migrate", "--database-url", url, "--baseline", spec)
    assert result.exit_code == 0, result.output
    assert f"created the baseline {spec}" in result.stderr
    assert _versions(url) == ["r1"]

    again = _cli(tmp_path, "verify-schema", "--database-url", url, "--baseline", spec)
    assert again.exit_code == 0, again.output
    assert "round trip: ok" in again.stderr


def test_a_baseline_is_left_out_on_a_database_with_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path, env_py=envs.SHARED)
    project.add(ALTERS)
    (tmp_path / "baseline_schema.py").write_text(BASELINE)
    monkeypatch.chdir(tmp_path)
    url = make_database("hastables")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL)")
    result = _cli(
        tmp_path, "migrate", "--database-url", url, "--baseline", "baseline_schema:create"
    )
    assert result.exit_code == 0, result.output
    assert "left out: the database has tables" in result.stderr


def test_a_template_hands_the_database_over_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """The full-stack template's env.py builds its URL from POSTGRES_* variables."""
    env_py = envs.OWN_ENGINE_FROM_DATABASE_URL.replace(
        'os.environ["DATABASE_URL"]',
        '"postgresql+psycopg://{}@{}:{}/{}".format(os.environ["POSTGRES_USER"], '
        'os.environ["POSTGRES_SERVER"], os.environ["POSTGRES_PORT"], os.environ["POSTGRES_DB"])',
    )
    project = AlembicProject(tmp_path, env_py=env_py)
    project.add(TABLES)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + 'url_env = ["POSTGRES_SERVER={host}", "POSTGRES_PORT={port}", '
        '"POSTGRES_USER={user}", "POSTGRES_DB={database}"]\n'
    )
    monkeypatch.chdir(tmp_path)
    url = make_database("parts")
    elsewhere = make_database("elsewhere")
    monkeypatch.setenv("POSTGRES_DB", elsewhere.rsplit("/", 1)[1])
    result = _cli(tmp_path, "migrate", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert _versions(url) == ["r1"]
    assert _versions(elsewhere) == []
    import os

    assert os.environ["POSTGRES_DB"] == elsewhere.rsplit("/", 1)[1]  # given back after the run


LOGGING_INI = """
[alembic]
script_location = {location}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""
UNGUARDED_FILECONFIG = "from logging.config import fileConfig\nfrom alembic import context\n" + (
    "fileConfig(context.config.config_file_name)\n" + envs.SHARED
)


def _plain_project(root: Path, folder: str) -> AlembicProject:
    """A project whose pyproject says nothing of its migrations."""
    project = AlembicProject(root, env_py=UNGUARDED_FILECONFIG)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    if folder != "migrations":
        (root / "migrations").rename(root / folder)
        project.versions = root / folder / "versions"
    project.add(TABLES)
    return project


def test_alembic_ini_beside_the_migrations_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """Flask-Migrate keeps alembic.ini in migrations/; its env.py calls fileConfig on it."""
    _plain_project(tmp_path, "migrations")
    (tmp_path / "migrations" / "alembic.ini").write_text(LOGGING_INI.format(location="."))
    monkeypatch.chdir(tmp_path)
    url = make_database("ini")
    result = _cli(tmp_path, "migrate", "--database-url", url, "--migrations", "migrations")
    assert result.exit_code == 0, result.output
    assert _versions(url) == ["r1"]


def test_script_location_of_the_root_alembic_ini_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """Alembic's own layout (alembic.ini + alembic/) needs no dbctl settings."""
    _plain_project(tmp_path, "alembic")
    (tmp_path / "alembic.ini").write_text(LOGGING_INI.format(location="%(here)s/alembic"))
    monkeypatch.chdir(tmp_path)
    url = make_database("location")
    result = _cli(tmp_path, "migrate", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert _versions(url) == ["r1"]
    status = _cli(tmp_path, "migrate", "status", "--database-url", url)
    assert "pending: none" in status.stdout


def _autogenerate_env(hook: bool) -> str:
    configure = "context.configure(connection=connection, target_metadata=target_metadata"
    configure += ", include_name=include_name)" if hook else ")"
    return f"""
from alembic import context
from sqlalchemy import engine_from_config, pool

from dbctl.alembic import include_name
from check_models import metadata as target_metadata

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {{}}), prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    {configure}
    with context.begin_transaction():
        context.run_migrations()
"""


@pytest.mark.parametrize("hook", [True, False])
def test_alembic_check_ignores_dbctls_ledger_with_the_hook(
    hook: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_database: Callable[[str], str],
) -> None:
    """``alembic check`` after ``dbctl migrate``: dbctl_migrations is no drift with
    ``dbctl.alembic.include_name``; without it, autogenerate wants to drop it."""
    from alembic import command
    from alembic.util import AutogenerateDiffsDetected

    from dbctl.lifecycle.alembic_project import alembic_config

    project = AlembicProject(tmp_path, env_py=_autogenerate_env(hook))
    (tmp_path / "check_models.py").write_text(MODELS)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    url = make_database("autogen")
    assert _cli(tmp_path, "migrate", "--database-url", url).exit_code == 0
    config = alembic_config(project.settings(url))
    config.set_main_option("sqlalchemy.url", url)
    if hook:
        command.check(config)
    else:
        with pytest.raises(AutogenerateDiffsDetected, match="dbctl_migrations"):
            command.check(config)


def test_a_downgrade_to_an_unknown_revision_is_one_line(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("unknown")
    assert _cli(project.root, "migrate", "--database-url", url).exit_code == 0
    result = _cli(project.root, "migrate", "down", "--to", "nope", "--database-url", url)
    assert result.exit_code == 2
    assert _error(result).startswith("error: cannot migrate to 'nope': ")
    assert _versions(url) == ["r1"]


def test_a_downgrade_of_a_database_at_base_says_so(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("at_base")
    result = _cli(project.root, "migrate", "down", "--to", "-1", "--database-url", url)
    assert result.exit_code == 2
    assert _error(result) == (
        "error: the database is at base: there is nothing to downgrade to '-1'"
    )
    to_base = _cli(project.root, "migrate", "down", "--to", "base", "--database-url", url)
    assert to_base.exit_code == 0, to_base.output


def test_a_quoted_version_table_is_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """env.py names its version table "AlembicVersion": the read-back quotes it, so the
    revision that landed is seen to land (and its checksum kept)."""
    env_py = envs.SHARED.replace(
        "context.configure(connection=connection, target_metadata=None)",
        "context.configure(connection=connection, target_metadata=None, "
        "version_table='AlembicVersion')",
    )
    project = AlembicProject(tmp_path, env_py=env_py)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    url = make_database("quoted")
    result = _cli(tmp_path, "migrate", "--database-url", url)
    assert result.exit_code == 0, result.output
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        assert conn.execute('SELECT version_num FROM "AlembicVersion"').fetchall() == [("r1",)]
        assert conn.execute("SELECT revision FROM dbctl_migrations").fetchall() == [("r1",)]


def test_a_revision_file_that_does_not_load_is_one_line(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    path = project.add(Rev("r2", "r1", "SELECT 1"))
    path.write_text(path.read_text() + "\ndef broken(:\n")
    for args in (("migrate",), ("verify-schema",)):
        result = _cli(project.root, *args, "--database-url", make_database("syntax"))
        assert result.exit_code == 2, result.output
        line = _error(result)
        assert "migrations/versions/r2.py:" in line and "SyntaxError" in line


def test_sys_exit_in_a_revision_is_the_projects_error(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    project.add(Rev("r2", "r1", "py:\nimport sys\nsys.exit(3)"))
    url = make_database("exits")
    result = _cli(project.root, "migrate", "--database-url", url)
    assert result.exit_code == 2, result.output
    line = _error(result)
    assert line.startswith("error: revision r2 (migrations/versions/r2.py:12) raised SystemExit")
    assert _versions(url) == ["r1"]


RAISING_MODELS = MODELS.replace(
    "from sqlalchemy import Column, Integer, MetaData, Table, Text",
    "from sqlalchemy import Column, Integer, MetaData, Table, Text\n"
    "from sqlalchemy.types import TypeDecorator\n\n\n"
    "class NeedsAppConfig(TypeDecorator):\n"
    "    impl = Text\n"
    "    cache_ok = True\n\n"
    "    def load_dialect_impl(self, dialect):\n"
    "        raise RuntimeError('needs the app config')\n",
).replace(
    'Column("email", Text, nullable=False)', 'Column("email", NeedsAppConfig, nullable=False)'
)


def test_models_that_raise_fail_the_drift_check_only(tmp_path: Path, pg_admin_url: str) -> None:
    project = AlembicProject(tmp_path, models=RAISING_MODELS, env_py=envs.SHARED)
    project.add(TABLES)
    project.add(Rev("r2", "r1", "CREATE TABLE IF NOT EXISTS events (at timestamptz)", "SELECT 1"))
    result = verify_schema(project.settings(pg_admin_url), pg_admin_url)
    rules = sorted(f.rule for f in result.findings)
    assert rules == ["downgrade-mismatch", "missing-primary-key", "verify-step-failed"], rules
    failed = next(f for f in result.findings if f.rule == "verify-step-failed")
    assert "RuntimeError: needs the app config" in failed.message
    assert ".py:" in failed.message  # the models' own line


def test_a_password_in_the_projects_error_is_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """env.py hands the URL to a driver that echoes it back in its error."""
    env_py = "import os\nraise ValueError('bad dsn: ' + os.environ['DATABASE_URL'])\n"
    project = AlembicProject(tmp_path, env_py=env_py)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    url = make_database("secret").replace("postgres@", "postgres:Sup3rSecret@", 1)
    result = _cli(tmp_path, "migrate", "--database-url", url)
    assert result.exit_code == 2, result.output
    assert "Sup3rSecret" not in result.output
    assert "postgres:***@" in _error(result)


def test_a_lock_held_on_alembic_version_is_not_a_connection_failure(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("held")
    assert _cli(project.root, "migrate", "--database-url", url).exit_code == 0
    with psycopg.connect(libpq_url(url)) as holder:
        holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        result = _cli(project.root, "migrate", "--database-url", url, "--lock-timeout", "200ms")
    assert result.exit_code == 2
    line = _error(result)
    assert "cannot connect" not in line and "lock timeout" in line


def test_a_database_ahead_of_the_checkout_is_one_line(
    project: AlembicProject, make_database: Callable[[str], str]
) -> None:
    url = make_database("ahead")
    assert _cli(project.root, "migrate", "--database-url", url).exit_code == 0
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff0000'")
    for args in (("migrate",), ("migrate", "down", "--to", "base")):
        result = _cli(project.root, *args, "--database-url", url)
        assert result.exit_code == 2, result.output
        assert "is at revision ffff0000, which no file in migrations" in _error(result)


def test_an_asyncpg_url_with_its_own_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """asyncpg's ?ssl=disable and statement cache size are not libpq's: dbctl's own reads
    translate or leave them, the async env.py gets them as written."""
    project = AlembicProject(tmp_path, env_py=envs.ASYNC)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    url = make_database("asyncq").replace("+psycopg://", "+asyncpg://", 1)
    url += "?ssl=disable&prepared_statement_cache_size=0"
    result = _cli(tmp_path, "migrate", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert _versions(url.split("?")[0]) == ["r1"]


TRGM_MODELS = """
from sqlalchemy import DDL, Column, Index, Integer, MetaData, Table, Text, event

metadata = MetaData()
docs = Table("docs", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
             Column("title", Text, nullable=False))
Index("ix_docs_title_trgm", docs.c.title, postgresql_using="gin",
      postgresql_ops={"title": "gin_trgm_ops"})
# A DDL listener: only create_all in a scratch database can lay these models out.
event.listen(docs, "after_create", DDL("COMMENT ON TABLE docs IS 'searchable'"))
"""


def test_models_laid_out_in_a_scratch_database_get_its_extensions(
    tmp_path: Path, pg_admin_url: str
) -> None:
    """The scratch database where create_all runs gets the shadow's extensions (pg_trgm for
    an operator class), so drift runs instead of failing on a missing extension."""
    project = AlembicProject(tmp_path, models=TRGM_MODELS, env_py=envs.SHARED)
    project.add(
        Rev(
            "r1",
            None,
            "CREATE EXTENSION IF NOT EXISTS pg_trgm; "
            "CREATE TABLE docs (id integer PRIMARY KEY, title text NOT NULL); "
            "COMMENT ON TABLE docs IS 'searchable'; "
            "CREATE INDEX ix_docs_title_trgm ON docs USING gin (title gin_trgm_ops)",
            "DROP TABLE docs; DROP EXTENSION pg_trgm",
        )
    )
    result = verify_schema(project.settings(pg_admin_url), pg_admin_url)
    assert result.findings == [], result.findings
    assert {c["check"]: c["status"] for c in result.checks}["drift from the models"] == "ok"


def test_what_the_project_prints_stays_off_dbctls_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_admin_url: str
) -> None:
    """A project whose logger writes to stdout (mealie's does): --format json still is."""
    import json

    env_py = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO, force=True)\n"
        "logging.getLogger('app').info('starting the app')\n"
        "print('hello from env.py')\n" + envs.SHARED
    )
    project = AlembicProject(tmp_path, models=MODELS, env_py=env_py)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    result = _cli(tmp_path, "verify-schema", "--database-url", pg_admin_url, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    assert "hello from env.py" in result.stderr


def test_a_folder_without_revisions_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """Not "already at base" and "ok": an env.py that picks its own version folder would
    have run revisions dbctl never listed."""
    AlembicProject(tmp_path, env_py=envs.SHARED)
    monkeypatch.chdir(tmp_path)
    url = make_database("norevs")
    for args in (("migrate",), ("migrate", "status"), ("verify-schema",)):
        result = _cli(tmp_path, *args, "--database-url", url)
        assert result.exit_code == 2, (args, result.output)
        assert "no revision files in migrations/versions" in _error(result)


def test_an_env_py_that_fails_before_any_revision_is_blamed_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_admin_url: str
) -> None:
    """Flask-Migrate's env.py needs an app context: the failure is env.py's (its line),
    not a revision's that never ran."""
    env_py = "import sys\nraise RuntimeError('Working outside of application context.')\n"
    project = AlembicProject(tmp_path, env_py=env_py)
    project.add(TABLES)
    monkeypatch.chdir(tmp_path)
    result = _cli(tmp_path, "migrate", "--database-url", pg_admin_url)
    line = _error(result)
    assert line.startswith("error: env.py (migrations/env.py:2) raised RuntimeError: Working")
    assert "r1" not in line.split("; the database")[0]
    found = verify_schema(project.settings(pg_admin_url), pg_admin_url).findings
    [failed] = [f for f in found if f.rule == "migration-failed"]
    assert failed.location == Location("migrations/env.py", 2)


def test_an_ini_named_elsewhere_reads_its_script_location_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    """mlflow's alembic.ini says script_location = db_migrations, relative to itself."""
    package = tmp_path / "pkg"
    package.mkdir()
    _plain_project(tmp_path, "migrations")
    (tmp_path / "migrations").rename(package / "db_migrations")
    (package / "alembic.ini").write_text(LOGGING_INI.format(location="db_migrations"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBCTL_ALEMBIC_INI", "pkg/alembic.ini")
    url = make_database("anchored")
    result = _cli(tmp_path, "migrate", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert _versions(url) == ["r1"]
