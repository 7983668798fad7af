"""PostgreSQL's name rules in Python (quoting, truncation, made-up names) and the search for
column references in SQL text. Expected values were taken from PostgreSQL 15 itself."""

from __future__ import annotations

import pytest

from dbctl.pg.identifiers import (
    NameSpace,
    Quoting,
    make_object_name,
    name_addition,
    quote_ident,
    quote_literal,
    split_qualified,
    truncate,
)
from dbctl.pg.sql_lexer import LexError, fill, rename_columns, tokens

pytestmark = pytest.mark.unit

QUOTING = Quoting(frozenset({"user", "order", "select", "int", "left"}))
RESERVED = frozenset({"user", "order", "select", "left", "and", "not", "in"})


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("orders", "orders"),
        ("_x1", "_x1"),
        ("Orders", '"Orders"'),
        ("1st", '"1st"'),
        ("with space", '"with space"'),
        ('say "hi"', '"say ""hi"""'),
        ("user", '"user"'),
        ("int", '"int"'),  # a col_name keyword is quoted too
        ("name", "name"),  # an unreserved one is not
        ("é", '"é"'),
        ("a$b", '"a$b"'),
    ],
)
def test_quote_ident(name: str, shown: str) -> None:
    assert QUOTING.ident(name) == shown


def test_quote_all_identifiers_and_qualified_names() -> None:
    assert Quoting(quote_all=True).ident("orders") == '"orders"'
    assert QUOTING.qualified("Sales", "order") == '"Sales"."order"'
    assert QUOTING.qualified(None, "t") == "t"
    assert quote_literal("it's") == "'it''s'"


def test_truncate_at_63_bytes_on_a_character_boundary() -> None:
    assert truncate("a" * 70) == "a" * 63
    assert truncate("é" * 40) == "é" * 31  # 62 bytes: the 32nd would straddle byte 63
    assert truncate("short") == "short"


@pytest.mark.parametrize(
    ("parts", "made"),
    [
        (("t", "a", "key"), "t_a_key"),
        (("t", None, "pkey"), "t_pkey"),
        (("t" * 60, "quantity", "check"), "t" * 48 + "_quantity_check"),
        (("short", "c" * 63, "fkey"), "short_" + "c" * 52 + "_fkey"),
        (("é" * 31, "col", "seq"), "é" * 27 + "_col_seq"),
        (("a" * 40, "b" * 40, "key"), "a" * 29 + "_" + "b" * 29 + "_key"),
    ],
)
def test_make_object_name(parts: tuple[str, str | None, str], made: str) -> None:
    assert make_object_name(*parts) == made


def test_name_addition_stops_past_namedatalen() -> None:
    assert name_addition(["a", "b"]) == "a_b"
    long = ["x" * 40, "y" * 40, "z" * 40]
    assert name_addition(long) == "x" * 40 + "_" + "y" * 40


def test_names_taken_get_a_number() -> None:
    space = NameSpace(relations={"t_pkey", "t_a_key"}, constraints={"t_a_check"})
    assert space.choose_relation("t", None, "pkey", True) == "t_pkey1"
    assert space.choose_relation("t", "b", "key", True) == "t_b_key"
    space.constraints.add("t_b_key")
    assert space.choose_relation("t", "b", "key", True) == "t_b_key1"
    assert space.choose_relation("t", "b", "key", False) == "t_b_key"
    assert space.choose_constraint("t", "a", "check") == "t_a_check1"
    assert space.choose_constraint("t", "b", "check", ["t_b_check"]) == "t_b_check1"


def test_tokens_keep_strings_comments_and_dollar_quotes_whole() -> None:
    found = [t.text for t in tokens("a <> 'x''y' /* c /* nested */ */ AND $q$it's$q$ -- end")]
    assert found == ["a", "<", ">", "'x''y'", "AND", "$q$it's$q$"]
    assert [t.text for t in tokens(r"E'a\'b' <> 'c\'")] == [r"E'a\'b'", "<", ">", "'c\\'"]


@pytest.mark.parametrize(
    ("sql", "template", "refs"),
    [
        ("qty > 0", "\x000\x00 > 0", ("qty",)),
        ("QTY > 0 AND qty < 10", "\x000\x00 > 0 AND \x000\x00 < 10", ("qty",)),
        ('"Name" <> name', "\x000\x00 <> \x001\x00", ("Name", "name")),
        ("qty::text <> ''", "\x000\x00::text <> ''", ("qty",)),
        ("CAST(qty AS text) <> text", "CAST(\x000\x00 AS text) <> \x001\x00", ("qty", "text")),
        ("date > date '2000-01-01'", "\x000\x00 > date '2000-01-01'", ("date",)),
        ("lower(lower) = 'x'", "lower(\x000\x00) = 'x'", ("lower",)),
        ("t.qty > 0", "t.qty > 0", ()),
        ("name COLLATE \"C\" > 'a'", "\x000\x00 COLLATE \"C\" > 'a'", ("name",)),
        ('"user" <> user', "\x000\x00 <> user", ("user",)),
        ("'qty' <> $$qty$$ -- qty", "'qty' <> $$qty$$ -- qty", ()),
        ("extract(day from stamp) > 0", "extract(\x000\x00 from \x001\x00) > 0", ("day", "stamp")),
    ],
)
def test_rename_columns(sql: str, template: str, refs: tuple[str, ...]) -> None:
    columns = {"qty", "Name", "name", "text", "date", "lower", "user", "day", "stamp", "C"}
    assert rename_columns(sql, columns, RESERVED) == (template, refs)


def test_fill_puts_names_for_markers() -> None:
    assert fill("\x001\x00 < \x000\x00 + \x001\x00", ["a", '"B"']) == '"B" < a + "B"'


@pytest.mark.parametrize("sql", ['U&"d\\0061t\\+000061" > 0', "a <> 'open", "a /* b"])
def test_text_the_lexer_does_not_follow(sql: str) -> None:
    with pytest.raises(LexError):
        rename_columns(sql, {"a"}, RESERVED)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("user", '"user"'),
        ("order", '"order"'),
        ("name", "name"),  # an unreserved keyword stays plain
        ("Customer", '"Customer"'),
        ("1st", '"1st"'),
        ('say "hi"', '"say ""hi"""'),
        ("été", '"été"'),
        ("ok_1", "ok_1"),
    ],
)
def test_quote_ident_without_a_server(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


@pytest.mark.parametrize(
    "parts",
    [
        ("public", "orders"),
        ("Sales", "Order Lines"),
        ("a.b", 'we"ird\nname'),
        ("user", '"""'),
        ("é" * 31, "x.y.z"),
    ],
)
def test_split_qualified_reads_back_what_quote_ident_wrote(parts: tuple[str, str]) -> None:
    text = ".".join(quote_ident(part) for part in parts)
    assert split_qualified(text) == parts


def test_split_qualified_folds_unquoted_names_and_refuses_bad_text() -> None:
    assert split_qualified("Public.Orders") == ("public", "orders")
    assert split_qualified("ÉtÉ") == ("ÉtÉ",)  # the server folds ASCII letters only
    for bad in ('"open', "a..b", "", 'a."b"c', "a."):
        with pytest.raises(ValueError, match="not a qualified name"):
            split_qualified(bad)
