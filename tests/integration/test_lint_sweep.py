"""lint-migrations on what a sweep over hand-written hazards found: the sample's last pages,
the live database's TimeZone in the shadow, SET NOT NULL that a valid CHECK proves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dbctl.lint.lint import LintRequest, LintResult, lint_migrations
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration
TIMEOUT = "SET lock_timeout = '2s';"


def _lint(project: AlembicProject, url: str, **request: object) -> LintResult:
    return lint_migrations(project.settings(url), LintRequest(**request))  # type: ignore[arg-type]


def _rules(result: LintResult) -> list[tuple[str, str]]:
    return sorted((str(f.evidence.get("revision")), f.rule) for f in result.findings)


def _execute(url: str, *statements: str) -> None:
    import psycopg

    from dbctl.pg.url import libpq_url

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def test_the_sample_reaches_the_last_pages_of_a_large_table(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """The NULLs are all in the last tenth of the table: a sample that keeps the first
    pages it drew misses them, and the shadow passes what production fails."""
    from dbctl.lifecycle.migrate import upgrade

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, plan text)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN plan SET NOT NULL"))
    url = make_database("lint_sample_tail")
    upgrade(project.settings(url), url, revision="a")
    _execute(
        url,
        "INSERT INTO t SELECT g, CASE WHEN g > 180000 THEN NULL ELSE 'free' END "
        "FROM generate_series(1, 200000) g",
        "ANALYZE t",
    )
    for _ in range(2):  # the same sample each time
        result = _lint(project, url, sample_rows=2000)
        assert result.sample is not None and result.sample["rows"] == 2000, result.sample
        assert ("b", "migration-failed") in _rules(result), result.findings


@pytest.mark.parametrize(("zone", "rewrites"), [("UTC", False), ("America/New_York", True)])
def test_the_shadow_takes_the_live_databases_timezone(
    tmp_path: Path, make_database: Callable[[str], str], zone: str, rewrites: bool
) -> None:
    """timestamp to timestamptz keeps the table's file in UTC only (PostgreSQL 12+): the
    shadow must run in the zone the live database runs in."""
    from dbctl.lifecycle.migrate import upgrade

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, at timestamp)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN at TYPE timestamptz"))
    url = make_database("lint_tz")
    name = url.rpartition("/")[2].partition("?")[0]
    _execute(url, f"ALTER DATABASE {name} SET TimeZone = '{zone}'")
    upgrade(project.settings(url), url, revision="a")
    result = _lint(project, url)
    assert bool(result.rewrites["b"]) is rewrites, result.rewrites
    assert (("b", "table-rewrite") in _rules(result)) is rewrites


def _not_null_chain(root: Path) -> AlembicProject:
    project = AlembicProject(root)
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, email text)"))
    project.add(
        Rev("b", "a", TIMEOUT + "ALTER TABLE t ADD CONSTRAINT t_email_nn "
            "CHECK (email IS NOT NULL) NOT VALID")
    )  # fmt: skip
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE t VALIDATE CONSTRAINT t_email_nn"))
    project.add(Rev("d", "c", TIMEOUT + "ALTER TABLE t ALTER COLUMN email SET NOT NULL"))
    return project


def test_set_not_null_after_a_validated_check_is_the_safe_pattern(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = _not_null_chain(tmp_path / "p")
    url = make_database("lint_not_null")
    # measured: the shadow's catalog holds the check validated by an earlier revision
    measured = _lint(project, url, start="c")
    assert measured.revisions == ["d"] and measured.measured
    assert _rules(measured) == [], measured.findings
    # offline: the check is validated by a revision linted before it
    assert _rules(_lint(project, url, start="a", offline=True)) == []
    # offline, the check validated by a revision before the range: read from their SQL
    assert _rules(_lint(project, url, start="c", offline=True)) == []
    # and without it, SET NOT NULL scans
    (project.versions / "c.py").write_text(
        (project.versions / "c.py").read_text().replace("VALIDATE CONSTRAINT t_email_nn", "")
        .replace("ALTER TABLE t ", "SELECT 1")
    )  # fmt: skip
    assert _rules(_lint(project, url, start="c", offline=True)) == [
        ("d", "adding-not-nullable-field")
    ]


def test_a_reversed_range_is_a_usage_error_and_an_empty_one_is_not(tmp_path: Path) -> None:
    from dbctl.errors import ConfigError

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int)"))
    project.add(Rev("b", "a", "ALTER TABLE t ADD COLUMN x int"))
    project.add(Rev("c", "b", "ALTER TABLE t ADD COLUMN y int"))
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    with pytest.raises(ConfigError, match=r"^--to a comes before --from c: .*--from a --to c"):
        _lint(project, url, start="c", end="a", offline=True)
    for start, end in (("b", "b"), ("c", None)):  # nothing after it: nothing to lint
        result = _lint(project, url, start=start, end=end, offline=True)
        assert result.revisions == [] and "no revision to lint" in result.notes


def test_the_report_says_why_a_revision_was_not_measured(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, n int)"))
    project.add(Rev("b", "a", "CREATE INDEX CONCURRENTLY ix_t_n ON t (n)", autocommit=True))
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE t ADD COLUMN x int"))
    project.add(Rev("d", "c", TIMEOUT + "ALTER TABLE t_typo ADD COLUMN y int"))
    project.add(Rev("e", "d", TIMEOUT + "ALTER TABLE t ADD COLUMN z int"))
    result = _lint(project, make_database("lint_unmeasured"), start="a")
    assert set(result.locks) == {"c"}
    assert set(result.unmeasured) == {"b", "d", "e"}
    assert "outside a transaction" in result.unmeasured["b"]
    assert result.unmeasured["d"] == "it failed in the shadow database"
    assert "a revision before it (d) failed" in result.unmeasured["e"]
    assert result.data()["unmeasured"] == result.unmeasured
    offline = _lint(project, "postgresql+psycopg://nobody@127.0.0.1:9/none", start="a",
                    offline=True)  # fmt: skip
    assert set(offline.unmeasured) == {"b", "c", "d", "e"}
    assert offline.unmeasured["c"].startswith("rules only")


def test_a_type_change_lists_the_constraint_index_it_builds_again(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """ALTER COLUMN TYPE drops a constraint's index and builds it again under a new oid:
    still a rebuild of that index, listed beside the table."""
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, u int UNIQUE, v int)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN u TYPE bigint"))
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE t ADD COLUMN e varchar(50) UNIQUE"))
    # a new oid, the same file: PostgreSQL kept the index's storage (no rebuild)
    project.add(Rev("d", "c", TIMEOUT + "ALTER TABLE t ALTER COLUMN e TYPE varchar(200)"))
    result = _lint(project, make_database("lint_rebuilt"), start="a")
    [rewrite] = result.rewrites["b"]
    assert set(rewrite["relations"]) == {"public.t", "public.t_pkey", "public.t_u_key"}
    assert result.rewrites["d"] == []


def test_the_shadows_proof_is_read_again_before_each_revision(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """NOT NULL dropped by one revision and set again by the next: the second scans (the
    catalog before it says so, not what was true before the first). A check added NOT
    VALID by an applied revision, validated in the linted one: no scan."""
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, x int NOT NULL, y int);"
            "ALTER TABLE t ADD CONSTRAINT t_y_nn CHECK (y IS NOT NULL) NOT VALID")
    )  # fmt: skip
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN x DROP NOT NULL"))
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE t ALTER COLUMN x SET NOT NULL"))
    project.add(
        Rev("d", "c", TIMEOUT + "ALTER TABLE t VALIDATE CONSTRAINT t_y_nn;"
            "ALTER TABLE t ALTER COLUMN y SET NOT NULL")
    )  # fmt: skip
    result = _lint(project, make_database("lint_proofs"), start="a")
    assert result.measured
    assert _rules(result) == [("c", "adding-not-nullable-field")], result.findings


def test_an_index_name_used_again_elsewhere_is_no_rebuild(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, x int); CREATE INDEX ix ON t (x);"
            "CREATE TABLE u (id int PRIMARY KEY)")
    )  # fmt: skip
    project.add(Rev("b", "a", TIMEOUT + "DROP TABLE u; CREATE TABLE u (id int PRIMARY KEY)"))
    project.add(
        Rev("c", "b", TIMEOUT + "DROP INDEX ix; CREATE TABLE w (x int); CREATE INDEX ix ON w (x)")
    )
    result = _lint(project, make_database("lint_not_rebuilt"), start="a")
    assert result.rewrites == {"b": [], "c": []}, result.rewrites


def test_the_offline_sql_lets_no_engine_of_the_project_connect(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """A revision that builds its own engine while Alembic prints SQL offline: refused
    before it connects, said on that revision; the database it names is untouched."""
    import psycopg

    from dbctl.pg.url import libpq_url

    url = make_database("lint_offline_engine")
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY)"))
    project.add(
        Rev("b", "a", f"""py:
            import sqlalchemy as sa
            engine = sa.create_engine({url!r})
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE pwned (id int)"))
            op.add_column("t", sa.Column("x", sa.Integer()))
        """)
    )  # fmt: skip
    result = _lint(project, url, start="a", offline=True)
    [failed] = [f for f in result.findings if f.rule == "lint-offline-sql"]
    assert "connects to a database while Alembic prints the SQL offline" in failed.message
    assert "versions/b.py:" in failed.message
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT to_regclass('pwned')").fetchone()
    assert row == (None,)


USERS_AND_ORDERS = (
    "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE orders (id int PRIMARY KEY, user_id int)"
)


def _users_and_orders(project: AlembicProject, url: str) -> str:
    """``url`` at revision a, 30,000 users and 30,000 orders each pointing to one."""
    from dbctl.lifecycle.migrate import upgrade

    upgrade(project.settings(url), url, revision="a")
    _execute(
        url,
        "INSERT INTO users SELECT g FROM generate_series(1, 30000) g",
        "INSERT INTO orders SELECT g, 1 + g % 30000 FROM generate_series(1, 30000) g",
        "ANALYZE",
    )
    return url


def test_a_table_a_pending_revision_gives_a_foreign_key_is_not_sampled(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """Sampled apart from its parent, the child's rows would break the foreign key the
    real data satisfies: a failure production never sees, and nothing measured after it."""

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, USERS_AND_ORDERS))
    project.add(
        Rev("b", "a", TIMEOUT + "ALTER TABLE orders ADD CONSTRAINT fk_orders_user "
            "FOREIGN KEY (user_id) REFERENCES users (id)")
    )  # fmt: skip
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE orders ADD COLUMN note text"))
    url = _users_and_orders(project, make_database("lint_sample_new_fk"))
    result = _lint(project, url, sample_rows=1000)
    assert ("b", "migration-failed") not in _rules(result), result.findings
    assert set(result.locks) == {"b", "c"}
    assert result.sample is not None and result.sample["tables"] == 1  # users only
    assert any("public.orders: a linted revision gives it a foreign key" in n for n in result.notes)


def test_a_type_change_the_rule_thought_might_not_rewrite_is_an_error_when_it_does(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY, note text, code varchar(10))"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ALTER COLUMN note TYPE varchar(100)"))
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE t ALTER COLUMN code TYPE varchar(20)"))
    result = _lint(project, make_database("lint_may_rewrite"), start="a")
    [shrunk] = [f for f in result.findings if f.rule == "changing-column-type"
                and f.evidence["revision"] == "b"]  # fmt: skip
    assert shrunk.severity.value == "error"
    assert "Measured in the shadow: it rewrote public.t" in shrunk.message
    [widened] = [f for f in result.findings if f.rule == "changing-column-type"
                 and f.evidence["revision"] == "c"]  # fmt: skip
    assert widened.severity.value == "info"
    assert "no rewrite" in widened.message


@pytest.mark.parametrize(
    ("schema", "index"),
    [("", "ix_events_kind"), ("billing.", "ix_events_kind"), ("", "ix_" + "k" * 60)],
)
def test_an_index_on_a_partitioned_table_gets_a_fix_that_runs(
    tmp_path: Path, make_database: Callable[[str], str], schema: str, index: str
) -> None:
    """CREATE INDEX CONCURRENTLY is refused on a partitioned table: the fix builds the
    parent's index ON ONLY, each partition's concurrently, and attaches them. The fix is
    run as the next revision, on a real database: the parent's index ends valid."""
    import psycopg

    from dbctl.lifecycle.migrate import upgrade
    from dbctl.pg.url import libpq_url

    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE SCHEMA billing;"
            f"CREATE TABLE {schema}events (id int, kind text) PARTITION BY LIST (kind);"
            f"CREATE TABLE {schema}events_a PARTITION OF {schema}events FOR VALUES IN ('a');"
            f"CREATE TABLE billing.events_b PARTITION OF {schema}events FOR VALUES IN ('b')")
    )  # fmt: skip
    project.add(Rev("b", "a", TIMEOUT + f"CREATE INDEX {index} ON {schema}events (kind)"))
    url = make_database("lint_partitioned_index")
    [finding] = [
        f for f in _lint(project, url, start="a").findings
        if f.rule == "require-concurrent-index-creation"
    ]  # fmt: skip
    fix = finding.suggestion or ""
    assert f"ON ONLY {schema}events" in fix and "ATTACH PARTITION" in fix
    body = "\n".join(line for line in fix.splitlines() if not line.startswith("#"))
    project.add(Rev("c", "a", "py:\n" + body))
    (project.versions / "b.py").unlink()
    upgrade(project.settings(url), url)
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
            f"ON c.oid = i.indexrelid WHERE i.indrelid = '{schema}events'::regclass"
        ).fetchall()
    assert rows == [(index, True)]


