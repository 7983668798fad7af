"""``check-indexes --validate`` sends nothing but one EXPLAIN per statement, read-only.

Statement text is input: a SQL file, a capture log or pg_stat_statements may hold
``...; COMMIT; CREATE TABLE pwned ...`` or a DML statement. Whatever the source, nothing
is created or changed in the database, and a normal statement beside them still gets its
priced advice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.pg.url import libpq_url

pytestmark = pytest.mark.integration

INJECTION = "SELECT * FROM customers WHERE name = 'n'; COMMIT; CREATE TABLE pwned(x int); SELECT 1"
UPDATE = "UPDATE customers SET name = 'changed' WHERE email = 'c7@example.com'"
DELETE = "DELETE FROM orders WHERE total = 17"
NORMAL = "SELECT * FROM orders WHERE customer_id = 42"

SCHEMA = """
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    total integer NOT NULL
);
CREATE INDEX ix_orders_customer_id_total ON orders (total);
INSERT INTO customers SELECT g, 'name' || g, 'c' || g || '@example.com'
    FROM generate_series(1, 20000) g;
INSERT INTO orders SELECT g, 1 + g % 20000, g % 1000 FROM generate_series(1, 100000) g;
ANALYZE;
"""


@pytest.fixture
def url(make_database: Callable[[str], str]) -> str:
    url = make_database("whatif_safety")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(SCHEMA)
        hypopg = conn.execute("SELECT FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    if hypopg is None:
        pytest.skip("hypopg is not created in the test databases")
    return url


def state(url: str) -> dict[str, Any]:
    """What must not change: the tables, the rows, the data."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT relname FROM pg_class ORDER BY relname")]
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),"
            " (SELECT count(*) FROM customers WHERE name = 'changed'),"
            " (SELECT sum(total) FROM orders)"
        ).fetchone()
    return {"relations": tables, "counts": counts}


def run(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["check-indexes", *args, "--format", "json"])
    assert result.stdout.startswith("{"), result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def priced(report: dict[str, Any], table: str, column: str) -> dict[str, Any]:
    """The missing-index finding on ``table (column)``, priced by the planner."""
    (found,) = [
        f
        for f in report["findings"]
        if f["rule"] == "missing-index" and f["table"] == table and f["columns"] == [column]
    ]
    assert found["evidence"]["cost_after"] < found["evidence"]["cost_before"]
    return dict(found)


def assert_untouched(url: str, before: dict[str, Any]) -> None:
    after = state(url)
    assert "pwned" not in after["relations"]
    assert after == before


def test_a_sql_file(url: str, tmp_path: Path) -> None:
    before = state(url)
    queries = tmp_path / "queries.sql"
    queries.write_text(f"{INJECTION};\n{UPDATE};\n{DELETE};\n{NORMAL};\n")
    code, report, stderr = run(str(queries), "--database-url", url, "--validate")
    assert code == 1, stderr
    assert_untouched(url, before)
    priced(report, "public.orders", "customer_id")
    update = priced(report, "public.customers", "email")  # the UPDATE was explained
    assert update["statement"].startswith("UPDATE customers")
    assert not [f for f in report["findings"] if f["rule"] == "not-validated"]


def test_a_capture_log(url: str, tmp_path: Path) -> None:
    before = state(url)
    log = tmp_path / "capture.jsonl"
    records = [
        {"statement": INJECTION},
        {"route": "GET /x", "statements": [{"statement": UPDATE}, NORMAL]},
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, report, stderr = run("--from-log", str(log), "--database-url", url, "--validate")
    assert code == 1, stderr
    assert_untouched(url, before)
    priced(report, "public.orders", "customer_id")
    priced(report, "public.customers", "email")
    # The record of four statements in one is reported where it is, and not advised on.
    (error,) = [f for f in report["findings"] if f["rule"] == "parse-error"]
    assert error["location"] == {"path": str(log), "line": 1}
    assert "4 statements" in error["message"]
    assert not [f for f in report["findings"] if f["columns"] == ["name"]]


def test_pg_stat_statements(url: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        # Utility text with a CREATE inside, a DML and a normal query, as the server
        # records them (the DML's transaction is rolled back: the rows stay).
        conn.execute(
            "DO $$ BEGIN IF false THEN EXECUTE 'CREATE TABLE pwned(x int)'; END IF; END $$"
        )
        with conn.transaction(force_rollback=True):
            conn.execute(UPDATE)
            conn.execute(DELETE)
        for n in range(5):
            conn.execute("SELECT * FROM orders WHERE customer_id = %s", (n,)).fetchall()
    before = state(url)
    code, report, stderr = run("--from-stats", "--database-url", url, "--validate")
    assert code == 1, stderr
    assert_untouched(url, before)
    normal = priced(report, "public.orders", "customer_id")
    assert normal["queryid"] is not None
    update = priced(report, "public.customers", "email")
    assert update["statement"].startswith("UPDATE customers SET name = $1")


def test_a_statement_refused_is_not_sent(url: str, tmp_path: Path) -> None:
    """What the analysis accepts but what-if may not send (SELECT ... INTO creates a
    table) leaves the suggestion unpriced, with the reason."""
    before = state(url)
    queries = tmp_path / "queries.sql"
    queries.write_text("SELECT * INTO pwned FROM customers WHERE email = 'x';\n")
    code, report, _ = run(str(queries), "--database-url", url, "--validate")
    assert code == 1
    assert_untouched(url, before)
    (note,) = [f for f in report["findings"] if f["rule"] == "not-validated"]
    assert "not sent to the server" in note["message"]
    assert "SELECT ... INTO" in note["message"]


# One statement never stops a run, whatever the source: pg_stat_statements included.

HOSTILE = [
    "SELECT * FROM shapes WHERE b ?# box '((0,0),(1,1))'",
    "SELECT " + "(" * 500 + "1" + ")" * 500 + " FROM shapes",
]


def test_hostile_statements_from_stats_and_top_queries(url: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE shapes (id int PRIMARY KEY, b box)")
        conn.execute("SELECT pg_stat_statements_reset()")
        for text in HOSTILE:
            conn.execute(text).fetchall()
        for n in range(5):
            conn.execute("SELECT * FROM orders WHERE customer_id = %s", (n,)).fetchall()
    code, report, stderr = run("--from-stats", "--database-url", url)
    assert (code, stderr) == (1, "")
    errors = [f for f in report["findings"] if f["rule"] == "parse-error"]
    assert sorted(f["statement"][:20] for f in errors) == [
        "SELECT (((((((((((((",
        "SELECT * FROM shapes",
    ]
    assert all(f["queryid"] is not None and f["severity"] == "error" for f in errors)
    assert any(f["rule"] == "missing-index" and f["columns"] == ["customer_id"]
               for f in report["findings"])  # fmt: skip

    result = CliRunner().invoke(
        app, ["top-queries", "--database-url", url, "--advise", "--format", "json"]
    )
    assert result.stderr == ""
    top = json.loads(result.stdout)
    notes = [f for f in top["findings"] if f["rule"] == "parse-error"]
    assert len(notes) == 2 and {f["severity"] for f in notes} == {"info"}
    assert any(f["rule"] == "missing-index" for f in top["findings"])
