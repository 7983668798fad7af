"""lint-migrations on the shapes a review found wrong: a revision failing in the shadow,
branches and their merge, lint_from on a branch, partitioned tables, autocommit revisions,
TRUNCATE, alembic.ini's template URL, --git-base beside a database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbctl.lint.lint import LintRequest, LintResult, lint_migrations
from dbctl.report import Severity
from tests.support.alembic_project import ENV_PY, AlembicProject, Rev
from tests.support.lint_chain import git_commit_all

pytestmark = pytest.mark.integration
TIMEOUT = "SET lock_timeout = '2s';"


def _rules(result: LintResult) -> set[tuple[str, str]]:
    return {(str(f.evidence.get("revision")), f.rule) for f in result.findings}


def _lint(project: AlembicProject, url: str, **request: object) -> LintResult:
    return lint_migrations(project.settings(url), LintRequest(**request))  # type: ignore[arg-type]


@pytest.fixture
def server(pg_admin_url: str) -> str:
    return pg_admin_url


def test_a_revision_failing_in_the_shadow_is_an_error_and_earlier_measures_stand(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, n int)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN n TYPE bigint"))
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE t_typo ADD COLUMN x int"))
    result = _lint(project, make_database("lint_fail"), start="a")
    rules = _rules(result)
    assert ("b", "table-rewrite") in rules  # measured before the failure
    assert ("c", "migration-failed") in rules
    [failed] = [f for f in result.findings if f.rule == "migration-failed"]
    assert failed.severity is Severity.error
    assert 't_typo" does not exist' in failed.message


def _branches(root: Path) -> AlembicProject:
    project = AlembicProject(root)
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, v text, w text)"))
    project.add(Rev("a1", "a", TIMEOUT + "ALTER TABLE t ADD COLUMN x int"))
    project.add(Rev("b1", "a", TIMEOUT + "ALTER TABLE t RENAME COLUMN v TO v2"))
    project.add(Rev("m", ("a1", "b1"), ""))
    project.add(Rev("d1", "m", TIMEOUT + "ALTER TABLE t ADD COLUMN y int"))
    return project


def test_a_merge_has_only_its_own_findings_and_lint_from_follows_ancestry(
    tmp_path: Path, server: str
) -> None:
    project = _branches(tmp_path / "p")
    settings = project.settings(None, lint_from="a1")
    result = lint_migrations(settings, LintRequest(offline=True))
    assert sorted(result.revisions) == ["b1", "d1", "m"]  # b1: a sibling, not history
    assert _rules(result) == {("b1", "renaming-column")}


def test_a_partitioned_type_change_is_not_disproved_by_its_parent(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev(
            "a",
            None,
            "CREATE TABLE ev (k int, at date) PARTITION BY RANGE (at);"
            "CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        )
    )
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE ev ALTER COLUMN k TYPE bigint"))
    result = _lint(project, make_database("lint_part"), start="a")
    [change] = [f for f in result.findings if f.rule == "changing-column-type"]
    assert change.severity is Severity.error
    assert "no rewrite" not in change.message
    assert ("b", "table-rewrite") in _rules(result)  # the partition's


def test_an_autocommit_revision_still_reports_its_rewrites_and_truncate_is_none(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, n int); CREATE TABLE u (n int)")
    )
    project.add(
        Rev(
            "b",
            "a",
            "py:\n"
            "op.execute(\"SET lock_timeout = '2s'\")\n"
            "op.execute('ALTER TABLE t ALTER COLUMN n TYPE bigint')\n"
            "with op.get_context().autocommit_block():\n"
            "    op.execute('CREATE INDEX CONCURRENTLY ix_t_n ON t (n)')",
        )
    )
    project.add(Rev("c", "b", TIMEOUT + "TRUNCATE u"))
    result = _lint(project, make_database("lint_auto"), start="a")
    rules = _rules(result)
    assert ("b", "table-rewrite") in rules
    assert ("c", "table-rewrite") not in rules


def test_the_ini_template_url_does_not_stop_the_offline_sql(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, n int)"))
    project.add(Rev("b", "a", "CREATE INDEX ix_t_n ON t (n)"))
    (project.root / "alembic.ini").write_text(
        "[alembic]\nscript_location = migrations\nsqlalchemy.url = driver://user:pass@localhost/dbname\n"
    )
    result = lint_migrations(project.settings(None), LintRequest(offline=True, start="a"))
    assert _rules(result) == {("b", "require-concurrent-index-creation")}


def test_git_base_beats_the_database_pending_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    from dbctl.lifecycle.migrate import upgrade

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, n int)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ADD COLUMN x int"))
    url = make_database("lint_git")
    upgrade(project.settings(url), url, revision="a")
    monkeypatch.chdir(project.root)
    git_commit_all(project.root)
    path = project.versions / "a.py"
    path.write_text(path.read_text() + "\n# edited\n")
    result = lint_migrations(project.settings(url), LintRequest(git_base="HEAD", offline=True))
    assert result.revisions == ["a"]


def test_a_sample_of_the_live_rows_makes_the_shadow_fail_where_production_would(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    import psycopg

    from dbctl.lifecycle.migrate import upgrade
    from dbctl.pg.url import libpq_url

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, plan text)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN plan SET NOT NULL"))
    url = make_database("lint_sample")
    upgrade(project.settings(url), url, revision="a")
    with psycopg.connect(libpq_url(url)) as conn:  # NULLs the empty shadow would not have
        conn.execute("INSERT INTO t SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'free' END "
                     "FROM generate_series(1, 50000) g")  # fmt: skip
    result = _lint(project, url)
    assert result.revisions == ["b"]
    assert result.sample is not None and 0 < result.sample["rows"] <= 10_000
    [failed] = [f for f in result.findings if f.rule == "migration-failed"]
    assert 'column "plan" of relation "t" contains null values' in failed.message
    without = _lint(project, url, sample_rows=0)
    assert not [f for f in without.findings if f.rule == "migration-failed"]
    with psycopg.connect(libpq_url(url)) as conn:  # the live database was only read
        row = conn.execute("SELECT count(*), count(plan) FROM t").fetchone()
    assert row == (50000, 45000)


def test_the_sample_keeps_foreign_keys_valid_and_sequences_ahead(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    import psycopg

    from dbctl.lifecycle.migrate import upgrade
    from dbctl.pg.url import libpq_url

    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev(
            "a",
            None,
            "CREATE TABLE parent (id serial PRIMARY KEY, name text);"
            "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL)",
        )
    )
    project.add(
        Rev(
            "b",
            "a",
            TIMEOUT + "ALTER TABLE child ADD CONSTRAINT fk_child_parent "
            "FOREIGN KEY (parent_id) REFERENCES parent (id) NOT VALID",
        )
    )
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE child VALIDATE CONSTRAINT fk_child_parent"))
    project.add(Rev("d", "c", "INSERT INTO parent (name) VALUES ('new')"))
    url = make_database("lint_sample_fk")
    upgrade(project.settings(url), url, revision="b")
    with psycopg.connect(libpq_url(url)) as conn:  # valid data, more than one sample of it
        conn.execute("INSERT INTO parent (name) SELECT 'p' || g FROM generate_series(1, 30000) g")
        conn.execute("INSERT INTO child SELECT g, 1 + g % 30000 FROM generate_series(1, 30000) g")
    result = _lint(project, url, sample_rows=1000)
    assert result.sample is not None and result.sample["rows"] > 0
    assert not [f for f in result.findings if f.rule == "migration-failed"], result.findings


def test_no_sample_when_the_shadow_is_past_the_live_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    from dbctl.lifecycle.migrate import upgrade

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, n int)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ADD COLUMN x int"))
    url = make_database("lint_nosample")
    upgrade(project.settings(url), url, revision="a")
    monkeypatch.chdir(project.root)
    git_commit_all(project.root)
    path = project.versions / "b.py"
    path.write_text(path.read_text() + "\n# edited\n")
    result = lint_migrations(project.settings(url), LintRequest(git_base="HEAD"))
    assert result.revisions == ["b"]
    assert result.sample is None


def test_a_mixed_case_table_keeps_its_verdict_and_truncate_is_by_name(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev(
            "a",
            None,
            'CREATE TABLE "Users" (id int PRIMARY KEY, n int); CREATE TABLE users_archive (n int)',
        )
    )
    project.add(
        Rev(
            "b",
            "a",
            TIMEOUT + 'TRUNCATE users_archive; ALTER TABLE "Users" ALTER COLUMN n TYPE bigint',
        )
    )
    result = _lint(project, make_database("lint_case"), start="a")
    [change] = [f for f in result.findings if f.rule == "changing-column-type"]
    assert change.severity is Severity.error
    assert "no rewrite" not in change.message
    assert "measured:" in change.message
    assert {f.table for f in result.findings if f.rule == "table-rewrite"} == {"public.Users"}


def test_the_sample_reaches_a_table_the_revisions_seeded(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """A revision that inserts rows (lookup values, a seed) left them in the shadow too: the
    live rows are added beside them, a key both hold kept once (it was a duplicate key, and
    the table had no sample at all)."""
    import psycopg

    from dbctl.lifecycle.migrate import upgrade
    from dbctl.pg.url import libpq_url

    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev(
            "a",
            None,
            "CREATE TABLE plans (id int PRIMARY KEY, name text);"
            "INSERT INTO plans VALUES (1, 'free'), (2, 'pro')",
        )
    )
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE plans ALTER COLUMN name SET NOT NULL"))
    url = make_database("lint_seeded")
    upgrade(project.settings(url), url, revision="a")
    with psycopg.connect(libpq_url(url)) as conn:  # a NULL only the live rows hold
        conn.execute("INSERT INTO plans SELECT g, NULLIF(g % 7, 0)::text "
                     "FROM generate_series(3, 500) g")  # fmt: skip
    result = _lint(project, url)
    assert result.sample is not None
    assert result.sample["tables"] == 1 and result.sample["rows"] == 498, result.sample
    assert not result.sample["skipped"], result.sample
    [failed] = [f for f in result.findings if f.rule == "migration-failed"]
    assert 'column "name" of relation "plans" contains null values' in failed.message


LOGGING_ENV_PY = (
    "import logging, sys\n"
    "logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True)\n"
    "logging.getLogger('alembic').setLevel(logging.INFO)  # as alembic.ini's template does\n"
    "logging.getLogger('env').warning('env.py warns: kept')\n"
) + ENV_PY


@pytest.mark.parametrize("command", ["lint-migrations", "verify-schema"])
def test_shadow_runs_keep_alembic_progress_off_the_output(
    tmp_path: Path, make_database: Callable[[str], str], command: str
) -> None:
    """lint-migrations and verify-schema apply the revisions in throwaway databases, many
    times over: Alembic's INFO lines (a few per revision and run) would bury the report;
    the project's warnings still show. migrate, on the real database, keeps them."""
    import os
    import subprocess
    import sys

    project = AlembicProject(tmp_path / "p", env_py=LOGGING_ENV_PY)
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY)", "DROP TABLE t"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ADD COLUMN n int", "ALTER TABLE t DROP n"))
    url = make_database("lint_logs")
    env = {**os.environ, "DBCTL_DATABASE_URL": url}
    env.pop("DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dbctl", *args],
            check=False,
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    shadowed = run(command)
    assert shadowed.returncode == 0, shadowed.stdout + shadowed.stderr
    assert "Running upgrade" not in shadowed.stderr, shadowed.stderr
    assert "env.py warns: kept" in shadowed.stderr
    migrated = run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "Running upgrade  -> a" in migrated.stderr