def test_a_primary_key_made_again_on_other_columns_is_a_new_index_not_a_rebuild(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """mlflow drops a primary key and adds one of the same name on more columns: a new
    index (the rules say what ADD PRIMARY KEY costs), not a rebuild of the old one."""
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE m (id int, ws text NOT NULL DEFAULT 'x', "
                               "CONSTRAINT m_pk PRIMARY KEY (id))"))  # fmt: skip
    project.add(
        Rev("b", "a", TIMEOUT + "ALTER TABLE m DROP CONSTRAINT m_pk;"
            "ALTER TABLE m ADD CONSTRAINT m_pk PRIMARY KEY (ws, id)")
    )  # fmt: skip
    result = _lint(project, make_database("lint_new_pk"), start="a")
    assert result.rewrites["b"] == []
    assert ("b", "disallowed-unique-constraint") in _rules(result)


def test_offline_with_a_database_url_says_it_lints_every_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dbctl.cli import app

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t ADD COLUMN x int"))
    monkeypatch.chdir(project.root)
    url = "postgresql+psycopg://nobody@127.0.0.1:9/never_read"
    run = CliRunner().invoke(app, ["lint-migrations", "--offline", "--database-url", url])
    assert run.exit_code == 0, run.output
    assert "--offline reads no database, so not which revisions it has applied" in run.stderr
    narrowed = CliRunner().invoke(
        app, ["lint-migrations", "--offline", "--database-url", url, "--from", "a"]
    )
    assert "--offline reads no database" not in narrowed.stderr


