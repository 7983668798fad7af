"""The SQL rules of lint-migrations (dbctl/lint/rules.py): Alembic's offline SQL in, hazards
out. Every fix a test sees is compiled and run against a recording ``op``, and the SQL it
passes to ``op.execute`` is parsed by PostgreSQL's parser."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import parse_sql
from pglast.ast import Node

from dbctl.access.lexer import split_statements
from dbctl.lint.names import Table
from dbctl.lint.proofs import NotNullProofs
from dbctl.lint.rules import Hit, Linted, lint_statements
from dbctl.rule_ids import RULES

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "fuzz" / "regress_sample.sql"

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class Recorder:
    """Stands for ``op`` and ``sa``: every call is recorded, ``with`` works on it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Recorder:
            self.calls.append((name, args, kwargs))
            return self

        return call

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def run_fix(fix: str) -> list[Call]:
    """The fix compiled and run: the op.* calls it makes (autocommit_block's own left out);
    the SQL it executes must parse."""
    code = compile(fix, "<fix>", "exec")
    op = Recorder()
    exec(code, {"op": op, "sa": Recorder()})
    calls = [c for c in op.calls if c[0] not in {"get_context", "autocommit_block"}]
    for name, args, _ in calls:
        if name == "execute":
            assert len(parse_sql(args[0])) == 1, args[0]
    return calls


def lint(
    *statements: str, server_version: int = 150000, proofs: NotNullProofs | None = None
) -> Linted:
    linted = lint_statements(statements, server_version=server_version, proofs=proofs)
    for hit in linted.hits:
        assert hit.rule in RULES, hit.rule
        assert hit.severity in {"error", "warning"}
        assert hit.message.strip(), hit
        run_fix(hit.fix)
    return linted


def one(*statements: str, server_version: int = 150000) -> Hit:
    hits = lint(*statements, server_version=server_version).hits
    assert len(hits) == 1, hits
    return hits[0]


# -- every rule: one hazardous statement ------------------------------------------------------

