"""Drift and the naming rule on real PostgreSQL: names the models leave to others.

A database made from the models by ``create_all`` and then renamed (as migrations written
with another naming convention leave it) differs from the models only in names. Those of
constraints and indexes the models leave unnamed (PostgreSQL's ``t_pkey``, ``t_a_fkey``...,
or SQLAlchemy's default ``ix_`` names) are not drift unless ``drift_strict_names``; names
the models spell out or make with the project's own convention still are. Both ways of
building the models' catalog (``models_catalog`` in Python, ``created_catalog`` with
``create_all`` in a scratch database) give the same findings.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
)

from dbctl.config import Settings
from dbctl.lifecycle import drift
from dbctl.lifecycle.models import create_schema
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect, create_engine
from dbctl.rules import run_rules
from dbctl.schema.catalog import Catalog

pytestmark = pytest.mark.integration

MakeDatabase = Callable[[str], str]
Builder = Callable[[drift.Models, str], Catalog]
BUILDERS: dict[str, Builder] = {
    "in-python": drift.models_catalog,
    "create-all": drift.created_catalog,
}


def shop(naming_convention: dict[str, str] | None = None) -> MetaData:
    metadata = MetaData(naming_convention=naming_convention)
    Table(
        "customers",
        metadata,
        Column("id", Integer, primary_key=True),  # customers_pkey
        Column("email", Text, unique=True),  # customers_email_key
    )
    Table(
        "orders",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("customer_id", Integer, ForeignKey("customers.id")),  # orders_customer_id_fkey
        Column("total", Integer, CheckConstraint("total >= 0")),  # orders_total_check
        Column("placed_at", DateTime, index=True),  # ix_orders_placed_at ("ix" convention)
        Column("status", Text),
        Index("ix_orders_status", "status"),  # explicit
    )
    return metadata


# What migrations written with another convention named them.
RENAMES = (
    "ALTER TABLE customers RENAME CONSTRAINT customers_pkey TO pk_customers",
    "ALTER TABLE customers RENAME CONSTRAINT customers_email_key TO uq_customers_email",
    "ALTER TABLE orders RENAME CONSTRAINT orders_customer_id_fkey"
    " TO fk_orders_customer_id_customers",
    "ALTER TABLE orders RENAME CONSTRAINT orders_total_check TO ck_orders_total",
    "ALTER INDEX ix_orders_placed_at RENAME TO orders_placed_at_idx",
    "ALTER INDEX ix_orders_status RENAME TO orders_status_idx",
)
ALL_RENAMES = [
    ("index-name", "public.customers_email_key"),
    ("primary-key-name", "public.customers.customers_pkey"),
    ("check-name", "public.orders.orders_total_check"),
    ("foreign-key-name", "public.orders.orders_customer_id_fkey"),
    ("index-name", "public.ix_orders_placed_at"),
    ("index-name", "public.ix_orders_status"),
]


def database(make_database: MakeDatabase, metadata: MetaData, *sql: str) -> tuple[str, Catalog]:
    """A database where ``create_all`` ran and then ``sql``; its URL and catalog."""
    url = make_database("drift_names")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            create_schema(connection, metadata)
            for statement in sql:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    with connect(url) as conn:
        return url, load_catalog(conn)


def drift_of(
    settings: Settings, models: drift.Models, url: str, actual: Catalog, builder: Builder
) -> list[tuple[str, str]]:
    findings = drift.compare(settings, models, builder(models, url), actual)
    assert all(f.rule == "schema-drift" for f in findings)
    return [(f.evidence["kind"], f.evidence["object"]) for f in findings]


@pytest.mark.parametrize("builder", BUILDERS.values(), ids=BUILDERS.keys())
def test_renames_of_what_the_models_leave_unnamed_are_not_drift(
    builder: Builder, make_database: MakeDatabase, tmp_path: Path
) -> None:
    metadata = shop()
    models = drift.Models(metadata)
    url, actual = database(make_database, metadata, *RENAMES)
    settings = Settings(project_root=tmp_path)
    assert drift_of(settings, models, url, actual, builder) == [
        ("index-name", "public.ix_orders_status")  # the one name the models spell out
    ]
    strict = replace(settings, drift_strict_names=True)
    assert drift_of(strict, models, url, actual, builder) == ALL_RENAMES
    [finding] = drift.compare(settings, models, builder(models, url), actual)
    assert finding.message == (
        "public.ix_orders_status: index ix_orders_status in the models "
        "is named orders_status_idx in the database"
    )


@pytest.mark.parametrize("builder", BUILDERS.values(), ids=BUILDERS.keys())
def test_names_from_the_projects_own_convention_are_drift(
    builder: Builder, make_database: MakeDatabase, tmp_path: Path
) -> None:
    convention = {
        "ix": "ix_%(column_0_label)s",  # with another kind: the project's, not the default
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
    metadata = shop(convention)
    url, actual = database(
        make_database,
        metadata,
        "ALTER TABLE orders RENAME CONSTRAINT fk_orders_customer_id_customers"
        " TO orders_customer_id_fkey",
        "ALTER INDEX ix_orders_placed_at RENAME TO orders_placed_at_idx",
        "ALTER TABLE customers RENAME CONSTRAINT customers_pkey TO pk_customers",
    )
    found = drift_of(Settings(project_root=tmp_path), drift.Models(metadata), url, actual, builder)
    assert found == [
        ("foreign-key-name", "public.orders.fk_orders_customer_id_customers"),
        ("index-name", "public.ix_orders_placed_at"),
    ]


def test_a_rename_that_changes_more_than_the_name_is_still_drift(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    metadata = shop()
    url, actual = database(
        make_database,
        metadata,
        "ALTER TABLE customers DROP CONSTRAINT customers_pkey CASCADE",  # its foreign key too
        "ALTER TABLE customers ADD CONSTRAINT pk_customers PRIMARY KEY (id) INCLUDE (email)",
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_customer_id_customers"
        " FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE",
    )
    models = drift.Models(metadata)
    found = drift_of(Settings(project_root=tmp_path), models, url, actual, drift.models_catalog)
    assert found == [
        ("primary-key", "public.customers.customers_pkey"),
        ("extra-foreign-key", "public.orders.fk_orders_customer_id_customers"),
        ("missing-foreign-key", "public.orders.orders_customer_id_fkey"),
    ]


def test_the_naming_rule_leaves_explicit_names_to_the_models(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    module = f"drift_names_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from sqlalchemy import Column, Index, Integer, MetaData, PrimaryKeyConstraint, Table\n"
        "metadata = MetaData(naming_convention={\n"
        '    "ix": "ix_%(column_0_N_label)s", "pk": "pk_%(table_name)s",\n'
        '    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s"})\n'
        'Table("orders", metadata, Column("id", Integer), Column("status", Integer),\n'
        '      Column("total", Integer, index=True),\n'
        '      PrimaryKeyConstraint("id", name="orders_primary"),\n'
        '      Index("orders_by_status", "status"))\n'
    )
    settings = Settings(project_root=tmp_path, models=f"{module}:metadata")
    models = drift.load_models(settings)
    assert models.rule_context().explicit_names == {
        "public.orders": frozenset({"orders_primary", "orders_by_status"})
    }
    _, actual = database(
        make_database,
        models.metadata,
        "ALTER INDEX ix_orders_total RENAME TO orders_total_idx",  # not the models' name
        "CREATE INDEX orders_status_total ON orders (status, total)",  # not in the models
    )
    findings = run_rules(actual, models.rule_context())
    judged = sorted(f.evidence["name"] for f in findings if f.rule == "naming-convention")
    assert judged == ["orders_status_total", "orders_total_idx"]
    # Without the models' explicit names, their own names would be judged too.
    bare = replace(models.rule_context(), explicit_names={})
    found = run_rules(actual, bare)
    judged = sorted(f.evidence["name"] for f in found if f.rule == "naming-convention")
    assert judged == [
        "orders_by_status",
        "orders_primary",
        "orders_status_total",
        "orders_total_idx",
    ]
