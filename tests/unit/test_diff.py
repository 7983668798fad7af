"""Catalog comparison on hand-built catalogs: one case per kind of difference, and the rules
that make the result exact (self-diff empty, renames paired, ignore patterns, order)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from dbctl.schema.catalog import (
    Catalog,
    Check,
    Column,
    Enum,
    ForeignKey,
    FrozenMap,
    Index,
    PrimaryKey,
    Sequence,
    Table,
    Unique,
    strip_index_name,
)
from dbctl.schema.diff import KINDS, Difference, diff_catalogs

pytestmark = pytest.mark.unit


def _pk(table: str, *columns: str) -> tuple[PrimaryKey, Index]:
    name = f"{table}_pkey"
    index = Index(name, columns, unique=True, primary=True, constraint=name)
    return PrimaryKey(name, columns), index


ORDERS_PK, ORDERS_PK_INDEX = _pk("orders", "id")
CUSTOMERS_PK, CUSTOMERS_PK_INDEX = _pk("customers", "id")

ORDERS = Table(
    "public",
    "orders",
    columns=(
        Column("id", "bigint", nullable=False, identity="by default"),
        Column("customer_id", "bigint", nullable=False),
        Column("total_cents", "integer", nullable=False, default="0"),
        Column("status", "order_status", nullable=False, default="'new'::order_status"),
        Column("note", "text"),
        Column("gross", "numeric", generated="((total_cents)::numeric * 1.2)"),
    ),
    primary_key=ORDERS_PK,
    indexes=(
        ORDERS_PK_INDEX,
        Index("ix_orders_customer_id", ("customer_id",)),
        Index("uq_orders_note", ("note",), unique=True, constraint="uq_orders_note"),
        Index("ix_orders_open", ("status",), predicate="(status <> 'done'::order_status)"),
    ),
    foreign_keys=(
        ForeignKey(
            "fk_orders_customer_id",
            ("customer_id",),
            "public",
            "customers",
            ("id",),
            on_delete="CASCADE",
        ),
    ),
    checks=(Check("ck_orders_total", "CHECK (total_cents >= 0)"),),
    uniques=(Unique("uq_orders_note", ("note",)),),
)
CUSTOMERS = Table(
    "public",
    "customers",
    columns=(
        Column("id", "integer", nullable=False, default="nextval('customers_id_seq'::regclass)"),
        Column("email", "text", nullable=False),
    ),
    primary_key=CUSTOMERS_PK,
    indexes=(CUSTOMERS_PK_INDEX,),
)
OPEN_ORDERS = Table(
    "public",
    "open_orders",
    kind="view",
    columns=(Column("id", "bigint"),),
    view_definition=" SELECT orders.id\n   FROM orders;",
)
EVENTS = Table("public", "events", kind="partitioned table", partition_key="RANGE (at)")
EVENTS_2024 = Table(
    "public",
    "events_2024",
    partition_of="public.events",
    partition_bound="FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
)
ORDER_STATUS = Enum("public", "order_status", ("new", "paid", "done"))
CUSTOMERS_ID_SEQ = Sequence(
    "public", "customers_id_seq", "integer", max_value=2147483647, owned_by="public.customers.id"
)

BASE = Catalog.build(
    [ORDERS, CUSTOMERS, OPEN_ORDERS, EVENTS, EVENTS_2024],
    [ORDER_STATUS],
    [CUSTOMERS_ID_SEQ],
    server_version_num=150000,
    extensions={"plpgsql": "1.0", "pg_stat_statements": "1.10"},
)


def with_tables(*tables: Table, drop: tuple[str, ...] = ()) -> Catalog:
    """BASE with these tables put in (by qualified name) and those named in ``drop`` gone."""
    tables_ = dict(BASE.tables)
    tables_.update({table.qualified_name: table for table in tables})
    for name in drop:
        del tables_[name]
    return replace(BASE, tables=FrozenMap(tables_))


def orders(**changes: object) -> Catalog:
    return with_tables(replace(ORDERS, **changes))  # type: ignore[arg-type]


def orders_primary_key(name: str, **changes: object) -> Catalog:
    """orders with its primary key (and the key's index) named ``name``."""
    index = replace(ORDERS_PK_INDEX, name=name, constraint=name)
    key = replace(ORDERS_PK, name=name, **changes)  # type: ignore[arg-type]
    return orders(primary_key=key, indexes=(index, *ORDERS.indexes[1:]))


def orders_column(name: str, **changes: object) -> Catalog:
    columns = tuple(
        replace(c, **changes) if c.name == name else c  # type: ignore[arg-type]
        for c in ORDERS.columns
    )
    return orders(columns=columns)


def orders_index(name: str, /, **changes: object) -> Catalog:
    if "columns" in changes:  # new key parts: their options back to the defaults
        changes = {
            "expressions": (),
            "descending": (),
            "nulls_first": (),
            "opclasses": (),
        } | changes
    indexes = tuple(
        replace(i, **changes) if i.name == name else i  # type: ignore[arg-type]
        for i in ORDERS.indexes
    )
    return orders(indexes=indexes)


def without_index(name: str) -> tuple[Index, ...]:
    return tuple(index for index in ORDERS.indexes if index.name != name)


Case = tuple[Callable[[], Catalog], list[tuple[str, str]]]

CASES: dict[str, Case] = {
    "missing-table": (
        lambda: with_tables(drop=("public.customers",)),
        [("missing-table", "public.customers")],
    ),
    "extra-table": (
        lambda: with_tables(Table("public", "refunds")),
        [("extra-table", "public.refunds")],
    ),
    "table-kind": (
        lambda: orders(kind="partitioned table"),
        [("table-kind", "public.orders")],
    ),
    "table-partition": (
        lambda: with_tables(replace(EVENTS_2024, partition_bound="DEFAULT")),
        [("table-partition", "public.events_2024")],
    ),
    "table-partition-key": (
        lambda: with_tables(replace(EVENTS, partition_key="LIST (at)")),
        [("table-partition", "public.events")],
    ),
    "table-comment": (
        lambda: orders(comment="what was bought"),
        [("table-comment", "public.orders")],
    ),
    "missing-view": (
        lambda: with_tables(drop=("public.open_orders",)),
        [("missing-view", "public.open_orders")],
    ),
    "extra-view": (
        lambda: with_tables(replace(OPEN_ORDERS, name="paid_orders", kind="materialized view")),
        [("extra-view", "public.paid_orders")],
    ),
    "view-definition": (
        lambda: with_tables(replace(OPEN_ORDERS, view_definition=" SELECT 1 AS id;")),
        [("view-definition", "public.open_orders")],
    ),
    "missing-column": (
        lambda: orders(columns=ORDERS.columns[:-1]),
        [("missing-column", "public.orders.gross")],
    ),
    "extra-column": (
        lambda: orders(columns=(*ORDERS.columns, Column("paid_at", "timestamp with time zone"))),
        [("extra-column", "public.orders.paid_at")],
    ),
    "column-type": (
        lambda: orders_column("total_cents", type="bigint"),
        [("column-type", "public.orders.total_cents")],
    ),
    "column-nullable": (
        lambda: orders_column("customer_id", nullable=True),
        [("column-nullable", "public.orders.customer_id")],
    ),
    "column-default": (
        lambda: orders_column("total_cents", default=None),
        [("column-default", "public.orders.total_cents")],
    ),
    "column-identity": (
        lambda: orders_column("id", identity="always"),
        [("column-identity", "public.orders.id")],
    ),
    "column-generated": (
        lambda: orders_column("gross", generated="((total_cents)::numeric * 1.25)"),
        [("column-generated", "public.orders.gross")],
    ),
    "column-collation": (
        lambda: orders_column("note", collation="C"),
        [("column-collation", "public.orders.note")],
    ),
    "column-comment": (
        lambda: orders_column("note", comment="free text"),
        [("column-comment", "public.orders.note")],
    ),
    "primary-key-columns": (
        lambda: orders(
            primary_key=PrimaryKey("orders_pkey", ("id", "customer_id")),
            indexes=(
                Index("orders_pkey", ("id", "customer_id"), True, True, constraint="orders_pkey"),
                *ORDERS.indexes[1:],
            ),
        ),
        [("primary-key", "public.orders.orders_pkey")],
    ),
    "primary-key-missing": (
        lambda: orders(primary_key=None, indexes=ORDERS.indexes[1:]),
        [("primary-key", "public.orders.orders_pkey")],
    ),
    "primary-key-include": (
        lambda: orders(indexes=(replace(ORDERS_PK_INDEX, include=("note",)), *ORDERS.indexes[1:])),
        [("primary-key", "public.orders.orders_pkey")],
    ),
    "primary-key-name": (
        lambda: orders_primary_key("pk_orders"),
        [("primary-key-name", "public.orders.orders_pkey")],
    ),
    "primary-key-renamed-and-changed": (
        lambda: orders_primary_key("pk_orders", deferrable=True),
        [("primary-key", "public.orders.orders_pkey")],
    ),
    "missing-index": (
        lambda: orders(indexes=without_index("ix_orders_open")),
        [("missing-index", "public.ix_orders_open")],
    ),
    "extra-index": (
        lambda: orders(indexes=(*ORDERS.indexes, Index("ix_orders_total", ("total_cents",)))),
        [("extra-index", "public.ix_orders_total")],
    ),
    "index-definition-columns": (
        lambda: orders_index("ix_orders_customer_id", columns=("customer_id", "id")),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-unique": (
        lambda: orders_index("ix_orders_customer_id", unique=True),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-method": (
        lambda: orders_index("ix_orders_customer_id", method="hash"),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-predicate": (
        lambda: orders_index("ix_orders_open", predicate="(status = 'new'::order_status)"),
        [("index-definition", "public.ix_orders_open")],
    ),
    "index-definition-expression": (
        lambda: orders_index(
            "ix_orders_customer_id", columns=("(customer_id + 0)",), expressions=(True,)
        ),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-include": (
        lambda: orders_index("ix_orders_customer_id", include=("total_cents",)),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-desc": (
        lambda: orders_index("ix_orders_customer_id", descending=(True,), nulls_first=(False,)),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-nulls": (
        lambda: orders_index("ix_orders_customer_id", nulls_first=(True,)),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-definition-opclass": (
        lambda: orders_index("uq_orders_note", opclasses=("text_pattern_ops",)),
        [("index-definition", "public.uq_orders_note")],
    ),
    "index-definition-text": (
        lambda: orders_index(
            "ix_orders_customer_id",
            definition="CREATE INDEX ix_orders_customer_id ON public.orders USING btree "
            "(customer_id) WITH (fillfactor='70')",
        ),
        [("index-definition", "public.ix_orders_customer_id")],
    ),
    "index-name": (
        lambda: orders_index("ix_orders_customer_id", name="orders_customer_id_idx"),
        [("index-name", "public.ix_orders_customer_id")],
    ),
    "index-validity": (
        lambda: orders_index("ix_orders_customer_id", valid=False),
        [("index-validity", "public.ix_orders_customer_id")],
    ),
    "missing-unique": (
        lambda: orders(uniques=()),
        [("missing-unique", "public.orders.uq_orders_note")],
    ),
    "extra-unique": (
        lambda: orders(
            uniques=(*ORDERS.uniques, Unique("uq_orders_customer_id", ("customer_id",))),
            indexes=(*ORDERS.indexes, Index("uq_orders_customer_id", ("customer_id",), True)),
        ),
        [
            ("extra-unique", "public.orders.uq_orders_customer_id"),
            ("extra-index", "public.uq_orders_customer_id"),
        ],
    ),
    "unique-definition": (
        lambda: orders(uniques=(Unique("uq_orders_note", ("note",), deferrable=True),)),
        [("unique-definition", "public.orders.uq_orders_note")],
    ),
    "missing-foreign-key": (
        lambda: orders(foreign_keys=()),
        [("missing-foreign-key", "public.orders.fk_orders_customer_id")],
    ),
    "extra-foreign-key": (
        lambda: with_tables(
            replace(
                CUSTOMERS,
                foreign_keys=(ForeignKey("fk_self", ("id",), "public", "customers", ("id",)),),
            )
        ),
        [("extra-foreign-key", "public.customers.fk_self")],
    ),
    "foreign-key-definition": (
        lambda: orders(foreign_keys=(replace(ORDERS.foreign_keys[0], on_delete="RESTRICT"),)),
        [("foreign-key-definition", "public.orders.fk_orders_customer_id")],
    ),
    "foreign-key-name": (
        lambda: orders(foreign_keys=(replace(ORDERS.foreign_keys[0], name="orders_fkey"),)),
        [("foreign-key-name", "public.orders.fk_orders_customer_id")],
    ),
    "missing-check": (
        lambda: orders(checks=()),
        [("missing-check", "public.orders.ck_orders_total")],
    ),
    "extra-check": (
        lambda: orders(checks=(*ORDERS.checks, Check("ck_note", "CHECK (note <> '')"))),
        [("extra-check", "public.orders.ck_note")],
    ),
    "check-definition": (
        lambda: orders(checks=(Check("ck_orders_total", "CHECK (total_cents > 0)"),)),
        [("check-definition", "public.orders.ck_orders_total")],
    ),
    "check-name": (
        lambda: orders(checks=(Check("orders_total_check", "CHECK (total_cents >= 0)"),)),
        [("check-name", "public.orders.ck_orders_total")],
    ),
    "missing-enum": (
        lambda: replace(BASE, enums=FrozenMap()),
        [("missing-enum", "public.order_status")],
    ),
    "extra-enum": (
        lambda: Catalog.build(
            BASE.tables.values(),
            [ORDER_STATUS, Enum("public", "mood", ("ok",))],
            BASE.sequences.values(),
            extensions=BASE.extensions,
        ),
        [("extra-enum", "public.mood")],
    ),
    "enum-values": (
        lambda: Catalog.build(
            BASE.tables.values(),
            [replace(ORDER_STATUS, values=("new", "paid", "shipped", "done"))],
            BASE.sequences.values(),
            extensions=BASE.extensions,
        ),
        [("enum-values", "public.order_status")],
    ),
    "enum-order": (
        lambda: Catalog.build(
            BASE.tables.values(),
            [replace(ORDER_STATUS, values=("paid", "new", "done"))],
            BASE.sequences.values(),
            extensions=BASE.extensions,
        ),
        [("enum-values", "public.order_status")],
    ),
    "missing-sequence": (
        lambda: replace(BASE, sequences=FrozenMap()),
        [("missing-sequence", "public.customers_id_seq")],
    ),
    "extra-sequence": (
        lambda: Catalog.build(
            BASE.tables.values(),
            BASE.enums.values(),
            [CUSTOMERS_ID_SEQ, Sequence("public", "invoice_no")],
            extensions=BASE.extensions,
        ),
        [("extra-sequence", "public.invoice_no")],
    ),
    "sequence-definition": (
        lambda: Catalog.build(
            BASE.tables.values(),
            BASE.enums.values(),
            [replace(CUSTOMERS_ID_SEQ, data_type="bigint", max_value=9223372036854775807)],
            extensions=BASE.extensions,
        ),
        [("sequence-definition", "public.customers_id_seq")],
    ),
    "missing-extension": (
        lambda: replace(BASE, extensions=FrozenMap({"plpgsql": "1.0"})),
        [("missing-extension", "pg_stat_statements")],
    ),
    "extra-extension": (
        lambda: replace(BASE, extensions=FrozenMap({**BASE.extensions, "hypopg": "1.3.1"})),
        [("extra-extension", "hypopg")],
    ),
    "extension-version": (
        lambda: replace(BASE, extensions=FrozenMap({**BASE.extensions, "plpgsql": "1.1"})),
        [("extension-version", "plpgsql")],
    ),
}


def found(expected: Catalog, actual: Catalog, **options: object) -> list[tuple[str, str]]:
    return [(d.kind, d.object) for d in diff_catalogs(expected, actual, **options)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("make", "expected"), CASES.values(), ids=CASES.keys())
def test_each_kind_of_difference(
    make: Callable[[], Catalog], expected: list[tuple[str, str]]
) -> None:
    actual = make()
    assert sorted(found(BASE, actual)) == sorted(expected)
    # The other way round, the same objects differ (missing and extra swap).
    assert len(found(actual, BASE)) == len(expected)


def test_every_kind_has_a_case() -> None:
    covered = {kind for _, expected in CASES.values() for kind, _ in expected}
    assert covered == set(KINDS)


def test_a_catalog_has_no_difference_with_itself_or_an_equal_copy() -> None:
    assert diff_catalogs(BASE, BASE) == []
    copy = Catalog.build(
        BASE.tables.values(),
        BASE.enums.values(),
        BASE.sequences.values(),
        extensions=dict(BASE.extensions),
        server_version_num=160000,  # not a schema difference
    )
    assert copy != BASE
    assert diff_catalogs(BASE, copy) == []


def test_column_order_sizes_and_estimates_are_not_differences() -> None:
    actual = orders(columns=tuple(reversed(ORDERS.columns)), row_estimate=10**6, total_bytes=8192)
    assert diff_catalogs(BASE, actual) == []


def test_messages_name_both_sides_with_their_labels() -> None:
    actual = orders_column("total_cents", type="bigint")
    (difference,) = diff_catalogs(
        BASE, actual, expected_label="the models", actual_label="the database"
    )
    assert difference == Difference(
        kind="column-type",
        object="public.orders.total_cents",
        table="public.orders",
        message="public.orders.total_cents: type is bigint in the database, integer in the models",
        expected="integer",
        actual="bigint",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: with_tables(drop=("public.customers",)),
            "public.customers: table is in expected but not in actual",
        ),
        (
            lambda: orders_column("customer_id", nullable=True),
            "public.orders.customer_id: nullable in actual, NOT NULL in expected",
        ),
        (
            lambda: orders_column("total_cents", default=None),
            "public.orders.total_cents: default is none in actual, 0 in expected",
        ),
        (
            lambda: orders_index("ix_orders_customer_id", name="orders_customer_id_idx"),
            "public.ix_orders_customer_id: index ix_orders_customer_id in expected "
            "is named orders_customer_id_idx in actual",
        ),
        (
            lambda: orders_primary_key("pk_orders"),
            "public.orders.orders_pkey: primary key orders_pkey in expected "
            "is named pk_orders in actual",
        ),
        (
            lambda: orders_index("ix_orders_customer_id", valid=False),
            "public.ix_orders_customer_id: index is INVALID in actual, valid in expected",
        ),
        (
            lambda: orders(checks=(*ORDERS.checks, Check("ck_note", "CHECK (note <> '')"))),
            "public.orders.ck_note: check constraint is in actual but not in expected",
        ),
    ],
)
def test_messages(make: Callable[[], Catalog], message: str) -> None:
    (difference,) = diff_catalogs(BASE, make())
    assert difference.message == message
    assert "\n" not in difference.message


