"""--write-migration: the revision it writes passes verify-schema (upgrade from empty,
idempotent re-run, down and up again, no drift once the models declare the indexes)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from dbctl.access.model import AccessPattern, Kind, SortKey, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.migration import model_indexes, write_migration
from dbctl.lifecycle.migrate import upgrade
from dbctl.lifecycle.revisions import needs_autocommit
from dbctl.lifecycle.verify import snapshot, verify_schema
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration

SCHEMA_SQL = """
CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    status text NOT NULL,
    created_at timestamptz NOT NULL
)
"""
DROP_SQL = "DROP TABLE orders; DROP TABLE customers"

MODELS = """
from sqlalchemy import (Column, DateTime, ForeignKey, Index, Integer, MetaData, Table, Text,
                        text)

metadata = MetaData()
customers = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", Text, nullable=False),
    {customers_indexes}
)
orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    {orders_indexes}
)
"""


def statement(text: str, line: int) -> Statement:
    return Statement(text, "queries.sql", line)


PATTERNS = [
    AccessPattern(
        statement("SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id", 1),
        Kind.select,
        (
            TableAccess(
                "public.orders",
                equality=("customer_id",),
                sort=(SortKey("created_at", descending=True), SortKey("id")),
                limit=True,
            ),
        ),
    ),
    AccessPattern(
        statement("SELECT * FROM customers WHERE email = $1", 2),
        Kind.select,
        (TableAccess("public.customers", equality=("email",)),),
    ),
]


def build(root: Path, models: str | None) -> AlembicProject:
    project = AlembicProject(root, models=models)
    project.add(Rev("r1", None, SCHEMA_SQL, DROP_SQL))
    return project


def models_declaring(lines: dict[str, list[str]]) -> str:
    def args(table: str) -> str:
        return "".join(f"{code}, " for code in lines.get(table, []))

    return MODELS.format(
        customers_indexes=args("public.customers"), orders_indexes=args("public.orders")
    )


def test_the_revision_passes_verify_schema(
    tmp_path: Path, pg_admin_url: str, make_database: Callable[[str], str]
) -> None:
    url = make_database("advise_migration")
    scratch = build(tmp_path / "scratch", None)
    upgrade(scratch.settings(url), url)
    advice = advise(PATTERNS, snapshot(url))
    assert [s.name for s in advice.suggestions] == [
        "ix_orders_customer_id_created_at_id",
        "ix_customers_email",
    ]
    lines: dict[str, list[str]] = {}
    for line in model_indexes(advice):
        lines.setdefault(line.table, []).append(line.code)
    assert lines == {
        "public.orders": [
            'Index("ix_orders_customer_id_created_at_id", "customer_id", "created_at", '
            'text("id DESC"))'
        ],
        "public.customers": ['Index("ix_customers_email", "email")'],
    }

    project = build(tmp_path / "project", models_declaring(lines))
    path = write_migration(advice, project.settings())
    assert path.parent == project.versions
    source = path.read_text()
    ast.parse(source)
    assert needs_autocommit(source)
    assert 'down_revision: str | Sequence[str] | None = "r1"' in source
    assert "postgresql_concurrently=True" in source and "if_not_exists=True" in source

    result = verify_schema(project.settings(pg_admin_url), pg_admin_url)
    assert result.findings == [], [f.message for f in result.findings]

    # The revision is the new head: a second one goes on top of it.
    second = write_migration(advice, project.settings())
    first_id = path.name.split("_")[0]
    assert f'down_revision: str | Sequence[str] | None = "{first_id}"' in second.read_text()


# Hostile names, each a break once reproduced: a quote and a newline in the table's name,
# reserved words, mixed case, a colon (a bind parameter to sa.text), three quotes and "\N"
# (a SyntaxError in a plain string literal), a 70-byte multibyte name (PostgreSQL keeps 63
# bytes of it), two columns whose index names were equal once cut to 63 bytes, and an
# index already holding the first name the advisor would choose.
HOSTILE_TABLE = 'we"ird\nname'
LONG_70 = "é" * 35  # 70 bytes; the server truncates it to 31 characters (62 bytes)
TWIN_A, TWIN_B = "ж" * 28 + "_a", "ж" * 28 + "_b"  # 58 bytes each
TRIPLE = 'q"""x\\N'


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


HOSTILE_SQL = f"""
CREATE TABLE {_q(HOSTILE_TABLE)} (
    id integer PRIMARY KEY,
    "user" integer, "order" integer, "Select" integer, "a:b" timestamptz,
    {_q(LONG_70)} integer, {_q(TWIN_A)} integer, {_q(TWIN_B)} integer, {_q(TRIPLE)} integer
);
CREATE INDEX ix_we_ird_name_user_order ON {_q(HOSTILE_TABLE)} (id, "user");
"""


def hostile_patterns() -> list[AccessPattern]:
    table = f"public.{HOSTILE_TABLE}"
    accesses = [
        TableAccess(table, equality=("user", "order")),
        TableAccess(
            table,
            equality=("Select",),
            sort=(SortKey("a:b", descending=True, nulls_first=False),),
            limit=True,
        ),
        TableAccess(table, equality=(LONG_70[:31],)),
        TableAccess(table, equality=(TWIN_A,)),
        TableAccess(table, equality=(TWIN_B,)),
        TableAccess(table, equality=(TRIPLE,)),
    ]
    return [
        AccessPattern(statement(f"SELECT {k}", k), Kind.select, (access,))
        for k, access in enumerate(accesses, 1)
    ]


def _indexes(url: str) -> dict[str, bool]:
    from dbctl.pg.connect import connect

    with connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = %s",
            [HOSTILE_TABLE],
        ).fetchall()
    return {name: valid for name, valid in rows}


def test_hostile_names_migrate_with_dbctl(
    tmp_path: Path, make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dbctl.cli import app
    from dbctl.pg.connect import connect

    url = make_database("hostile_names")
    with connect(url, autocommit=True) as conn:
        for sql in HOSTILE_SQL.split(";"):
            if sql.strip():
                conn.execute(sql.encode())
    before = _indexes(url)
    assert LONG_70[:31] in {c.name for c in snapshot(url).tables[f"public.{HOSTILE_TABLE}"].columns}

    advice = advise(hostile_patterns(), snapshot(url))
    names = [s.name for s in advice.suggestions]
    assert len(names) == 6 and len(set(names)) == 6
    assert all(len(name.encode()) <= 63 for name in names)
    assert "ix_we_ird_name_user_order" not in names  # taken: the advisor chose another
    assert '"user", "order"' in advice.suggestions[0].sql
    project = AlembicProject(tmp_path / "project")
    path = write_migration(advice, project.settings())
    compile(path.read_text(encoding="utf-8"), str(path), "exec")

    monkeypatch.chdir(project.root)
    runner = CliRunner()
    first = runner.invoke(app, ["migrate", "--database-url", url], terminal_width=300)
    assert first.exit_code == 0, first.output
    assert "(1 applied)" in first.stdout
    after = _indexes(url)
    assert set(after) == set(before) | set(names)
    assert all(after.values()), after  # every index valid
    second = runner.invoke(app, ["migrate", "--database-url", url], terminal_width=300)
    assert second.exit_code == 0, second.output
    assert "is already at" in second.stdout
    assert _indexes(url) == after
    # The downgrade drops exactly what the upgrade built.
    down = runner.invoke(app, ["migrate", "down", "--to", "base", "--database-url", url])
    assert down.exit_code == 0, down.output
    assert _indexes(url) == before