def test_a_commit_of_its_own_splits_the_revision(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """op.execute("COMMIT") prints as an autocommit_block does in the offline SQL: the
    source tells them apart. The first half's lock was released at it: said."""
    from dbctl.lifecycle.migrate import upgrade

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY)"))
    path = project.add(
        Rev(
            "b",
            "a",
            "py:op.execute(\"SET lock_timeout = '2s'\")\n"
            'op.execute("ALTER TABLE t ADD COLUMN x int")\n'
            'op.execute("COMMIT")\n'
            'op.execute("ALTER TABLE t ADD COLUMN y int")',
        )
    )
    project.add(
        Rev("c", "b", "CREATE INDEX CONCURRENTLY ix_t_x ON t (x)", autocommit=True)
    )  # Alembic's own COMMIT and BEGIN around it: no finding
    url = make_database("lint_nesting")
    upgrade(project.settings(url), url, revision="a")
    for offline in (False, True):
        result = _lint(project, url, offline=offline)
        nested = [f for f in result.findings if f.rule == "transaction-nesting"]
        assert [(f.evidence["revision"], f.severity) for f in nested] == [("b", Severity.error)], (
            result.findings
        )
        [finding] = nested
        assert finding.location is not None and finding.location.line is not None
        assert 'op.execute("COMMIT")' in path.read_text().splitlines()[finding.location.line - 1]
        assert "autocommit_block()" in (finding.suggestion or "")


MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("legacy", sa.Text),
    sa.Column("email", sa.Text),
)
"""


def test_the_models_make_a_drop_or_rename_of_what_they_still_map_an_error(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """ban-drop-column as the issue asks: with the models, a column the code still reads
    is an error (the code shipped with the revision breaks, not only the old release); one
    the models no longer map stays a warning, and says so."""
    from dbctl.lifecycle.migrate import upgrade

    project = AlembicProject(tmp_path / "p", models=MODELS)
    project.add(
        Rev(
            "a",
            None,
            "CREATE TABLE users (id int PRIMARY KEY, legacy text, email text, old text);"
            "CREATE TABLE audit (id int PRIMARY KEY)",
        )
    )
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE users DROP COLUMN legacy"))
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE users DROP COLUMN old"))
    project.add(Rev("d", "c", TIMEOUT + "ALTER TABLE users RENAME COLUMN email TO mail"))
    project.add(Rev("e", "d", TIMEOUT + "DROP TABLE audit"))
    url = make_database("lint_models")
    upgrade(project.settings(url), url, revision="a")
    result = _lint(project, url)
    got = {
        (str(f.evidence["revision"]), f.rule): f
        for f in result.findings
        if f.rule in ("ban-drop-column", "renaming-column", "ban-drop-table")
    }
    assert got.keys() == {
        ("b", "ban-drop-column"),
        ("c", "ban-drop-column"),
        ("d", "renaming-column"),
        ("e", "ban-drop-table"),
    }, result.findings
    assert got["b", "ban-drop-column"].severity is Severity.error
    assert "The models still map users.legacy" in got["b", "ban-drop-column"].message
    assert got["c", "ban-drop-column"].severity is Severity.warning
    assert "The models no longer map users.old" in got["c", "ban-drop-column"].message
    assert got["d", "renaming-column"].severity is Severity.error
    assert got["e", "ban-drop-table"].severity is Severity.warning