def test_renamed_indexes_pair_by_definition_in_name_order() -> None:
    renamed = orders(
        indexes=(
            *without_index("ix_orders_customer_id"),
            Index("b_customer", ("customer_id",)),
            Index("a_total", ("total_cents",)),
        )
    )
    differences = diff_catalogs(BASE, renamed)
    assert [(d.kind, d.object, d.expected, d.actual) for d in differences] == [
        ("extra-index", "public.a_total", None, "INDEX a_total USING btree (total_cents)"),
        ("index-name", "public.ix_orders_customer_id", "ix_orders_customer_id", "b_customer"),
    ]


def test_an_index_renamed_and_changed_is_missing_and_extra() -> None:
    actual = orders(
        indexes=(
            *without_index("ix_orders_customer_id"),
            Index("ix_orders_customer", ("customer_id", "id")),
        )
    )
    assert found(BASE, actual) == [
        ("extra-index", "public.ix_orders_customer"),
        ("missing-index", "public.ix_orders_customer_id"),
    ]


def test_renamed_unique_constraint_is_reported_once_by_its_index() -> None:
    index = replace(ORDERS.indexes[2], name="orders_note_key", constraint="orders_note_key")
    actual = orders(
        uniques=(Unique("orders_note_key", ("note",)),),
        indexes=(*without_index("uq_orders_note"), index),
    )
    assert found(BASE, actual) == [("index-name", "public.uq_orders_note")]


