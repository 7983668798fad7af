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