HAZARDS = [
    # (sql, rule, table, severity, the fix mentions)
    (
        "CREATE INDEX ix_users_email ON users (email)",
        "require-concurrent-index-creation",
        "users",
        "error",
        ["autocommit_block()", "op.create_index('ix_users_email', 'users', ['email']",
         "postgresql_concurrently=True"],
    ),
    (
        "CREATE UNIQUE INDEX ix ON public.users USING gin (lower(email)) WHERE deleted IS NULL",
        "require-concurrent-index-creation",
        "public.users",
        "error",
        ["autocommit_block()", "CREATE UNIQUE INDEX CONCURRENTLY ix ON public.users USING gin"],
    ),
    (
        "DROP INDEX ix_users_email",
        "require-concurrent-index-deletion",
        None,
        "warning",
        ["autocommit_block()", "op.drop_index('ix_users_email'", "postgresql_concurrently=True"],
    ),
    (
        "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey "
        "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE",
        "constraint-missing-not-valid",
        "orders",
        "error",
        ["op.create_foreign_key('orders_user_id_fkey', 'orders', 'users', ['user_id'], ['id']",
         "ondelete='CASCADE'", "postgresql_not_valid=True",
         "VALIDATE CONSTRAINT orders_user_id_fkey"],
    ),
    (
        "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0)",
        "constraint-missing-not-valid",
        "orders",
        "error",
        ["CHECK (total > 0) NOT VALID", "VALIDATE CONSTRAINT positive"],
    ),
    (
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
        "disallowed-unique-constraint",
        "users",
        "error",
        ["op.create_index('users_email_key', 'users', ['email'], unique=True",
         "postgresql_concurrently=True",
         "ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key"],
    ),
    (
        "ALTER TABLE users ADD PRIMARY KEY (id)",
        "disallowed-unique-constraint",
        "users",
        "error",
        ["op.create_index('users_pkey'", "PRIMARY KEY USING INDEX users_pkey"],
    ),
    (
        "ALTER TABLE users ADD COLUMN age int NOT NULL",
        "adding-not-nullable-field",
        "users",
        "error",
        ["ADD COLUMN age integer'", "CHECK (age IS NOT NULL) NOT VALID", "VALIDATE CONSTRAINT",
         "SET NOT NULL"],
    ),
    (
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
        "adding-not-nullable-field",
        "users",
        "error",
        ["CHECK (email IS NOT NULL) NOT VALID", "VALIDATE CONSTRAINT users_email_not_null",
         "SET NOT NULL", "DROP CONSTRAINT users_email_not_null"],
    ),
    (
        "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()",
        "adding-field-with-default",
        "users",
        "error",
        ["ADD COLUMN token uuid'", "ALTER COLUMN token SET DEFAULT gen_random_uuid()"],
    ),
    (
        "ALTER TABLE users ADD COLUMN n bigserial",
        "adding-field-with-default",
        "users",
        "error",
        ["ADD COLUMN n bigint'", "CREATE SEQUENCE users_n_seq OWNED BY users.n",
         "SET DEFAULT nextval"],
    ),
    (
        "ALTER TABLE users ADD COLUMN total int GENERATED ALWAYS AS (a + b) STORED",
        "adding-stored-generated-column",
        "users",
        "error",
        ["ADD COLUMN total integer'", "UPDATE users SET total = a + b"],
    ),
    (
        "ALTER TABLE users ALTER COLUMN id TYPE bigint",
        "changing-column-type",
        "users",
        "error",
        ["ADD COLUMN id_new bigint", "RENAME COLUMN id_new TO id"],
    ),
    (
        "ALTER TABLE users RENAME COLUMN email TO mail",
        "renaming-column",
        "users",
        "warning",
        ["op.add_column('users', sa.Column('mail'", "op.drop_column('users', 'email')"],
    ),
    (
        "ALTER TABLE public.users RENAME TO accounts",
        "renaming-table",
        "public.users",
        "warning",
        ["op.rename_table('users', 'accounts', schema='public')",
         "CREATE VIEW public.users AS SELECT * FROM public.accounts"],
    ),
    (
        "ALTER TABLE users DROP COLUMN email",
        "ban-drop-column",
        "users",
        "warning",
        ["op.drop_column('users', 'email')"],
    ),
    (
        "DROP TABLE public.users",
        "ban-drop-table",
        "public.users",
        "warning",
        ["op.drop_table('users', schema='public')"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "rule", "table", "severity", "fixes"), HAZARDS)
def test_each_rule_finds_its_hazard(
    sql: str, rule: str, table: str | None, severity: str, fixes: list[str]
) -> None:
    hit = one(sql)
    assert (hit.rule, hit.table, hit.severity, hit.statement) == (rule, table, severity, 0)
    for expected in fixes:
        assert expected in hit.fix, (expected, hit.fix)


def test_the_message_names_the_lock_and_what_it_blocks() -> None:
    index = one("CREATE INDEX ix ON users (email)")
    assert "SHARE lock" in index.message and "writes to users wait" in index.message
    fk = one("ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES public.users (id)")
    assert "SHARE ROW EXCLUSIVE" in fk.message and "public.users" in fk.message
    assert "VALIDATE CONSTRAINT orders_user_id_fkey" in fk.fix  # the name PostgreSQL chooses
    one_column, two = lint(
        "ALTER TABLE orders ADD CHECK (total > 0)", "ALTER TABLE t ADD CHECK (a < b)"
    ).hits
    assert "ADD CONSTRAINT orders_total_check CHECK (total > 0) NOT VALID" in one_column.fix
    assert "ACCESS EXCLUSIVE" in one_column.message
    assert "ADD CONSTRAINT t_check CHECK (a < b) NOT VALID" in two.fix
    rewrite = one("ALTER TABLE users ALTER COLUMN id TYPE bigint")
    assert "ACCESS EXCLUSIVE" in rewrite.message and "rewrite" in rewrite.message


def test_the_fix_runs_with_the_statement_s_names() -> None:
    hit = one("CREATE INDEX ix ON app.users (email, name) INCLUDE (id)")
    assert run_fix(hit.fix) == [
        (
            "create_index",
            ("ix", "users", ["email", "name"]),
            {"schema": "app", "postgresql_include": ["id"], "postgresql_concurrently": True},
        )
    ]
    fk = one("ALTER TABLE s.orders ADD CONSTRAINT fk FOREIGN KEY (a, b) REFERENCES t.u (x, y)")
    [create, validate] = run_fix(fk.fix)
    assert create == (
        "create_foreign_key",
        ("fk", "orders", "u", ["a", "b"], ["x", "y"]),
        {"source_schema": "s", "referent_schema": "t", "postgresql_not_valid": True},
    )
    assert validate == ("execute", ("ALTER TABLE s.orders VALIDATE CONSTRAINT fk",), {})


def test_enum_value_in_a_transaction_before_postgresql_12() -> None:
    statements = ["BEGIN", "ALTER TYPE mood ADD VALUE 'ecstatic'", "COMMIT"]
    hit = one(*statements, server_version=110000)
    assert (hit.rule, hit.severity, hit.statement, hit.table) == (
        "adding-enum-value-in-transaction", "error", 1, None
    )  # fmt: skip
    assert run_fix(hit.fix) == [("execute", ("ALTER TYPE mood ADD VALUE 'ecstatic'",), {})]
    assert "autocommit_block()" in hit.fix
    assert lint(*statements, server_version=120000).hits == ()
    assert lint(statements[1], server_version=110000).hits == ()  # no transaction open


def test_postgresql_10_rewrites_for_every_default() -> None:
    sql = "ALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0"
    hit = one(sql, server_version=100000)
    assert (hit.rule, hit.severity) == ("adding-field-with-default", "error")
    assert "ALTER COLUMN n SET DEFAULT 0" in hit.fix
    assert lint(sql).hits == ()


def test_a_function_of_unknown_volatility_is_a_warning() -> None:
    hit = one("ALTER TABLE users ADD COLUMN code text DEFAULT make_code()")
    assert (hit.rule, hit.severity) == ("adding-field-with-default", "warning")
    assert "volatile" in hit.message


def test_type_changes_that_may_not_rewrite_are_warnings() -> None:
    for target in ["varchar(200)", "text", "character varying", "numeric(12, 2)"]:
        hit = one(f"ALTER TABLE users ALTER COLUMN name TYPE {target}")
        assert (hit.rule, hit.severity) == ("changing-column-type", "warning"), target
        assert "may not rewrite" in hit.message
    using = one("ALTER TABLE users ALTER COLUMN name TYPE text USING name || 'x'")
    assert using.severity == "error"
    assert "UPDATE users SET name_new = name || 'x'" in using.fix


def test_inline_constraints_of_an_added_column() -> None:
    hits = lint(
        "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id), "
        "ADD COLUMN code text UNIQUE"
    ).hits
    assert [(h.rule, h.table) for h in hits] == [
        ("constraint-missing-not-valid", "orders"),
        ("disallowed-unique-constraint", "orders"),
    ]
    assert "ADD COLUMN user_id bigint'" in hits[0].fix
    assert "'orders_user_id_fkey'" in hits[0].fix and "postgresql_not_valid=True" in hits[0].fix
    assert "ADD COLUMN code text'" in hits[1].fix
    assert "UNIQUE USING INDEX orders_code_key" in hits[1].fix


# -- the safe patterns give no hit -------------------------------------------------------------

SAFE = [
    ["CREATE INDEX CONCURRENTLY ix ON users (email)"],
    ["BEGIN", "SELECT 1", "COMMIT", "CREATE INDEX CONCURRENTLY ix ON users (email)", "BEGIN",
     "UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a'",
     "COMMIT"],
    ["DROP INDEX CONCURRENTLY ix"],
    ["ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID"],
    ["ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID"],
    ["ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT ENFORCED"],
    ["ALTER TABLE orders VALIDATE CONSTRAINT fk"],
    ["ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key"],
    ["ALTER TABLE users ADD COLUMN nickname text"],
    ["ALTER TABLE users ADD COLUMN n int DEFAULT 0 NOT NULL"],
    ["ALTER TABLE users ADD COLUMN at timestamptz DEFAULT now() NOT NULL"],
    ["ALTER TABLE users ADD COLUMN at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP"],
    ["ALTER TABLE users ADD COLUMN tags jsonb NOT NULL DEFAULT '[]'::jsonb"],
    ["ALTER TABLE users ADD COLUMN n int DEFAULT NULL"],
    ["ALTER TABLE users ADD COLUMN v int GENERATED ALWAYS AS (a + 1) VIRTUAL"],
    ["ALTER TABLE users ALTER COLUMN n SET DEFAULT 1"],
    ["ALTER TABLE users ALTER COLUMN n DROP NOT NULL"],
    ["ALTER INDEX ix RENAME TO ix2"],
    ["ALTER TABLE users RENAME CONSTRAINT a TO b"],
    ["CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
     "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
     "INSERT INTO alembic_version (version_num) VALUES ('a') RETURNING version_num"],
    ["ALTER TABLE alembic_version ALTER COLUMN version_num TYPE VARCHAR(64)",
     "DELETE FROM alembic_version WHERE alembic_version.version_num = 'a'"],
    ["SET lock_timeout = '2s'", "SELECT 1", "UPDATE users SET n = 1 WHERE id = 1"],
    ["ALTER TABLE users ADD CONSTRAINT c CHECK (email IS NOT NULL) NOT VALID",
     "ALTER TABLE users VALIDATE CONSTRAINT c",
     "ALTER TABLE users ALTER COLUMN email SET NOT NULL"],
    ['ALTER TABLE public."Users" ADD CONSTRAINT "C" CHECK ("Email" IS NOT NULL) NOT VALID',
     'ALTER TABLE "Users" VALIDATE CONSTRAINT "C"',
     'ALTER TABLE "Users" ALTER COLUMN "Email" SET NOT NULL'],
    [""],
    ["-- only a comment"],
]  # fmt: skip


@pytest.mark.parametrize("statements", SAFE)
def test_safe_patterns_give_no_hit(statements: list[str]) -> None:
    assert lint(*statements).hits == ()


def _proofs(*columns: tuple[str, str, str]) -> NotNullProofs:
    return NotNullProofs.from_catalog((*column, "c", True) for column in columns)


SET_NOT_NULL = "ALTER TABLE users ALTER COLUMN email SET NOT NULL"
ADD_CHECK = "ALTER TABLE users ADD CONSTRAINT c CHECK (email IS NOT NULL) NOT VALID"
VALIDATE = "ALTER TABLE users VALIDATE CONSTRAINT c"


def test_set_not_null_is_a_scan_unless_a_valid_check_proves_the_column() -> None:
    """PostgreSQL 12+ skips SET NOT NULL's scan when a validated CHECK (col IS NOT NULL)
    proves it: the check validated before (``proofs``: the shadow's catalog, or the
    revisions before), or here."""
    assert lint(SET_NOT_NULL, proofs=_proofs(("public", "users", "email"))).hits == ()
    for other in (("public", "users", "name"), ("billing", "users", "email")):
        assert [h.rule for h in lint(SET_NOT_NULL, proofs=_proofs(other)).hits] == [
            "adding-not-nullable-field"
        ]
    assert [h.rule for h in lint(ADD_CHECK, SET_NOT_NULL).hits] == ["adding-not-nullable-field"]
    other_table = "ALTER TABLE orders VALIDATE CONSTRAINT c"
    assert [h.rule for h in lint(ADD_CHECK, other_table, SET_NOT_NULL).hits] == [
        "adding-not-nullable-field"
    ]
    before_12 = lint(
        SET_NOT_NULL, proofs=_proofs(("public", "users", "email")), server_version=110000
    )
    assert [h.rule for h in before_12.hits] == ["adding-not-nullable-field"]
    validated = lint(ADD_CHECK, VALIDATE)
    assert validated.proofs.proves(Table(None, "users"), "email")
    assert lint(SET_NOT_NULL, proofs=validated.proofs).hits == ()  # the next revision


@pytest.mark.parametrize(
    "undone",
    [
        "ALTER TABLE users DROP CONSTRAINT c",
        "ALTER TABLE users DROP COLUMN email",
        "ALTER TABLE users RENAME COLUMN email TO mail",
        "ALTER TABLE users RENAME TO people",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(200)",
    ],
)
def test_a_proof_undone_before_set_not_null_leaves_the_scan(undone: str) -> None:
    hits = lint(ADD_CHECK, VALIDATE, undone, SET_NOT_NULL).hits
    assert "adding-not-nullable-field" in [h.rule for h in hits]


def test_dropping_not_null_undoes_it_unless_a_check_still_proves_it() -> None:
    catalog = NotNullProofs.from_catalog([("public", "users", "email", None, True)])
    drop = "ALTER TABLE users ALTER COLUMN email DROP NOT NULL"
    assert lint(SET_NOT_NULL, proofs=catalog).hits == ()  # NOT NULL already: no scan
    assert [h.rule for h in lint(drop, SET_NOT_NULL, proofs=catalog).hits] == [
        "adding-not-nullable-field"
    ]
    assert lint(ADD_CHECK, VALIDATE, drop, SET_NOT_NULL).hits == ()
    quoted = 'ALTER TABLE "Users" ALTER COLUMN email SET NOT NULL'
    assert [h.rule for h in lint(ADD_CHECK, VALIDATE, quoted).hits] == ["adding-not-nullable-field"]


def test_tables_created_in_the_same_statements_are_exempt() -> None:
    linted = lint(
        "BEGIN",
        "CREATE TABLE users (id int, email text, n int)",
        "CREATE INDEX ix ON public.users (email)",
        "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (n) REFERENCES orgs (id), "
        "ADD CONSTRAINT c CHECK (n > 0), ADD UNIQUE (email), ADD COLUMN a int NOT NULL, "
        "ADD COLUMN b uuid DEFAULT gen_random_uuid(), ALTER COLUMN n TYPE bigint, "
        "ALTER COLUMN email SET NOT NULL, DROP COLUMN a",
        "ALTER TABLE users RENAME COLUMN b TO c",
        "DROP INDEX ix",
        "ALTER TABLE users RENAME TO members",
        "CREATE INDEX ix2 ON members (n)",
        "DROP TABLE members",
        "CREATE TABLE copied AS SELECT 1 AS one",
        "CREATE INDEX ix3 ON copied (one)",
        "COMMIT",
    )
    assert linted.hits == ()
    assert linted.created == frozenset(
        {("public", "users"), ("public", "members"), ("public", "copied")}
    )


@pytest.mark.parametrize(
    "statements",
    [
        ['CREATE TABLE "Orders" (id int)', "CREATE INDEX ix ON orders (id)"],
        ["CREATE TABLE billing.orders (id int)", "CREATE INDEX ix ON orders (id)"],
        ["CREATE TABLE orders (id int)", "CREATE INDEX ix ON billing.orders (id)"],
        ["CREATE TEMP TABLE orders (id int)", "CREATE INDEX ix ON public.orders (id)"],
    ],
)
def test_a_new_table_exempts_only_itself_not_a_namesake(statements: list[str]) -> None:
    assert [h.rule for h in lint(*statements).hits] == ["require-concurrent-index-creation"]


def test_a_temporary_table_is_exempt_by_its_bare_name() -> None:
    assert lint("CREATE TEMP TABLE scratch (id int)", "CREATE INDEX ix ON scratch (id)").hits == ()


def test_a_table_created_later_is_not_exempt_earlier() -> None:
    hit = one("CREATE INDEX ix ON users (email)", "CREATE TABLE users (email text)")
    assert hit.rule == "require-concurrent-index-creation"


# -- transactions ------------------------------------------------------------------------------


def test_concurrently_inside_a_transaction_is_an_error() -> None:
    hit = one("BEGIN", "CREATE INDEX CONCURRENTLY ix ON users (email)", "COMMIT")
    assert (hit.rule, hit.severity, hit.statement, hit.table) == (
        "ban-concurrent-index-creation-in-transaction", "error", 1, "users"
    )  # fmt: skip
    assert "cannot run inside a transaction block" in hit.message
    assert "autocommit_block()" in hit.fix and "postgresql_concurrently=True" in hit.fix


def test_concurrently_on_a_new_table_inside_a_transaction_still_fails() -> None:
    hits = lint("BEGIN", "CREATE TABLE t (a int)", "CREATE INDEX CONCURRENTLY ON t (a)").hits
    assert [h.rule for h in hits] == ["ban-concurrent-index-creation-in-transaction"]
    assert "CREATE INDEX CONCURRENTLY ON t (a)" in hits[0].fix  # unnamed: kept as SQL


def test_drop_index_concurrently_inside_a_transaction() -> None:
    hit = one("START TRANSACTION", "DROP INDEX CONCURRENTLY public.ix")
    assert (hit.rule, hit.statement) == ("ban-concurrent-index-creation-in-transaction", 1)
    assert run_fix(hit.fix) == [
        ("drop_index", ("ix",), {"schema": "public", "postgresql_concurrently": True})
    ]


@pytest.mark.parametrize("end", ["COMMIT", "END", "ROLLBACK", "PREPARE TRANSACTION 'x'"])
def test_after_the_transaction_ends_concurrently_is_fine(end: str) -> None:
    statements = ["BEGIN", "SELECT 1", end, "CREATE INDEX CONCURRENTLY ix ON users (email)"]
    assert lint(*statements).hits == ()


def test_savepoints_and_chains_keep_the_transaction_open() -> None:
    for middle in ["SAVEPOINT s", "ROLLBACK TO SAVEPOINT s", "COMMIT AND CHAIN"]:
        hits = lint("BEGIN", middle, "CREATE INDEX CONCURRENTLY ix ON users (email)").hits
        assert [h.rule for h in hits] == ["ban-concurrent-index-creation-in-transaction"]


def test_the_transaction_index_holds_for_every_statement_in_one_string() -> None:
    hits = lint("SELECT 1", "BEGIN; CREATE INDEX CONCURRENTLY ix ON users (email)").hits
    assert [(h.rule, h.statement) for h in hits] == [
        ("ban-concurrent-index-creation-in-transaction", 1)
    ]


# -- timeouts ----------------------------------------------------------------------------------

INDEX = "CREATE INDEX ix ON users (email)"


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["SET lock_timeout = '2s'", INDEX], True),
        (["SET lock_timeout TO 2000", INDEX], True),
        (["SET SESSION lock_timeout = '1min'", "BEGIN", INDEX], True),
        (["BEGIN", "SET LOCAL lock_timeout = '2s'", INDEX, "COMMIT"], True),
        ([INDEX, "SET lock_timeout = '2s'"], False),  # too late
        (["SET lock_timeout = 0", INDEX], False),
        (["SET lock_timeout = '0s'", INDEX], False),
        (["SET lock_timeout = '2s'", "RESET lock_timeout", INDEX], False),
        (["SET lock_timeout = '2s'", "SET lock_timeout TO DEFAULT", INDEX], False),
        (["SET lock_timeout = '2s'", "RESET ALL", INDEX], False),
        (["BEGIN", "SET LOCAL lock_timeout = '2s'", "COMMIT", INDEX], False),
        (["BEGIN", "SET lock_timeout = '2s'", "ROLLBACK", INDEX], False),
        (["SET LOCAL lock_timeout = '2s'", INDEX], False),  # no transaction: no effect
        (["ALTER TABLE users ADD COLUMN a text", "SET lock_timeout = '2s'", INDEX], False),
        (["SET lock_timeout = '2s'"], True),  # nothing locks: set anywhere
        (["SELECT 1"], False),
        ([], False),
        (["BEGIN", "SELECT set_config('lock_timeout', '2s', true)", INDEX], True),
        (["SELECT set_config('lock_timeout', '2s', false)", INDEX], True),
        (["BEGIN", "SELECT set_config('lock_timeout', '0', true)", INDEX], False),
        (["BEGIN", "SELECT set_config('lock_timeout', '2s', true)", "COMMIT", INDEX], False),
    ],
)
def test_sets_lock_timeout(statements: list[str], expected: bool) -> None:
    linted = lint(*statements)
    assert linted.sets_lock_timeout is expected
    assert linted.sets_statement_timeout is False