def test_unique_constraint_or_unique_index_differ_only_by_the_constraint() -> None:
    index = replace(ORDERS.indexes[2], constraint=None)
    actual = orders(uniques=(), indexes=(*without_index("uq_orders_note"), index))
    assert found(BASE, actual) == [("missing-unique", "public.orders.uq_orders_note")]


def test_index_definitions_compare_without_their_names() -> None:
    a = Index("ix_a", ("x",), definition="CREATE INDEX ix_a ON public.t USING btree (x)")
    b = Index("ix_b", ("x",), definition="CREATE INDEX ix_b ON public.t USING btree (x)")
    assert a.definition_without_name == b.definition_without_name
    assert a.signature == b.signature
    assert strip_index_name(
        'CREATE UNIQUE INDEX "my ""odd"" ix" ON ONLY public.t USING btree (x)'
    ) == ("CREATE UNIQUE INDEX ON ONLY public.t USING btree (x)")


@pytest.mark.parametrize(
    ("patterns", "left"),
    [
        ((), 3),
        (("public.orders.*",), 1),
        (("column-type:public.orders.total_cents",), 2),
        (("column-*:public.orders.*",), 1),
        (("public.ix_*",), 2),
        (("index-name:*", "public.orders.note", "column-default:*"), 1),
        (("*",), 0),
        (("public.orders",), 3),  # a table's name alone does not silence its columns
    ],
)
def test_ignore_patterns_match_object_or_kind_and_object(
    patterns: tuple[str, ...], left: int
) -> None:
    actual = orders_column("total_cents", type="bigint")
    actual = replace(
        actual,
        tables=FrozenMap(
            {
                **actual.tables,
                "public.orders": replace(
                    actual.tables["public.orders"],
                    columns=tuple(
                        replace(c, default="'-'::text") if c.name == "note" else c
                        for c in actual.tables["public.orders"].columns
                    ),
                    indexes=tuple(
                        replace(i, name="orders_customer_idx")
                        if i.name == "ix_orders_customer_id"
                        else i
                        for i in actual.tables["public.orders"].indexes
                    ),
                ),
            }
        ),
    )
    assert len(diff_catalogs(BASE, actual, ignore=patterns)) == left


