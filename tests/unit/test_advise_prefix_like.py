"""``col LIKE 'abc%'``: outside the C collation only a ``*_pattern_ops`` btree serves it.

Candidates ask for ``text_pattern_ops`` (varchar/bpchar by type) unless the column is
C-collated; an existing pattern_ops or C-collated index covers the access; a pattern_ops
index serves equality and LIKE prefixes, never a range or a sort."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dbctl.access.model import SortKey, Statement, TableAccess
from dbctl.advise.candidates import candidates
from dbctl.advise.coverage import Coverage
from dbctl.advise.keys import Part, equality, fixed, index_shape, key_parts, serves
from dbctl.rules.indexing import create_index_sql
from dbctl.schema.catalog import Column, Index, Table
from dbctl.schema.ddl import catalog_from_ddl

pytestmark = pytest.mark.unit


@dataclass(frozen=True, slots=True)
class PrefixAccess(TableAccess):
    """``TableAccess`` with the LIKE-prefix columns (until the extractor records them)."""

    prefixes: tuple[str, ...] = ()


DDL = """
CREATE TABLE film (id int PRIMARY KEY, title text NOT NULL, code varchar(10), tag char(4),
                   rating text, length int);
CREATE TABLE plain (id int PRIMARY KEY, title text);
CREATE INDEX ix_plain_title ON plain (title);
CREATE TABLE ops (id int PRIMARY KEY, title text, rating text);
CREATE INDEX ix_ops_title ON ops (title text_pattern_ops);
CREATE INDEX ix_ops_rating_title ON ops (rating, title varchar_pattern_ops);
CREATE TABLE collated (id int PRIMARY KEY, title text);
CREATE INDEX ix_collated_title ON collated (title COLLATE "C");
"""
STATEMENT = Statement("SELECT 1", "q.sql")
LIKE = Part("title", opclass="text_pattern_ops", pattern=True)


def _keys(access: TableAccess, table: Table | None) -> list[str]:
    found = candidates(access, STATEMENT, table=table)
    return [
        ", ".join(p.column + (f" {p.opclass}" if p.opclass else "") for p in key_parts(c.shape))
        for c in found
    ]


@pytest.fixture(scope="module")
def tables() -> dict[str, Table]:
    catalog, _ = catalog_from_ddl(DDL)
    return {name.split(".")[1]: table for name, table in catalog.tables.items()}


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("title", "title text_pattern_ops"),
        ("code", "code varchar_pattern_ops"),
        ("tag", "tag bpchar_pattern_ops"),
    ],
)
def test_candidate_opclass_by_type(tables: dict[str, Table], column: str, expected: str) -> None:
    access = PrefixAccess("public.film", ranges=(column,), prefixes=(column,))
    assert _keys(access, tables["film"]) == [expected]


def test_candidate_without_table_or_c_collation() -> None:
    access = PrefixAccess("public.film", ranges=("title",), prefixes=("title",))
    assert _keys(access, None) == ["title text_pattern_ops"]
    table = Table("public", "film", columns=(Column("title", "text", collation="C"),))
    assert _keys(access, table) == ["title"]
    # a plain range (not a LIKE) stays a plain part
    assert _keys(TableAccess("public.film", ranges=("title",)), None) == ["title"]


def test_pattern_part_does_not_take_the_sort(tables: dict[str, Table]) -> None:
    sort = (SortKey("title"),)
    like = PrefixAccess(
        "public.film", equality=("rating",), ranges=("title",), sort=sort, limit=True,
        prefixes=("title",),
    )  # fmt: skip
    assert _keys(like, tables["film"]) == ["rating, title text_pattern_ops"]
    other = PrefixAccess(
        "public.film",
        equality=("rating",),
        ranges=("title",),
        sort=(SortKey("id"),),
        prefixes=("title",),
    )  # fmt: skip  (no LIMIT: the prefix range is kept, and a pattern part never sorts)
    assert _keys(other, tables["film"]) == ["rating, title text_pattern_ops"]
    ranged = TableAccess("public.film", equality=("rating",), ranges=("title",), sort=sort)
    assert _keys(ranged, tables["film"]) == ["rating, title"]


def test_index_shape_reads_opclass_and_collation(tables: dict[str, Table]) -> None:
    [plain] = [i for i in tables["plain"].indexes if i.name == "ix_plain_title"]
    [ops] = [i for i in tables["ops"].indexes if i.name == "ix_ops_title"]
    [collated] = [i for i in tables["collated"].indexes if i.name == "ix_collated_title"]
    assert index_shape(plain) == (fixed(Part("title", ordered=True)),)
    assert index_shape(ops) == (
        fixed(Part("title", ordered=True, opclass="text_pattern_ops", pattern=True)),
    )
    assert index_shape(collated) == (fixed(Part("title", ordered=True, pattern=True)),)
    # as the live catalog gives them: opclasses, COLLATE in the definition, the column's
    live = Index("l", ("title",), opclasses=("text_pattern_ops",), expressions=(False,),
                 descending=(False,), nulls_first=(False,))  # fmt: skip
    assert index_shape(live)[0].parts[0].pattern
    defined = Index(
        "d", ("title",), expressions=(False,), descending=(False,), nulls_first=(False,),
        opclasses=(None,), definition='CREATE INDEX d ON public.t USING btree (title COLLATE "C")',
    )  # fmt: skip
    assert index_shape(defined)[0].parts[0].pattern
    c_column = Table("public", "t", columns=(Column("title", "text", collation="C"),))
    assert index_shape(plain, c_column)[0].parts[0].pattern
    assert not index_shape(plain)[0].parts[0].pattern


def test_serves() -> None:
    plain = (fixed(Part("title", ordered=True)),)
    ops = (fixed(Part("title", ordered=True, opclass="text_pattern_ops", pattern=True)),)
    c_collated = (fixed(Part("title", ordered=True, pattern=True)),)
    like = (fixed(LIKE),)
    ranged = (fixed(Part("title")),)
    sorted_ = (fixed(Part("title", ordered=True)),)
    assert not serves(plain, like)
    assert serves(ops, like) and serves(c_collated, like)
    assert serves(ops, (equality("title"),))  # text_pattern_ops has the ordinary =
    assert not serves(ops, ranged) and not serves(ops, sorted_)
    assert serves(c_collated, ranged) and serves(c_collated, sorted_)


@pytest.mark.parametrize(
    ("table", "rating", "covered"),
    [("plain", False, None), ("ops", False, "ix_ops_title"),
     ("collated", False, "ix_collated_title"), ("ops", True, "ix_ops_rating_title")],
)  # fmt: skip
def test_coverage(tables: dict[str, Table], table: str, rating: bool, covered: str | None) -> None:
    access = PrefixAccess(
        f"public.{table}", equality=("rating",) if rating else (), ranges=("title",),
        prefixes=("title",),
    )  # fmt: skip
    [candidate] = candidates(access, STATEMENT, table=tables[table])
    found = Coverage().index_for(tables[table], candidate, access)
    assert (found and found.name) == covered


def test_create_index_sql_with_opclass(tables: dict[str, Table]) -> None:
    sql = create_index_sql(
        tables["film"], ("rating", "title"), "ix_film_rating_title",
        opclasses=(None, "text_pattern_ops"),
    )  # fmt: skip
    assert sql == (
        "CREATE INDEX CONCURRENTLY ix_film_rating_title ON public.film "
        "(rating, title text_pattern_ops);"
    )