def test_set_config_of_statement_timeout_is_not_a_lock_timeout() -> None:
    linted = lint("SELECT set_config('statement_timeout', '2s', false)", INDEX)
    assert (linted.sets_statement_timeout, linted.sets_lock_timeout) == (True, False)


def test_sets_statement_timeout() -> None:
    linted = lint("SET statement_timeout = '5min'", INDEX)
    assert (linted.sets_statement_timeout, linted.sets_lock_timeout) == (True, False)


# -- input that is not what it should be -------------------------------------------------------


def test_unparsable_statements_are_listed_not_raised() -> None:
    linted = lint("CREATE INDX oops", INDEX, "SELECT 'unterminated", "SELECT '\ud800'")
    assert linted.unparsed == (0, 2, 3)
    assert [(h.rule, h.statement) for h in linted.hits] == [
        ("require-concurrent-index-creation", 1)
    ]


def test_one_hit_per_hazardous_command_of_a_statement() -> None:
    hits = lint(
        "ALTER TABLE users ADD COLUMN a int NOT NULL, ADD COLUMN b text, "
        "ALTER COLUMN c TYPE bigint, DROP COLUMN d"
    ).hits
    assert [h.rule for h in hits] == [
        "adding-not-nullable-field", "changing-column-type", "ban-drop-column"
    ]  # fmt: skip
    assert {h.statement for h in hits} == {0}