def test_an_ignore_of_a_rule_that_does_not_exist_is_said(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int, n int)"))
    project.add(
        Rev("b", "a", """py:
            # dbctl: ignore[changing-column-typo] reviewed
            op.execute("ALTER TABLE t ALTER COLUMN n TYPE bigint")
        """)
    )  # fmt: skip
    result = _lint(project, "postgresql+psycopg://nobody@127.0.0.1:9/none", start="a",
                   offline=True)  # fmt: skip
    assert ("b", "changing-column-type") in _rules(result)  # not ignored
    assert result.ignored == []
    assert any("ignore[changing-column-typo] names no rule" in note for note in result.notes)


def test_what_was_measured_is_matched_by_schema_and_name(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE SCHEMA billing;"
            "CREATE TABLE users (id int PRIMARY KEY, name text);"
            "CREATE TABLE billing.users (id int PRIMARY KEY, n int);"
            "CREATE TABLE events (id int, kind text) PARTITION BY LIST (kind);"
            "CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');"
            "CREATE TABLE billing.events (id int, kind text)")
    )  # fmt: skip
    project.add(
        Rev("b", "a", TIMEOUT + "ALTER TABLE users ALTER COLUMN name TYPE varchar;"
            "ALTER TABLE billing.users ALTER COLUMN n TYPE bigint;"
            "CREATE INDEX ix_billing_events_kind ON billing.events (kind)")
    )  # fmt: skip
    result = _lint(project, make_database("lint_schemas"), start="a")
    [public_users] = [f for f in result.findings
                      if f.rule == "changing-column-type" and f.table == "users"]  # fmt: skip
    assert public_users.severity.value == "info", public_users.message
    assert "billing" not in public_users.message
    [index] = [f for f in result.findings if f.rule == "require-concurrent-index-creation"]
    assert "ON ONLY" not in (index.suggestion or "")
    assert "postgresql_concurrently=True" in (index.suggestion or "")


