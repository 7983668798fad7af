"""For --validate, the pool holds a key two accesses could share: a composite join key
reordered to lead with the column another statement searches (``(l_partkey, l_suppkey)``
for a join on both and a search on ``l_partkey``), so that the selection can consolidate
two indexes into one; never without --validate (the static advice stays as it is)."""

from __future__ import annotations

import pytest

from dbctl.access.analyze import analyze_one
from dbctl.access.model import Statement
from dbctl.advise.advisor import advise
from dbctl.advise.model import AdviceOptions
from dbctl.schema.ddl import catalog_from_ddl

pytestmark = pytest.mark.unit

DDL = """
CREATE TABLE lineitem (l_orderkey int, l_linenumber int, l_partkey int NOT NULL,
    l_suppkey int NOT NULL, l_quantity numeric NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber));
CREATE TABLE partsupp (ps_partkey int, ps_suppkey int, ps_cost numeric,
    PRIMARY KEY (ps_partkey, ps_suppkey));
"""
STATEMENTS = [
    "SELECT sum(l.l_quantity) FROM lineitem l JOIN partsupp ps "
    "ON ps.ps_partkey = l.l_partkey AND ps.ps_suppkey = l.l_suppkey WHERE ps.ps_cost < $1",
    "SELECT avg(l_quantity) FROM lineitem WHERE l_partkey = $1",
    "SELECT count(*) FROM lineitem WHERE l_suppkey = $1",
]


def _keys(alternatives: bool) -> set[tuple[str, ...]]:
    catalog, _ = catalog_from_ddl(DDL)
    patterns = [analyze_one(Statement(sql, "q.sql"), catalog) for sql in STATEMENTS]
    advice = advise(patterns, catalog, options=AdviceOptions(alternatives=alternatives))
    pool = [*advice.suggestions, *advice.alternatives]
    return {s.columns for s in pool if s.table == "public.lineitem"}


def test_the_join_key_is_offered_leading_with_each_searched_column() -> None:
    keys = _keys(alternatives=True)
    assert ("l_partkey", "l_suppkey") in keys
    assert ("l_suppkey", "l_partkey") in keys
    assert len(keys) == len(set(keys))


def test_no_shared_key_without_validate() -> None:
    catalog, _ = catalog_from_ddl(DDL)
    patterns = [analyze_one(Statement(sql, "q.sql"), catalog) for sql in STATEMENTS]
    advice = advise(patterns, catalog)
    assert advice.alternatives == []