def test_one_hit_per_dropped_table() -> None:
    hits = lint("CREATE TABLE b (x int)", "DROP TABLE IF EXISTS a, b, s.c").hits
    assert [(h.rule, h.table) for h in hits] == [("ban-drop-table", "a"), ("ban-drop-table", "s.c")]
    assert run_fix(hits[1].fix) == [("drop_table", ("c",), {"schema": "s", "if_exists": True})]


HOSTILE = {'we"ird', "a'b", 'c"d', "x'y", "e\nf"}


def names_in(calls: list[Call]) -> set[str]:
    """The strings the calls pass, and those in the parse trees of the SQL they execute."""
    found: set[str] = set()
    for name, args, kwargs in calls:
        for value in [*args, *kwargs.values()]:
            if name != "execute":
                found |= set(value) if isinstance(value, list) else {value}
                continue
            stack: list[Any] = list(parse_sql(value))
            while stack:
                node = stack.pop()
                if isinstance(node, tuple):
                    stack.extend(node)
                elif isinstance(node, Node):
                    stack.extend(getattr(node, attr) for attr in node)
                elif isinstance(node, str):
                    found.add(node)
    return found


@pytest.mark.parametrize(
    "sql",
    [
        'CREATE INDEX "we""ird" ON "a\'b" ("c""d")',
        'CREATE INDEX "we""ird" ON "a\'b" (("c""d" || \'\'\'\'))',
        'DROP INDEX "we""ird"',
        'ALTER TABLE "a\'b" ADD CONSTRAINT "we""ird" FOREIGN KEY ("c""d") REFERENCES "x\'y"',
        'ALTER TABLE "a\'b" ADD CONSTRAINT "we""ird" FOREIGN KEY ("c""d") REFERENCES "x" ("i")',
        'ALTER TABLE "a\'b" ADD CONSTRAINT "we""ird" CHECK ("c""d" <> \'it\'\'s\')',
        'ALTER TABLE "a\'b" ADD UNIQUE ("c""d")',
        'ALTER TABLE "a\'b" ADD COLUMN "c""d" int NOT NULL',
        'ALTER TABLE "a\'b" ADD COLUMN "c""d" text DEFAULT random()::text || \'\'\'\n\'',
        'ALTER TABLE "a\'b" ADD COLUMN "c""d" serial',
        'ALTER TABLE "a\'b" ADD COLUMN "c""d" int GENERATED ALWAYS AS (1) STORED',
        'ALTER TABLE "a\'b" ALTER COLUMN "c""d" SET NOT NULL',
        'ALTER TABLE "a\'b" ALTER COLUMN "c""d" TYPE "we""ird" USING "c""d"::text',
        'ALTER TABLE "a\'b" RENAME COLUMN "c""d" TO "e\nf"',
        'ALTER TABLE "a\'b" RENAME TO "we""ird"',
        'ALTER TABLE "a\'b" DROP COLUMN "c""d"',
        'DROP TABLE "we""ird"."a\'b"',
    ],
)
def test_hostile_identifiers_give_fixes_that_compile(sql: str) -> None:
    [hit] = lint(sql).hits
    compile(hit.fix, "<fix>", "exec")
    assert names_in(run_fix(hit.fix)) & HOSTILE, hit.fix