def test_a_foreign_key_the_sample_breaks_is_measured_again_without_it(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """A new table pointing to users, filled from orders: sampled apart, orders' user ids
    miss their users in the shadow, which production's full data has. Measured again
    without the sample: every revision measured, a warning that says why."""

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, USERS_AND_ORDERS))
    project.add(
        Rev("b", "a", TIMEOUT + "CREATE TABLE order_owner (order_id int PRIMARY KEY, "
            "user_id int NOT NULL REFERENCES users (id));"
            "INSERT INTO order_owner SELECT id, user_id FROM orders")
    )  # fmt: skip
    project.add(Rev("c", "b", TIMEOUT + "ALTER TABLE orders ADD COLUMN note text"))
    url = _users_and_orders(project, make_database("lint_sample_broke"))
    result = _lint(project, url, sample_rows=1000)
    assert not result.failed and set(result.locks) == {"b", "c"}
    assert set(result.sample_broke) == {"b"}
    assert result.sample is None  # what was finally measured had none
    assert not any(note.startswith("a sample of the live database") for note in result.notes)
    [warning] = [f for f in result.findings if f.rule == "migration-failed"]
    assert warning.severity.value == "warning"
    assert "violates foreign key constraint" in warning.message
    assert "not closed under foreign keys" in warning.message


