"""Schema rules on hand-built catalogs: a case built to fail each rule, and one that passes."""

from __future__ import annotations

import pytest

from dbctl.report import Location
from dbctl.rules import RuleContext, run_rules
from dbctl.rules.indexing import create_index_sql, index_name
from dbctl.schema.catalog import Catalog, ForeignKey, Index, PrimaryKey, Table, Unique

pytestmark = pytest.mark.unit

CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


def pk_index(table: str, *columns: str) -> Index:
    return Index(f"pk_{table}", columns, unique=True, primary=True, constraint=f"pk_{table}")


def table(name: str, *, pk: tuple[str, ...] | None = ("id",), **kwargs: object) -> Table:
    indexes = tuple(kwargs.pop("indexes", ()))  # type: ignore[arg-type]
    if pk:
        indexes = (pk_index(name, *pk), *indexes)
    return Table(
        "public",
        name,
        primary_key=PrimaryKey(f"pk_{name}", pk) if pk else None,
        indexes=indexes,
        **kwargs,  # type: ignore[arg-type]
    )


def fk(table_name: str, columns: tuple[str, ...], ref: str) -> ForeignKey:
    return ForeignKey(
        f"fk_{table_name}_{'_'.join(columns)}_{ref}", columns, "public", ref, ("id",) * len(columns)
    )


def rules_of(*tables: Table, convention: dict[str, str] | None = None) -> list[tuple[str, str]]:
    context = RuleContext(
        locations={"public.orders": Location("app/models.py", 12)},
        naming_convention=convention or {},
    )
    findings = run_rules(Catalog.build(tables), context)
    return sorted((f.rule, f.message) for f in findings)


def test_missing_primary_key() -> None:
    found = rules_of(table("events", pk=None), table("orders"))
    assert found == [("missing-primary-key", "public.events has no primary key")]


def test_views_and_partitions_need_no_primary_key() -> None:
    view = Table("public", "v", kind="view")
    part = Table("public", "p_2026", partition_of="public.p")
    assert rules_of(view, part) == []


ORDERS_FK = fk("orders", ("customer_id",), "customers")


@pytest.mark.parametrize(
    ("indexes", "pk", "served"),
    [
        ((), ("id",), False),
        ((Index("ix_orders_customer_id", ("customer_id",)),), ("id",), True),
        ((Index("ix_orders_customer_id_created", ("customer_id", "created_at")),), ("id",), True),
        ((Index("ix_orders_created_customer", ("created_at", "customer_id")),), ("id",), False),
        ((), ("customer_id", "id"), True),  # a composite primary key that leads with it
        ((Index("ix_partial", ("customer_id",), predicate="(status = 'open')"),), ("id",), False),
        ((Index("ix_invalid", ("customer_id",), valid=False),), ("id",), False),
        ((Index("ix_hash", ("customer_id",), method="hash"),), ("id",), True),
        ((Index("ix_gin", ("customer_id",), method="gin"),), ("id",), False),
        ((Index("ix_expr", ("lower(customer_id)",), expressions=(True,)),), ("id",), False),
    ],
    ids=[
        "none",
        "single",
        "composite-leading",
        "composite-second",
        "pk-leading",
        "partial",
        "invalid",
        "hash",
        "gin",
        "expression",
    ],
)
def test_unindexed_foreign_key(
    indexes: tuple[Index, ...], pk: tuple[str, ...], served: bool
) -> None:
    orders = table("orders", pk=pk, indexes=indexes, foreign_keys=(ORDERS_FK,))
    found = [rule for rule, _ in rules_of(orders, table("customers"))]
    assert ("unindexed-foreign-key" not in found) is served


def test_multi_column_foreign_key_in_any_order() -> None:
    key = fk("lines", ("order_id", "tenant_id"), "orders")
    served = table(
        "lines", indexes=(Index("ix", ("tenant_id", "order_id", "n")),), foreign_keys=(key,)
    )
    unserved = table("lines", indexes=(Index("ix", ("tenant_id",)),), foreign_keys=(key,))
    assert rules_of(served) == []
    assert [rule for rule, _ in rules_of(unserved)] == ["unindexed-foreign-key"]


