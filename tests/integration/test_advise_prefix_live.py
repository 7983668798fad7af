"""LIKE 'abc%' against a live catalog: a C-collated column (its collation from
pg_attribute), a ``text_pattern_ops`` index (its operator class from pg_opclass) and an
index ``COLLATE "C"`` (from pg_get_indexdef) serve the prefix; a plain index on a column
collated otherwise does not, and the planner agrees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from dbctl.access.model import Statement, TableAccess
from dbctl.advise.candidates import candidates
from dbctl.advise.coverage import Coverage
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE plain (id int PRIMARY KEY, title text COLLATE {collation} NOT NULL);
CREATE INDEX ix_plain_title ON plain (title);
CREATE TABLE c_column (id int PRIMARY KEY, title text COLLATE "C" NOT NULL);
CREATE INDEX ix_c_column_title ON c_column (title);
CREATE TABLE ops (id int PRIMARY KEY, title varchar(40) NOT NULL);
CREATE INDEX ix_ops_title ON ops (title varchar_pattern_ops);
CREATE TABLE c_index (id int PRIMARY KEY, title text NOT NULL);
CREATE INDEX ix_c_index_title ON c_index (title COLLATE "C");
"""


@dataclass(frozen=True, slots=True)
class PrefixAccess(TableAccess):
    prefixes: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("table", "covered"),
    [
        ("plain", None),
        ("c_column", "ix_c_column_title"),
        ("ops", "ix_ops_title"),
        ("c_index", "ix_c_index_title"),
    ],
)
def test_live_collation_and_opclass(
    make_database: Callable[[str], str], table: str, covered: str | None
) -> None:
    url = make_database(f"prefix_{table}")
    with connect(url, autocommit=True) as conn:
        # a collation other than C (whatever the database's): ICU's root, else C.utf8
        # (not C for the planner: PostgreSQL takes only C and POSIX as C)
        collation = conn.execute(
            "SELECT quote_ident(collname) FROM pg_collation"
            " WHERE collname IN ('und-x-icu', 'C.utf8', 'C.UTF-8')"
            " AND collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))"
            " ORDER BY collname = 'und-x-icu' DESC LIMIT 1"
        ).fetchone()
        if collation is None:
            pytest.skip("no collation other than C to test with")
        conn.execute(SCHEMA.replace("{collation}", collation[0]))
        catalog = load_catalog(conn)
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(f"EXPLAIN SELECT * FROM {table} WHERE title LIKE 'ab%'").fetchall()
    found = catalog.tables[f"public.{table}"]
    access = PrefixAccess(f"public.{table}", ranges=("title",), prefixes=("title",))
    [candidate] = candidates(access, Statement("SELECT 1", "q.sql"), table=found)
    index = Coverage().index_for(found, candidate, access)
    assert (index and index.name) == covered
    used = any(f"ix_{table}_title" in row[0] for row in plan)
    assert used == (covered is not None)  # the planner agrees
