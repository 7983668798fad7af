"""The revisions lint-migrations is tested and benchmarked on (tests/integration/
test_lint_migrations.py, bench/lint_vs_squawk.py): a base revision filling two tables with
100,000 rows, then one revision per hazard and one per safe pattern, in one chain."""

from __future__ import annotations

from pathlib import Path

from tests.support.alembic_project import AlembicProject, Rev

ROWS = 100_000
BASE = Rev(
    "r0",
    None,
    "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, plan text, n int);"
    "INSERT INTO accounts SELECT g, 'a' || g || '@x.org', 'free', g "
    f"FROM generate_series(1, {ROWS}) g;"
    "CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint NOT NULL, at timestamp);"
    f"INSERT INTO orders SELECT g, 1 + g % {ROWS}, now() FROM generate_series(1, {ROWS}) g",
)
TIMEOUT = "SET lock_timeout = '2s';"
# (revision, SQL, autocommit): hazards (h_), then safe patterns (s_), one chain after r0
CHAIN: list[tuple[str, str, bool]] = [
    ("h_index", "CREATE INDEX ix_accounts_email ON accounts (email)", False),
    ("h_type", "ALTER TABLE accounts ALTER COLUMN n TYPE bigint", False),
    ("h_not_null", "ALTER TABLE accounts ALTER COLUMN plan SET NOT NULL", False),
    (
        "h_fk",
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_account "
        "FOREIGN KEY (account_id) REFERENCES accounts (id)",
        False,
    ),
    ("h_volatile", "ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid()", False),
    ("h_rename", TIMEOUT + "ALTER TABLE accounts RENAME COLUMN email TO mail", False),
    # the rule cannot tell; the shadow can: timestamp -> timestamptz in UTC keeps the file
    (
        "m_timestamptz",
        TIMEOUT + "SET LOCAL timezone = 'UTC'; ALTER TABLE orders ALTER COLUMN at TYPE timestamptz",
        False,
    ),
    ("s_concurrent", "CREATE INDEX CONCURRENTLY ix_orders_account ON orders (account_id)", True),
    (
        "s_not_valid",
        TIMEOUT + "ALTER TABLE orders ADD CONSTRAINT ck_orders_positive CHECK (id > 0) NOT VALID",
        False,
    ),
    ("s_validate", TIMEOUT + "ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_positive", False),
    ("s_nullable", TIMEOUT + "ALTER TABLE accounts ADD COLUMN note text", False),
    (
        "s_default",
        TIMEOUT + "ALTER TABLE accounts ADD COLUMN active boolean NOT NULL DEFAULT true",
        False,
    ),
    (
        "s_new_table",
        "CREATE TABLE events (id bigint PRIMARY KEY, account_id bigint, kind text);"
        "CREATE INDEX ix_events_kind ON events (kind);"
        "ALTER TABLE events ALTER COLUMN kind TYPE varchar(20);"
        "ALTER TABLE events ADD CONSTRAINT fk_events_account "
        "FOREIGN KEY (account_id) REFERENCES events (id)",
        False,
    ),
]


def lint_project(root: Path) -> AlembicProject:
    """An Alembic project at ``root`` holding BASE and CHAIN."""
    project = AlembicProject(root)
    project.add(BASE)
    down = BASE.revision
    for revision, sql, autocommit in CHAIN:
        project.add(Rev(revision, down, sql, autocommit=autocommit))
        down = revision
    return project


def git_commit_all(root: Path) -> None:
    """``root`` as a git repository with everything in it committed (for --git-base)."""
    import subprocess

    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "."], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=root, check=True)