def test_the_hostile_names_reach_the_op_calls_exactly() -> None:
    hit = one('CREATE INDEX "we""ird" ON "a\'b" ("c""d")')
    assert hit.table == '"a\'b"'
    [(name, args, _)] = run_fix(hit.fix)
    assert (name, args) == ("create_index", ('we"ird', "a'b", ['c"d']))


def test_postgresql_s_regression_sql_never_raises() -> None:
    statements = [text for text, _ in split_statements(SAMPLE.read_text(encoding="utf-8"))]
    for version in (100000, 110000, 150000):
        for prefix in ([], ["BEGIN"]):
            linted = lint(*prefix, *statements, server_version=version)
            assert {"require-concurrent-index-creation", "ban-drop-table"} <= {
                h.rule for h in linted.hits
            }
            assert len(linted.unparsed) < len(statements) // 4


TEMPLATES = [h[0] for h in HAZARDS] + [
    "BEGIN; CREATE INDEX CONCURRENTLY ON users (email); DROP INDEX CONCURRENTLY ix",
    "ALTER TABLE users ADD COLUMN n int REFERENCES orgs CHECK (n > 0) UNIQUE NOT NULL",
    "ALTER TABLE users ADD COLUMN t text DEFAULT 'a' || 'b', ALTER x TYPE text USING email",
]


