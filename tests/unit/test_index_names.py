"""The names dbctl makes up for indexes, and the SQL it writes with them: at most 63 bytes
(PostgreSQL's NAMEDATALEN - 1, counted in UTF-8 bytes), never equal to a relation of the
schema, even after the server's truncation, and every identifier quoted as the server's
quote_identifier() would."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbctl.pg.identifiers import MAX_NAME_BYTES, truncate
from dbctl.rules.indexing import (
    create_index_sql,
    drop_index_sql,
    index_name,
    key_part_sql,
    taken_names,
    unique_index_name,
)
from dbctl.schema.catalog import Catalog, Index, Sequence, Table

pytestmark = pytest.mark.unit

# 62 bytes of two-byte characters: the columns differ only past PostgreSQL's 63-byte cut.
LONG = "é" * 31


def fits(name: str) -> bool:
    return len(name.encode()) <= MAX_NAME_BYTES and truncate(name) == name


def test_a_short_name_is_the_convention() -> None:
    assert index_name("orders", ["customer_id", "created_at"]) == "ix_orders_customer_id_created_at"
    assert index_name("Order Lines", ["OrderId"]) == "ix_order_lines_orderid"


def test_multibyte_names_are_cut_in_bytes_on_a_character_boundary() -> None:
    plain = "ix_заказы_идентификатор_покупателя_дата_создания"
    assert len(plain) < 63 < len(plain.encode())  # fewer than 63 characters, more bytes
    name = index_name("заказы", ["идентификатор_покупателя", "дата_создания"])
    assert name.startswith("ix_заказы_идентификатор_покуп_") and name != plain
    assert fits(name) and len(name.encode()) == 62  # 54 bytes would split a character
    assert name == index_name("заказы", ["идентификатор_покупателя", "дата_создания"])


def test_names_equal_after_truncation_stay_distinct() -> None:
    first = index_name("t", [LONG + "a"])
    second = index_name("t", [LONG + "b"])
    assert fits(first) and fits(second)
    assert first != second
    # What PostgreSQL itself would have kept of the plain names is the same: the old bug.
    assert truncate("ix_t_" + LONG + "a") == truncate("ix_t_" + LONG + "b")


@given(
    table=st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80
    ),
    columns=st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80),
        min_size=1,
        max_size=4,
    ),
)
def test_every_name_fits(table: str, columns: list[str]) -> None:
    name = index_name(table, columns)
    assert fits(name)
    assert name == index_name(table, columns)


def test_taken_names_are_every_relation_of_the_schema() -> None:
    catalog = Catalog.build(
        [
            Table("public", "orders", indexes=(Index("orders_pkey", ("id",)),)),
            Table("sales", "ix_orders_status", kind="view"),
        ],
        sequences=[Sequence("public", "orders_id_seq")],
    )
    assert taken_names(catalog) == {
        "public.orders",
        "public.orders_pkey",
        "public.orders_id_seq",
        "sales.ix_orders_status",
    }


def test_unique_names_get_a_suffix_when_taken() -> None:
    orders = Table("public", "orders")
    taken = {"public.ix_orders_status", "public.ix_orders_status_2"}
    assert unique_index_name(orders, ["status"], taken) == "ix_orders_status_3"
    assert "public.ix_orders_status_3" in taken
    # Another schema's relation of the same name is no obstacle.
    assert unique_index_name(Table("sales", "orders"), ["status"], taken) == "ix_orders_status"
    # "Select" and "select" make the same name: the second gets the suffix.
    t = Table("public", "t")
    names = [unique_index_name(t, [column], taken) for column in ("select", "Select")]
    assert names == ["ix_t_select", "ix_t_select_2"]


def test_unique_long_names_stay_within_63_bytes() -> None:
    t = Table("public", "t")
    taken: set[str] = set()
    names = [unique_index_name(t, [LONG + "a"], taken) for _ in range(3)]
    assert len(set(names)) == 3
    assert all(fits(name) for name in names)


def test_reserved_words_and_mixed_case_are_quoted() -> None:
    t = Table("public", "user")
    assert create_index_sql(t, ["user", "order", "Select"]) == (
        "CREATE INDEX CONCURRENTLY ix_user_user_order_select "
        'ON public."user" ("user", "order", "Select");'
    )
    assert key_part_sql("order", descending=True, nulls_first=False) == '"order" DESC NULLS LAST'
    assert key_part_sql("where", nulls_first=True) == '"where" NULLS FIRST'
    assert drop_index_sql(Table("Sales", "t"), Index("Ix", ("a",))) == (
        'DROP INDEX CONCURRENTLY "Sales"."Ix";'
    )


def test_a_multibyte_index_name_is_quoted_whole() -> None:
    sql = create_index_sql(Table("public", "t"), ["é" * 40])
    name = index_name("t", ["é" * 40])
    assert sql == f'CREATE INDEX CONCURRENTLY "{name}" ON public.t ("{"é" * 40}");'