def test_offline_says_the_rewrites_the_sql_makes_whatever_the_columns(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE t (id int PRIMARY KEY)"))
    project.add(Rev("b", "a", TIMEOUT + "ALTER TABLE t SET UNLOGGED"))
    result = _lint(project, "postgresql+psycopg://nobody@127.0.0.1:9/none", start="a",
                   offline=True)  # fmt: skip
    assert _rules(result) == [("b", "table-rewrite")]


def test_a_table_the_search_path_finds_keeps_its_measured_verdict(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE SCHEMA app; CREATE TABLE app.t (a int)"))
    project.add(
        Rev("b", "a", TIMEOUT + "SET search_path TO app, public;"
            "ALTER TABLE t ALTER COLUMN a TYPE bigint")
    )  # fmt: skip
    result = _lint(project, make_database("lint_search_path"), start="a")
    [change] = [f for f in result.findings if f.rule == "changing-column-type"]
    assert change.severity.value == "error", change.message
    assert "ACCESS EXCLUSIVE on app.t" in change.message


def test_revisions_in_range_but_not_linted_still_prove_a_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--git-base lints an edited r2 and a new r5: r3 and r4, between them, add and
    validate the CHECK that makes r5's SET NOT NULL the safe pattern's last step."""
    from tests.support.lint_chain import git_commit_all

    project = AlembicProject(tmp_path / "p")
    project.add(Rev("r1", None, "CREATE TABLE t (id int, a int)"))
    project.add(Rev("r2", "r1", TIMEOUT + "ALTER TABLE t ADD COLUMN b int"))
    project.add(
        Rev("r3", "r2", TIMEOUT + "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID")
    )
    project.add(Rev("r4", "r3", TIMEOUT + "ALTER TABLE t VALIDATE CONSTRAINT c"))
    monkeypatch.chdir(project.root)
    git_commit_all(project.root)
    path = project.versions / "r2.py"
    path.write_text(path.read_text() + "\n# edited\n")
    project.add(Rev("r5", "r4", TIMEOUT + "ALTER TABLE t ALTER COLUMN a SET NOT NULL"))
    result = _lint(project, "postgresql+psycopg://nobody@127.0.0.1:9/none", git_base="HEAD",
                   offline=True)  # fmt: skip
    assert result.revisions == ["r2", "r5"]
    assert _rules(result) == []


def test_offline_knows_from_the_revisions_before_what_a_drop_locks(tmp_path: Path) -> None:
    """The foreign key and the index were made before the range: dropping them locks the
    table pointed to and the index's table, as the shadow measures."""
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE TABLE users (id int PRIMARY KEY);"
            "CREATE TABLE child (id int, user_id int REFERENCES users (id), note text);"
            "CREATE INDEX ix_child_note ON child (note)")
    )  # fmt: skip
    project.add(Rev("b", "a", "DROP INDEX ix_child_note"))
    project.add(Rev("c", "b", "DROP TABLE child"))
    result = _lint(project, "postgresql+psycopg://nobody@127.0.0.1:9/none", start="a",
                   offline=True)  # fmt: skip
    timeouts = sorted(
        (str(f.evidence["revision"]), f.table) for f in result.findings
        if f.rule == "require-timeout-settings"
    )  # fmt: skip
    assert timeouts == [("b", "child"), ("c", "child"), ("c", "users")]