def test_result_is_ordered_by_table_then_kind_then_object() -> None:
    actual = with_tables(
        replace(CUSTOMERS, columns=(*CUSTOMERS.columns, Column("z", "text"), Column("a", "text"))),
        replace(ORDERS, checks=(), comment="x"),
        drop=("public.open_orders",),
    )
    actual = replace(actual, extensions=FrozenMap({"plpgsql": "1.0"}))
    keys = [(d.table, d.kind, d.object) for d in diff_catalogs(BASE, actual)]
    assert keys == [
        (None, "missing-extension", "pg_stat_statements"),
        ("public.customers", "extra-column", "public.customers.a"),
        ("public.customers", "extra-column", "public.customers.z"),
        ("public.open_orders", "missing-view", "public.open_orders"),
        ("public.orders", "missing-check", "public.orders.ck_orders_total"),
        ("public.orders", "table-comment", "public.orders"),
    ]


# --- the snapshot model itself -------------------------------------------------------


def test_catalog_is_frozen_and_hashable() -> None:
    copy = Catalog.build(
        BASE.tables.values(),
        BASE.enums.values(),
        BASE.sequences.values(),
        server_version_num=150000,
        extensions=dict(BASE.extensions),
    )
    assert copy == BASE
    assert hash(copy) == hash(BASE)
    assert len({BASE, orders(comment="x")}) == 2
    with pytest.raises(AttributeError):
        BASE.server_version_num = 1  # type: ignore[misc]
    assert BASE.tables == dict(BASE.tables)