NAMES = re.compile(r"\b(users|orders|email|id|ix\w*|orgs|n|x|total|token|age)\b")


@settings(max_examples=150, deadline=None)
@given(name=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")))
def test_any_name_gives_fixes_that_run(name: str) -> None:
    """Every name of the hazard statements replaced by one arbitrary quoted identifier."""
    quoted = '"' + name.replace('"', '""') + '"'
    for template in TEMPLATES:
        sql = NAMES.sub(lambda _: quoted, template)
        linted = lint(sql)  # runs every fix
        if name:
            assert linted.unparsed == () and linted.hits, sql


def test_a_thousand_statements_well_under_a_second() -> None:
    statements = [
        "BEGIN",
        *[
            f"ALTER TABLE t{i} ADD COLUMN c int NOT NULL, ALTER COLUMN d TYPE bigint"
            if i % 3 == 0
            else f"CREATE INDEX ix{i} ON t{i} (a, b)"
            if i % 3 == 1
            else f"UPDATE t{i} SET a = {i} WHERE b = 'x'"
            for i in range(998)
        ],
        "COMMIT",
    ]
    started = time.perf_counter()
    linted = lint_statements(statements)
    elapsed = time.perf_counter() - started
    assert len(linted.hits) == 333 * 2 + 333
    assert elapsed < 0.5, elapsed


def test_the_results_are_frozen() -> None:
    linted = lint(INDEX)
    with pytest.raises(AttributeError):
        linted.hits[0].rule = "x"  # type: ignore[misc]
    assert isinstance(linted.created, frozenset) and isinstance(linted.hits, tuple)


@pytest.mark.parametrize(
    ("statements", "exclusive"),
    [
        (["ALTER TABLE users ADD COLUMN n int"], ("users",)),
        (["ALTER TABLE public.users ALTER COLUMN n TYPE bigint"], ("public.users",)),
        (["ALTER TABLE users RENAME COLUMN a TO b", "ALTER TABLE orders RENAME TO o"],
         ("users", "orders")),
        (["DROP TABLE users, orders"], ("users", "orders")),
        (["CREATE INDEX ix ON users (a)", "DROP INDEX ix"], ("users",)),
        (["DROP INDEX ix_unknown"], ("the table of index ix_unknown",)),
        (["TRUNCATE users"], ("users",)),
        (["ALTER TABLE users ADD CONSTRAINT c CHECK (n > 0) NOT VALID"], ("users",)),
        # weaker locks: SHARE, SHARE ROW EXCLUSIVE, SHARE UPDATE EXCLUSIVE
        (["CREATE INDEX ix ON users (a)"], ()),
        (["ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id)"], ()),
        (["ALTER TABLE orders VALIDATE CONSTRAINT fk"], ()),
        (["ALTER TABLE orders ALTER COLUMN n SET STATISTICS 500"], ()),
        (["ALTER TABLE orders DISABLE TRIGGER ALL"], ()),
        (["ALTER TABLE orders SET (fillfactor = 90)"], ()),
        (["ALTER INDEX ix RENAME TO ix2"], ()),
        (["CREATE INDEX CONCURRENTLY ix ON users (a)", "DROP INDEX CONCURRENTLY ix"], ()),
        (["CREATE TABLE t (id int)", "ALTER TABLE t ADD COLUMN n int", "DROP TABLE t"], ()),
        (["ALTER TABLE users ADD COLUMN a int", "ALTER TABLE public.users ADD COLUMN b int"],
         ("users",)),  # one table written two ways
        (["CREATE TABLE p2 PARTITION OF p FOR VALUES IN (2)"], ("p",)),
        (["ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (3)"], ("c",)),
        (["ALTER TABLE p DETACH PARTITION p1"], ("p", "p1")),
        (["ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY"], ()),
        (["LOCK TABLE users"], ("users",)),
        (["LOCK TABLE users IN SHARE MODE"], ()),
        (["ALTER TABLE users SET SCHEMA archive"], ("users",)),
        (["DROP TRIGGER tr ON public.users"], ("public.users",)),
        (["CREATE RULE r AS ON INSERT TO users DO INSTEAD NOTHING"], ("users",)),
        (["CLUSTER users USING ix"], ("users",)),
        (["VACUUM FULL users"], ("users",)),
        (["VACUUM (FULL false) users", "VACUUM users"], ()),
        (["REFRESH MATERIALIZED VIEW mv"], ("mv",)),
        (["REINDEX TABLE users"], ("users",)),
        (["CREATE INDEX ix ON users (a)", "REINDEX INDEX ix"], ("users",)),
        (["REINDEX TABLE CONCURRENTLY users", "REINDEX (VERBOSE) INDEX CONCURRENTLY ix"], ()),
        (["REFRESH MATERIALIZED VIEW CONCURRENTLY mv"], ()),
        (["ALTER TABLE users SET (user_catalog_table = true)"], ("users",)),
        (["ALTER TABLE users SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"],
         ()),
    ],
)  # fmt: skip
def test_the_tables_a_revision_takes_access_exclusive_on(
    statements: list[str], exclusive: tuple[str, ...]
) -> None:
    assert lint_statements(statements).exclusive == exclusive


def test_each_revision_starts_in_the_ranges_transaction_whatever_one_before_did() -> None:
    """A COMMIT of one revision's own ends the transaction in the offline SQL, but the
    next revision runs in one again (the driver begins it): its CONCURRENTLY still fails."""
    from dbctl.lint.lint import split_by_revision

    sql = (
        "BEGIN;\n\n-- Running upgrade  -> a\n\nCREATE TABLE t (id int);\n\nCOMMIT;\n\n"
        "-- Running upgrade a -> b\n\nCREATE INDEX CONCURRENTLY ix ON t (id);\n\nCOMMIT;\n"
    )
    found = split_by_revision(sql)
    assert found["b"][0] == "BEGIN"
    hits = lint_statements(found["b"]).hits
    assert [h.rule for h in hits] == ["ban-concurrent-index-creation-in-transaction"]
    per_revision = (  # transaction_per_migration: each revision its own BEGIN
        "-- Running upgrade  -> a\n\nBEGIN;\n\nCREATE TABLE t (id int);\n\nCOMMIT;\n\n"
        "-- Running upgrade a -> b\n\nBEGIN;\n\nCREATE INDEX ix ON t (id);\n\nCOMMIT;\n"
    )
    assert split_by_revision(per_revision)["b"][0] == "BEGIN"
    assert split_by_revision(per_revision)["b"][1] != "BEGIN"


def test_an_ignore_without_a_reason_takes_nothing_from_the_next_line() -> None:
    from dbctl.lint.lint import ignores

    source = "op.execute(x)  # dbctl: ignore[ban-drop-column]\ndef downgrade():\n"
    [ignore] = ignores("r", source)
    assert (ignore.rules, ignore.reason, ignore.line) == (("ban-drop-column",), "", 1)
    [spaced] = ignores("r", "#dbctl: ignore[a, b]  the reason\n")
    assert (spaced.rules, spaced.reason) == (("a", "b"), "the reason")


@pytest.mark.parametrize(
    "added",
    [
        "ALTER TABLE users ADD CONSTRAINT c CHECK (n > 0) NOT VALID",
        "ALTER TABLE users ADD CONSTRAINT c FOREIGN KEY (org) REFERENCES orgs (id) NOT VALID",
    ],
)
def test_validate_in_the_transaction_that_added_it_not_valid_holds_the_lock(added: str) -> None:
    validate = "ALTER TABLE users VALIDATE CONSTRAINT c"
    [hit] = lint("BEGIN", added, validate, "COMMIT").hits
    assert (hit.rule, hit.statement) == ("constraint-missing-not-valid", 2)
    assert "in a later revision" in hit.fix and "VALIDATE CONSTRAINT c" in hit.fix
    split = lint("BEGIN", added, "COMMIT", "BEGIN", validate, "COMMIT").hits
    assert split == ()  # committed in between: VALIDATE alone takes SHARE UPDATE EXCLUSIVE
    assert lint("BEGIN", validate, "COMMIT").hits == ()  # added by a revision before


@pytest.mark.parametrize(
    ("statements", "rewritten"),
    [
        (["CLUSTER users USING ix"], ("users",)),
        (["VACUUM FULL public.users"], ("public.users",)),
        (["ALTER TABLE users SET UNLOGGED"], ("users",)),
        (["ALTER TABLE users SET LOGGED"], ("users",)),
        (["ALTER TABLE users SET TABLESPACE fast"], ("users",)),
        (["ALTER TABLE users ADD COLUMN n int", "VACUUM users"], ()),
        (["REINDEX TABLE users", "REINDEX INDEX ix_unknown"], ("users",)),
        (["REFRESH MATERIALIZED VIEW mv", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv2"], ("mv",)),
        (["CREATE TABLE t (id int)", "CLUSTER t USING ix"], ()),
    ],
)
def test_the_statements_that_rewrite_whatever_the_columns(
    statements: list[str], rewritten: tuple[str, ...]
) -> None:
    assert lint_statements(statements).rewritten == rewritten


def test_an_exclusion_constraint_builds_its_index_under_access_exclusive() -> None:
    hit = one("ALTER TABLE rooms ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)")
    assert hit.rule == "disallowed-unique-constraint"
    assert "cannot take an index built CONCURRENTLY" in hit.message


@pytest.mark.parametrize(
    ("later", "exclusive"),
    [
        ("DROP TABLE child", ("child", "users", "billing.orgs")),
        ("ALTER TABLE child DROP CONSTRAINT child_user_id_fkey", ("child", "users")),
        ("ALTER TABLE child DROP CONSTRAINT fk_child_org", ("child", "billing.orgs")),
        ("ALTER TABLE child DROP COLUMN user_id", ("child", "users")),
        ("ALTER TABLE child DROP COLUMN note", ("child",)),
        ("DROP INDEX ix_child_note", ("child",)),
    ],
)
def test_what_a_revision_made_tells_the_next_which_tables_a_drop_locks(
    later: str, exclusive: tuple[str, ...]
) -> None:
    """Dropping a foreign key drops its triggers on the table it points to, under ACCESS
    EXCLUSIVE there too; a DROP INDEX locks the table the index was made on."""
    made = lint(
        "CREATE TABLE child (id int, user_id int REFERENCES users (id), org int, note text)",
        "ALTER TABLE child ADD CONSTRAINT fk_child_org FOREIGN KEY (org) "
        "REFERENCES billing.orgs (id) NOT VALID",
        "CREATE INDEX ix_child_note ON child (note)",
    )
    assert lint_statements([later], known=made.known).exclusive == exclusive


@pytest.mark.parametrize(
    "statements",
    [
        ["ALTER TABLE t1 SET SCHEMA billing", "ALTER TABLE billing.t1 ADD COLUMN m int"],
        ['ALTER TABLE "AuditLog" RENAME TO audit_log', "ALTER TABLE audit_log ADD COLUMN x int"],
    ],
)
def test_a_table_renamed_or_moved_is_one_table(statements: list[str]) -> None:
    """The shadow measures the table by its oid: one table, under the name it had."""
    assert len(lint_statements(statements).exclusive) == 1


def test_reindex_of_an_index_a_revision_made_rewrites_its_table() -> None:
    made = lint("CREATE INDEX ix_users_email ON users (email)")
    assert lint_statements(["REINDEX INDEX ix_users_email"], known=made.known).rewritten == (
        "users",
    )