def test_measured_a_drop_index_names_the_table_from_the_shadows_catalog(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    project = AlembicProject(tmp_path / "p")
    project.add(Rev("a", None, "CREATE TABLE users (id int, email text);"
                               "CREATE INDEX ix_users_email ON users (email)"))  # fmt: skip
    project.add(Rev("b", "a", TIMEOUT + "DROP INDEX ix_users_email"))
    result = _lint(project, make_database("lint_drop_index_table"), start="a")
    [drop] = [f for f in result.findings if f.rule == "require-concurrent-index-deletion"]
    assert drop.table == "public.users"


def test_a_partitioned_tables_lock_is_one_finding_with_its_partitions(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    """ALTER TABLE on a partitioned table locks every partition too: one
    require-timeout-settings, on the table the revision names, as offline says it."""
    project = AlembicProject(tmp_path / "p")
    project.add(
        Rev("a", None, "CREATE TABLE events (id int, kind text) PARTITION BY LIST (kind);"
            "CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a');"
            "CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b')")
    )  # fmt: skip
    project.add(Rev("b", "a", "ALTER TABLE events ADD COLUMN note text"))
    url = make_database("lint_partition_locks")
    for offline in (False, True):
        result = _lint(project, url, start="a", offline=offline)
        [timeout] = [f for f in result.findings if f.rule == "require-timeout-settings"]
        assert timeout.table in ("public.events", "events")
        assert offline or "public.events and 2 of its partitions" in timeout.message
    assert {lock["table"] for lock in _lint(project, url, start="a").locks["b"]} == {
        "public.events",
        "public.events_a",
        "public.events_b",
    }  # the report's data keeps every lock
