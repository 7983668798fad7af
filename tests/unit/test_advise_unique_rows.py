"""From DDL alone: an equality on every column of a unique index (or unique or primary-key
constraint) returns at most one row, so that index serves the whole access; the row-count
hint (``table_rows``) turns a small table's suggestion into a ``small-table`` note."""

from __future__ import annotations

import pytest

from dbctl.access.analyze import analyze_one
from dbctl.access.model import Statement
from dbctl.advise.advisor import advise
from dbctl.advise.candidates import candidates
from dbctl.advise.filters import Limits, apply_filters, rows_hint
from dbctl.advise.merge import merge
from dbctl.advise.model import AdviceOptions
from dbctl.schema.ddl import catalog_from_ddl

pytestmark = pytest.mark.unit

DDL = """
CREATE TABLE customer (
    id int PRIMARY KEY, store_id int NOT NULL, email text NOT NULL UNIQUE,
    last_name text NOT NULL, active boolean NOT NULL, created_at timestamptz NOT NULL,
    tenant int NOT NULL, code text NOT NULL, UNIQUE (tenant, code)
);
CREATE UNIQUE INDEX ux_customer_lower_last ON customer (lower(last_name));
CREATE UNIQUE INDEX ux_customer_active_store ON customer (store_id) WHERE active;
CREATE TABLE rental (id int PRIMARY KEY, customer_id int NOT NULL, rented_at date NOT NULL);
CREATE TABLE country (id int PRIMARY KEY, name text NOT NULL);
"""


def _suggested(sql: str) -> list[str]:
    catalog, _ = catalog_from_ddl(DDL)
    pattern = analyze_one(Statement(sql, "q.sql"), catalog)
    return [s.sql.split(" ON ", 1)[1] for s in advise([pattern], catalog).suggestions]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM customer WHERE email = 'x'", []),
        ("SELECT * FROM customer WHERE email = 'x' AND last_name = 'y'", []),
        ("SELECT * FROM customer WHERE email = 'x' AND created_at > now()", []),
        ("SELECT * FROM customer WHERE email = 'x' ORDER BY created_at LIMIT 5", []),
        ("SELECT * FROM customer WHERE id = 1 AND store_id = 2", []),
        ("SELECT * FROM customer WHERE tenant = 1 AND code = 'a' AND last_name = 'y'", []),
        # only part of a unique key: many rows may match
        (
            "SELECT * FROM customer WHERE tenant = 1 AND last_name = 'y'",
            ["public.customer (tenant, last_name);"],
        ),
        # an IN list is several lookups, each of at most one row: still served
        ("SELECT * FROM customer WHERE email IN ('a', 'b') AND last_name = 'y'", []),
        # an expression index is not an equality on the plain column
        (
            "SELECT * FROM customer WHERE last_name = 'y' AND created_at > now()",
            ["public.customer (last_name, created_at);"],
        ),
        # a partial unique index counts only when the statement implies its predicate
        (
            "SELECT * FROM customer WHERE store_id = 2 AND last_name = 'y'",
            ["public.customer (store_id, last_name);"],
        ),
        (
            "SELECT r.* FROM rental r JOIN customer c ON c.id = r.customer_id "
            "WHERE c.email = 'x' AND c.last_name = 'y'",
            ["public.rental (customer_id);"],
        ),
    ],
)
def test_unique_equality_needs_no_index(sql: str, expected: list[str]) -> None:
    assert _suggested(sql) == expected


def test_rows_hint_by_name_or_qualified() -> None:
    assert rows_hint({"country": 100}, "public.country") == 100
    assert rows_hint({"public.country": 7}, "public.country") == 7
    assert rows_hint({"sales.country": 7}, "public.country") is None
    assert rows_hint({"Country": 5}, "public.country") is None  # names as PostgreSQL stores them


def test_small_table_hint_without_statistics() -> None:
    sql = "SELECT * FROM country WHERE name = 'France'"
    assert _suggested(sql) == ["public.country (name);"]
    catalog, _ = catalog_from_ddl(DDL)
    pattern = analyze_one(Statement(sql, "q.sql"), catalog)
    groups = merge(
        [c for access in pattern.accesses for c in candidates(access, pattern.statement)]
    )
    table = catalog.tables["public.country"]
    limits = Limits(table_rows={"country": 100})
    kept, dropped = apply_filters([(g, table) for g in groups], None, limits)
    assert kept == []
    [(_, drop)] = dropped
    assert drop.rule == "small-table"
    assert "country has about 100 rows (below 1,000)" in drop.message
    assert drop.evidence == {"rows": 100, "min_rows": 1000, "source": "table_rows"}
    # at or above min_rows, or no hint: kept (nothing else is filtered without statistics)
    assert apply_filters([(g, table) for g in groups], None, Limits(table_rows={"country": 5000}))[
        0
    ]
    assert apply_filters([(g, table) for g in groups], None, Limits())[0]


def test_limits_of_options() -> None:
    options = AdviceOptions(min_rows=10, table_rows={"country": 3})
    limits = Limits.of(options)
    assert limits.min_rows == 10
    assert dict(limits.table_rows) == {"country": 3}
    assert hash(options) == hash(AdviceOptions(min_rows=10, table_rows={"country": 3}))
