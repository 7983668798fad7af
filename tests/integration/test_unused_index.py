"""unused-index against a real PostgreSQL: only past the statistics window (the counters'
age and the index's own), never for unique indexes or indexes the analysed statements use,
and said of this node only. The window is a parameter: 0 days stands for an old reset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from dbctl.access.analyze import analyze_one
from dbctl.access.model import Statement
from dbctl.advise import unused
from dbctl.advise.candidates import candidates
from dbctl.advise.coverage import Coverage
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect
from dbctl.pg.stats import Statistics, load_statistics
from dbctl.schema.catalog import Catalog

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE accounts (id integer PRIMARY KEY, code text NOT NULL UNIQUE);
CREATE TABLE items (
    id integer PRIMARY KEY,
    account_id integer NOT NULL REFERENCES accounts (id),
    sku text NOT NULL,
    price integer NOT NULL,
    color text NOT NULL
);
INSERT INTO accounts SELECT g, 'c' || g FROM generate_series(1, 500) g;
INSERT INTO items SELECT g, 1 + g % 500, 's' || g, g % 1000, 'red' FROM generate_series(1, 5000) g;
CREATE INDEX ix_items_account_id ON items (account_id);
CREATE UNIQUE INDEX uq_items_sku ON items (sku);
CREATE INDEX ix_items_price ON items (price);
CREATE INDEX ix_items_color ON items (color);
ANALYZE;
"""

WINDOW_PASSED = timedelta(0)  # as if the reset and the indexes were older than the window


@pytest.fixture(scope="module")
def conn(make_database: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    url = make_database("dbctl_unused")
    with connect(url, autocommit=True) as connection:
        connection.execute(SCHEMA)  # type: ignore[arg-type]
        yield connection


@pytest.fixture(scope="module")
def catalog(conn: psycopg.Connection[Any]) -> Catalog:
    return load_catalog(conn)


@pytest.fixture
def statistics(conn: psycopg.Connection[Any], catalog: Catalog) -> Statistics:
    return load_statistics(conn, list(catalog.tables))


def reported(findings: list[Any]) -> set[str]:
    return {f.evidence["index"] for f in findings if f.rule == "unused-index"}


def used_by(sql: str, catalog: Catalog) -> set[tuple[str, str]]:
    """What the advisor's Coverage finds serving the statement's accesses."""
    statement = Statement(sql, "q.sql", 1)
    pattern = analyze_one(statement, catalog)
    coverage = Coverage()
    found = set()
    for access in pattern.accesses:
        table = catalog.tables[access.table]
        for shape in candidates(access, statement):
            index = coverage.index_for(table, replace(shape, statement=statement), access)
            if index is not None:
                found.add((table.qualified_name, index.name))
    return found


def test_a_fresh_index_is_not_reported(catalog: Catalog, statistics: Statistics) -> None:
    assert statistics.now is not None and statistics.counting_since is not None
    assert statistics.file_ages  # the test server's role is a superuser
    price = statistics.index("public.items", "ix_items_price")
    assert price is not None and price.scans == 0 and price.file_modified is not None
    assert unused.check(catalog, statistics, min_bytes=0) == []
    # Counters reset long ago: the index's own age still keeps it off.
    old_reset = replace(statistics, stats_reset=statistics.now - timedelta(days=30))
    assert unused.check(catalog, old_reset, min_bytes=0) == []


def test_past_the_window_zero_scans_are_reported(catalog: Catalog, statistics: Statistics) -> None:
    findings = unused.check(catalog, statistics, min_bytes=0, window=WINDOW_PASSED)
    # Never the unique ones (uq_items_sku, accounts' code and keys), nor the only index
    # of a foreign key (ix_items_account_id).
    assert reported(findings) == {"ix_items_price", "ix_items_color"}
    price = next(f for f in findings if f.evidence["index"] == "ix_items_price")
    assert "has not been scanned on this node (a replica's scans are not seen)" in price.message
    assert price.suggestion == "DROP INDEX CONCURRENTLY public.ix_items_price;"
    assert price.evidence["index_age_from"] == "index file"
    assert price.evidence["window_days"] == 0


def test_without_the_file_ages_the_counters_age_stands_in(
    catalog: Catalog, statistics: Statistics
) -> None:
    blind = replace(statistics, file_ages=False)
    findings = unused.check(catalog, blind, min_bytes=0, window=WINDOW_PASSED)
    assert reported(findings) == {"ix_items_price", "ix_items_color"}
    assert {f.evidence["index_age_from"] for f in findings} == {"stats_reset"}
    assert unused.check(catalog, blind, min_bytes=0) == []  # a fresh database


def test_a_scanned_index_is_not_reported(conn: psycopg.Connection[Any], catalog: Catalog) -> None:
    conn.execute("SET enable_seqscan = off")
    conn.execute("SELECT count(*) FROM items WHERE color = 'blue'").fetchall()
    conn.execute("RESET enable_seqscan")
    deadline = 50
    while deadline:  # the counters reach the shared statistics at the end of the transaction
        statistics = load_statistics(conn, list(catalog.tables))
        color = statistics.index("public.items", "ix_items_color")
        if color is not None and color.scans:
            break
        conn.execute("SELECT pg_stat_clear_snapshot(), pg_sleep(0.1)")
        deadline -= 1
    findings = unused.check(catalog, statistics, min_bytes=0, window=WINDOW_PASSED)
    assert "ix_items_color" not in reported(findings)


def test_an_index_the_statements_use_is_not_reported(
    catalog: Catalog, statistics: Statistics
) -> None:
    used = used_by("SELECT * FROM items WHERE price = $1", catalog)
    assert ("public.items", "ix_items_price") in used
    findings = unused.check(catalog, statistics, min_bytes=0, window=WINDOW_PASSED, used=used)
    assert "ix_items_price" not in reported(findings)


def test_a_unique_index_is_never_reported(catalog: Catalog, statistics: Statistics) -> None:
    findings = unused.check(catalog, statistics, min_bytes=0, window=WINDOW_PASSED)
    assert not reported(findings) & {"uq_items_sku", "items_pkey", "accounts_code_key"}
    sku = statistics.index("public.items", "uq_items_sku")
    assert sku is not None and sku.protected and sku.scans == 0


def test_the_advisor_tells_which_indexes_the_input_uses(
    catalog: Catalog, statistics: Statistics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """advise() hands unused.check the indexes its coverage found serving the statements
    (the real check runs; only what it is given is recorded)."""
    from dbctl.advise.advisor import advise

    given: list[Any] = []
    real = unused.check

    def recording(*args: Any, **kwargs: Any) -> list[Any]:
        given.append(kwargs.get("used"))
        return real(*args, **kwargs)

    monkeypatch.setattr(unused, "check", recording)
    statement = Statement("SELECT * FROM items WHERE price = $1", "q.sql", 1)
    advise([analyze_one(statement, catalog)], catalog, statistics=statistics)
    assert given and ("public.items", "ix_items_price") in given[0]