def test_unindexed_foreign_key_suggestion_and_location() -> None:
    orders = table("orders", foreign_keys=(ORDERS_FK,))
    findings = run_rules(
        Catalog.build([orders]), RuleContext(locations={"public.orders": Location("m.py", 3)})
    )
    assert len(findings) == 1
    assert findings[0].suggestion == (
        "CREATE INDEX CONCURRENTLY ix_orders_customer_id ON public.orders (customer_id);"
    )
    assert findings[0].location == Location("m.py", 3)
    assert findings[0].columns == ("customer_id",)


def test_unindexed_foreign_key_suggestion_quotes_and_avoids_taken_names() -> None:
    """A reserved-word column is quoted; a name a relation of the schema has gets ``_2``."""
    user_fk = ForeignKey("fk_orders_user", ("user",), "public", "customers", ("id",))
    orders = table("orders", foreign_keys=(user_fk,), columns=())
    squatter = Table("public", "ix_orders_user", kind="view")
    findings = run_rules(Catalog.build([orders, squatter]), RuleContext())
    assert [f.suggestion for f in findings if f.rule == "unindexed-foreign-key"] == [
        'CREATE INDEX CONCURRENTLY ix_orders_user_2 ON public.orders ("user");'
    ]


@pytest.mark.parametrize(
    ("indexes", "expected"),
    [
        ((Index("ix_a", ("a",)), Index("ix_a_b", ("a", "b"))), ["ix_a"]),
        ((Index("ix_b", ("b",)), Index("ix_a_b", ("a", "b"))), []),
        ((Index("ix_a", ("a",)), Index("ix_a2", ("a",))), ["ix_a2"]),  # twins: one reported
        ((Index("uq_a", ("a",), unique=True), Index("ix_a_b", ("a", "b"))), []),
        ((Index("ix_a", ("a",)), Index("uq_a_b", ("a", "b"), unique=True)), ["ix_a"]),
        ((Index("ix_a", ("a",)), Index("ix_a_b_p", ("a", "b"), predicate="(b > 0)")), []),
        ((Index("ix_a", ("a",)), Index("ix_a_b_h", ("a", "b"), method="hash")), []),
        ((Index("ix_a", ("a",), descending=(True,)), Index("ix_a_b", ("a", "b"))), []),
        ((Index("ix_id", ("id",)),), ["ix_id"]),  # covered by the primary key
    ],
    ids=[
        "prefix",
        "other-leading",
        "twins",
        "unique-kept",
        "prefix-of-unique",
        "partial",
        "method",
        "sort-order",
        "pk",
    ],
)
def test_duplicate_index(indexes: tuple[Index, ...], expected: list[str]) -> None:
    found = [
        message.split()[1]
        for rule, message in rules_of(table("t", indexes=indexes))
        if rule == "duplicate-index"
    ]
    assert found == expected


def test_naming_convention() -> None:
    good = table(
        "orders",
        indexes=(Index("ix_orders_customer_id", ("customer_id",)),),
        foreign_keys=(ORDERS_FK,),
        uniques=(Unique("uq_orders_number", ("number",)),),
    )
    bad = Table(
        "public",
        "orders",
        primary_key=PrimaryKey("orders_pkey", ("id",)),
        indexes=(
            Index("orders_pkey", ("id",), unique=True, primary=True, constraint="orders_pkey"),
            Index("orders_customer_idx", ("customer_id",)),
            Index("ix_orders_customer_id", ("customer_id",)),
        ),
        foreign_keys=(
            ForeignKey("orders_customer_id_fkey", ("customer_id",), "public", "c", ("id",)),
        ),
    )
    assert [r for r, _ in rules_of(good, convention=CONVENTION) if r == "naming-convention"] == []
    found = [m for r, m in rules_of(bad, convention=CONVENTION) if r == "naming-convention"]
    assert len(found) == 3
    assert "primary key orders_pkey on public.orders" in found[2]
    assert rules_of(bad) != [] and all(r != "naming-convention" for r, _ in rules_of(bad))


def test_index_name_stays_within_63_characters() -> None:
    assert index_name("orders", ["customer_id", "created_at"]) == "ix_orders_customer_id_created_at"
    long = index_name("a_really_long_table_name_for_testing", ["and_a_long_column", "another_one"])
    assert len(long) == 63
    assert long != index_name("a_really_long_table_name_for_testing", ["and_a_long_column", "x"])


def test_create_index_sql_quotes_what_needs_it() -> None:
    t = Table("Sales", "Order Lines")
    assert create_index_sql(t, ["OrderId"]) == (
        'CREATE INDEX CONCURRENTLY ix_order_lines_orderid ON "Sales"."Order Lines" ("OrderId");'
    )