def test_table_lookup_by_name_or_qualified_name() -> None:
    catalog = with_tables(Table("sales", "orders"), Table("sales", "refunds"))
    assert catalog.table("orders") is BASE.tables["public.orders"]
    assert catalog.table("public.orders") is BASE.tables["public.orders"]
    assert catalog.table("sales.orders") == Table("sales", "orders")
    assert catalog.table("refunds") is None
    assert catalog.table("refunds", search_path=("public", "sales")) == Table("sales", "refunds")
    assert ORDERS.column("note") == Column("note", "text")
    assert ORDERS.index("ix_orders_open") is ORDERS.indexes[3]
    assert ORDERS.column("nope") is None


def test_index_key_options_default_per_part_and_must_match_the_columns() -> None:
    index = Index("ix", ("a", "b"), descending=(True, False))
    assert index.expressions == (False, False)
    assert index.nulls_first == (True, False)  # PostgreSQL's default follows the direction
    assert index.opclasses == (None, None)
    with pytest.raises(ValueError, match="ix"):
        Index("ix", ("a", "b"), descending=(True,))


def test_a_missing_table_carries_its_owned_sequence() -> None:
    from dbctl.schema.catalog import Sequence as Seq

    table = Table("public", "coupons", columns=(Column("id", "integer", nullable=False),))
    owned = Seq("public", "coupons_id_seq", data_type="integer", owned_by="public.coupons.id")
    models = Catalog.build([table], sequences=[owned])
    kinds = [d.kind for d in diff_catalogs(models, Catalog.build())]
    assert kinds == ["missing-table"]
    stray = Seq("public", "stray_seq")
    kinds = [d.kind for d in diff_catalogs(Catalog.build(sequences=[stray]), Catalog.build())]
    assert kinds == ["missing-sequence"]
