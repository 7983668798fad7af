"""The names the models choose and the names they leave to others (issue 10, item 7).

Pure: SQLAlchemy MetaData and hand-built catalogs, no database. ``model_names`` says which
constraint and index names a MetaData spells out, which its project's own naming convention
makes, and which it leaves to PostgreSQL or to SQLAlchemy's default ``ix`` convention; the
naming rule judges only the names the models did not spell out.
"""

from __future__ import annotations

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from dbctl.lifecycle.drift import Models
from dbctl.lifecycle.model_names import model_names
from dbctl.pg.identifiers import truncate
from dbctl.rules import RuleContext, run_rules
from dbctl.schema import catalog as pg

pytestmark = pytest.mark.unit

PROJECT_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _tables(metadata: MetaData, *more: Column[str]) -> None:
    Table("customers", metadata, Column("id", Integer, primary_key=True))
    Table(
        "orders",
        metadata,
        *more,
        Column("id", Integer),
        Column("customer_id", Integer, ForeignKey("customers.id")),  # unnamed
        Column("email", Text, unique=True),  # unnamed
        Column("placed_at", DateTime, index=True),  # the "ix" convention names it
        Column("total", Integer, CheckConstraint("total >= 0", name="total_positive")),
        PrimaryKeyConstraint("id", name="orders_primary"),  # explicit
        UniqueConstraint("customer_id", "placed_at", name="orders_once_a_moment"),  # explicit
        Index("orders_by_total", "total"),  # explicit
    )


def test_without_a_convention_only_explicit_names_are_chosen() -> None:
    metadata = MetaData()
    _tables(metadata, Column("note", Text, CheckConstraint("note <> ''")))  # unnamed
    names = model_names(metadata)
    explicit = {"orders_primary", "orders_once_a_moment", "orders_by_total", "total_positive"}
    assert names.explicit == {"public.orders": frozenset(explicit)}
    # ix_orders_placed_at comes from SQLAlchemy's own default convention: not a choice.
    assert names.chosen == names.explicit
    assert not names.is_chosen("public.orders", "ix_orders_placed_at")
    assert not names.is_chosen("public.orders", "orders_customer_id_fkey")
    assert not names.is_chosen("public.customers", "customers_pkey")
    assert names.is_chosen("public.orders", "orders_by_total")
    assert not names.is_chosen("public.customers", "orders_by_total")  # per table
    assert not names.is_chosen(None, "orders_by_total")


def test_a_project_convention_makes_chosen_names_that_are_not_explicit() -> None:
    metadata = MetaData(naming_convention=PROJECT_CONVENTION)
    _tables(metadata)
    names = model_names(metadata)
    explicit = {"orders_primary", "orders_once_a_moment", "orders_by_total"}
    # The check's name goes through "ck_%(table_name)s_%(constraint_name)s": generated.
    assert names.explicit["public.orders"] == explicit
    assert names.chosen["public.orders"] == explicit | {
        "fk_orders_customer_id_customers",
        "uq_orders_email",
        "ix_orders_placed_at",
        "ck_orders_total_positive",
    }
    assert names.chosen["public.customers"] == {"pk_customers"}


def test_the_default_convention_spelled_out_with_others_is_the_projects() -> None:
    metadata = MetaData(
        naming_convention={"ix": "ix_%(column_0_label)s", "pk": "pk_%(table_name)s"}
    )
    Table("t", metadata, Column("id", Integer, primary_key=True), Column("a", Integer, index=True))
    assert model_names(metadata).chosen["public.t"] == {"pk_t", "ix_t_a"}


def test_names_as_postgresql_stores_them_and_schemas() -> None:
    metadata = MetaData(naming_convention={"fk": "fk_%(table_name)s_%(column_0_N_name)s"})
    long = "ü" * 40  # 40 characters, 80 bytes: PostgreSQL keeps 63 bytes
    Table("parent", metadata, Column("id", Integer, primary_key=True), schema="shop")
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("a_really_long_column_name_for_a_foreign_key_to_the_parent", Integer),
        Index(long, "id"),
        schema="shop",
    )
    child = metadata.tables["shop.child"]
    column = child.c.a_really_long_column_name_for_a_foreign_key_to_the_parent
    child.append_constraint(ForeignKeyConstraint([column], ["shop.parent.id"]))
    names = model_names(metadata)
    assert names.explicit == {"shop.child": frozenset({truncate(long)})}
    assert len(truncate(long).encode()) == 62  # a whole character less than 63 bytes
    [generated] = names.chosen["shop.child"] - names.explicit["shop.child"]
    # SQLAlchemy shortens a generated name over 63 characters with a hash, as create_all does.
    assert generated == "fk_child_a_really_long_column_name_for_a_foreign_key_to_a555"


def test_models_carry_their_names_into_the_rules_context() -> None:
    metadata = MetaData()
    _tables(metadata)
    context = Models(metadata).rule_context()
    assert context.explicit_names["public.orders"] == {
        "orders_primary",
        "orders_once_a_moment",
        "orders_by_total",
        "total_positive",
    }


def _orders(pk: str, index: str, fk: str) -> pg.Table:
    return pg.Table(
        "public",
        "orders",
        primary_key=pg.PrimaryKey(pk, ("id",)),
        indexes=(
            pg.Index(pk, ("id",), unique=True, primary=True, constraint=pk),
            pg.Index(index, ("total",)),
        ),
        foreign_keys=(pg.ForeignKey(fk, ("customer_id",), "public", "customers", ("id",)),),
    )


def _naming(table: pg.Table, explicit: dict[str, frozenset[str]]) -> list[str]:
    context = RuleContext(naming_convention=PROJECT_CONVENTION, explicit_names=explicit)
    findings = run_rules(pg.Catalog.build([table]), context)
    return sorted(f.evidence["name"] for f in findings if f.rule == "naming-convention")


def test_the_naming_rule_judges_only_names_the_models_did_not_spell_out() -> None:
    table = _orders("orders_primary", "orders_by_total", "orders_customer_id_fkey")
    everything = ["orders_by_total", "orders_customer_id_fkey", "orders_primary"]
    assert _naming(table, {}) == everything
    explicit = {"public.orders": frozenset({"orders_primary", "orders_by_total"})}
    assert _naming(table, explicit) == ["orders_customer_id_fkey"]
    # The explicit names of another table do not excuse this one's.
    assert _naming(table, {"public.customers": explicit["public.orders"]}) == everything
    # A name the database has and the models do not is still judged.
    renamed = _orders("orders_primary", "orders_total_idx", "orders_customer_id_fkey")
    assert _naming(renamed, explicit) == ["orders_customer_id_fkey", "orders_total_idx"]
