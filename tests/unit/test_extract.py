"""Extraction fixtures (tests/fixtures/access/cases.sql), in the style of sqlglot's
optimizer fixtures: a statement, then the accesses it must produce, table by table."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbctl.access.analyze import analyze, analyze_one
from dbctl.access.model import AccessPattern, SortKey, Statement, TableAccess
from dbctl.schema.catalog import Catalog
from dbctl.schema.ddl import catalog_from_ddl

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "access"
CATALOG, _ = catalog_from_ddl((FIXTURES / "schema.sql").read_text())


def _cases() -> list[tuple[str, int, list[str]]]:
    """Blocks separated by blank lines: comment lines, the statement up to a line ending
    with ';', then the expected lines."""
    cases = []
    block: list[tuple[int, str]] = []
    lines = (FIXTURES / "cases.sql").read_text().splitlines()
    for number, row in [*enumerate(lines, 1), (len(lines) + 1, "")]:
        if row.strip():
            block.append((number, row))
            continue
        body = [(n, r) for n, r in block if not r.startswith("--")]
        block = []
        if not body:
            continue
        end = next(i for i, (_, r) in enumerate(body) if r.rstrip().endswith(";"))
        sql = "\n".join(r for _, r in body[: end + 1]).rstrip().rstrip(";")
        expected = [r.strip() for _, r in body[end + 1 :]]
        cases.append((sql, body[0][0], expected))
    return cases


def _describe(access: TableAccess) -> str:
    fields = []
    for name, value in (
        ("equality", access.equality),
        ("in", access.in_lists),
        ("nulls", access.nulls),
        ("ranges", access.ranges),
        ("joins", access.joins),
        ("sort", tuple(k.column + (":desc" if k.descending else "") for k in access.sort)),
        ("group", access.group),
        ("unservable", tuple(f"{u.column}:{u.reason.value}" for u in access.unservable)),
    ):
        if value:
            fields.append(f"{name}={','.join(value)}")
    fields += [flag for flag in ("limit", "write") if getattr(access, flag)]
    return f"{access.table}: {' '.join(fields)}".strip().rstrip(":")


def _describe_pattern(pattern: AccessPattern) -> list[str]:
    if pattern.error:
        return ["error"]
    rows = [f"unknown={name}" for name in pattern.unknown_tables]
    return sorted(rows + [_describe(a) for a in pattern.accesses])


CASES = _cases()


@pytest.mark.parametrize(("sql", "line", "expected"), CASES, ids=[f"line{c[1]}" for c in CASES])
def test_extraction(sql: str, line: int, expected: list[str]) -> None:
    pattern = analyze_one(Statement(sql, "cases.sql", line), CATALOG)
    assert _describe_pattern(pattern) == sorted(e.rstrip(":") for e in expected)


def test_there_are_cases() -> None:
    assert len(CASES) >= 25


def test_parallel_analysis_gives_the_same_result_and_shares_fingerprints() -> None:
    statements = [
        Statement(f"SELECT * FROM orders WHERE customer_id = {n} AND status = 'x{n}'", "log", n)
        for n in range(600)
    ] + [Statement(sql, "cases.sql", line) for sql, line, _ in CASES]
    serial = analyze(statements, CATALOG, workers=1)
    parallel = analyze(statements, CATALOG, workers=2)
    assert serial == parallel
    assert len({p.statement.fingerprint for p in serial[:600]}) == 1
    assert [p.statement.line for p in serial[:3]] == [0, 1, 2]


def test_an_empty_catalog_reports_every_table_unknown() -> None:
    pattern = analyze_one(Statement("SELECT * FROM orders WHERE id = 1", "x"), Catalog())
    assert pattern.unknown_tables == ("orders",)
    assert pattern.accesses == ()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # a system column is not indexable: no access on it
        (
            "SELECT count(*) FROM orders t1 JOIN orders t2 ON t1.ctid = t2.ctid WHERE t1.xmin = $1",
            ["public.orders", "public.orders"],
        ),
        # a column of a UNION inside a derived table: ends, no recursion
        (
            "SELECT count(*) FROM (SELECT status FROM (SELECT * FROM orders UNION ALL "
            "SELECT * FROM orders) js GROUP BY status) js2",
            ["public.orders", "public.orders"],
        ),
    ],
)
def test_found_by_the_regression_corpus(sql: str, expected: list[str]) -> None:
    pattern = analyze_one(Statement(sql, "regress.sql", 1), CATALOG)
    assert _describe_pattern(pattern) == expected


def test_a_column_the_catalog_does_not_know_ends_without_recursion() -> None:
    """From PostgreSQL's groupingsets.sql: ``two`` is not a column of ``onek`` as the
    catalog has it, so the lookup climbs to the outer query, whose derived table ``s1``
    projects ``two``, whose lookup climbs again... (once a RecursionError)."""
    catalog, _ = catalog_from_ddl("CREATE TABLE onek (unique1 int4)")
    sql = (
        "select array(select row(v.a,s1.*) from (select two,four, count(*) from onek "
        "group by cube(two,four) order by two,four) s1) from (values (1),(2)) v(a)"
    )
    pattern = analyze_one(Statement(sql, "regress.sql", 1), catalog)
    assert _describe_pattern(pattern) == ["public.onek"]


def test_an_expression_remedy_names_columns_without_the_alias() -> None:
    """CREATE INDEX names its table once: ``c.email`` there is a missing FROM entry."""
    sql = "SELECT * FROM customers c WHERE lower(c.email) = $1"
    (access,) = analyze_one(Statement(sql, "x"), CATALOG).accesses
    (unservable,) = access.unservable
    assert unservable.remedy == "CREATE INDEX CONCURRENTLY ON public.customers ((LOWER(email)));"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM customers c WHERE (SELECT count(*) FROM orders o "
        "WHERE o.customer_id = c.id) > 12",
        "SELECT * FROM customers c WHERE coalesce((SELECT max(o.total_cents) FROM orders o "
        "WHERE o.customer_id = c.id), 0) > 5",
        "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o "
        "WHERE o.customer_id = c.id) = true",
    ],
)
def test_a_subquery_never_becomes_an_index_expression(sql: str) -> None:
    """PostgreSQL: 'cannot use subquery in index expression'."""
    pattern = analyze_one(Statement(sql, "x"), CATALOG)
    assert all(not a.unservable for a in pattern.accesses)


@pytest.mark.parametrize(
    ("where", "remedy"),
    [
        ("data @> '{\"a\": 1}'", "USING gin (data jsonb_path_ops);"),
        ("p.tags @> ARRAY['x']", "USING gin (tags);"),
    ],
)
def test_containment_is_a_gin_remedy(where: str, remedy: str) -> None:
    """Issue 12: ``@>`` on jsonb or an array is served by GIN, never a btree."""
    from dbctl.access.model import Reason
    from dbctl.advise.advisor import advise
    from dbctl.schema.ddl import catalog_from_ddl

    catalog, _ = catalog_from_ddl(
        "CREATE TABLE posts (id int PRIMARY KEY, data jsonb, tags text[], note text);"
    )
    pattern = analyze_one(Statement(f"SELECT id FROM posts p WHERE {where}", "q.sql", 1), catalog)
    [item] = [u for a in pattern.accesses for u in a.unservable]
    assert item.reason is Reason.containment
    assert item.remedy.endswith(remedy)
    assert not [a.ranges or a.equality for a in pattern.accesses if a.ranges or a.equality]
    advice = advise([pattern], catalog)
    assert not advice.suggestions  # no btree
    covered, _ = catalog_from_ddl(
        "CREATE TABLE posts (id int PRIMARY KEY, data jsonb, tags text[], note text);"
        "CREATE INDEX ix_data ON posts USING gin (data jsonb_path_ops);"
        "CREATE INDEX ix_tags ON posts USING gin (tags);"
    )
    again = analyze_one(Statement(f"SELECT id FROM posts p WHERE {where}", "q.sql", 1), covered)
    notes = advise([again], covered).notes
    assert not [f for f in notes if f.rule == "unservable-predicate"]


READS_DDL = """
CREATE TABLE customer (id int PRIMARY KEY, store_id int, email text, name text);
CREATE TABLE payment (id int PRIMARY KEY, customer_id int, amount numeric, paid_at date);
"""
READS_CATALOG, _ = catalog_from_ddl(READS_DDL)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT id FROM customer WHERE id IN "
            "(SELECT customer_id FROM payment WHERE amount > 10.9)",
            {"public.customer": ("id",), "public.payment": ("customer_id", "amount")},
        ),
        (
            "SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id "
            "ORDER BY sum(amount) DESC LIMIT 10",
            {"public.payment": ("customer_id", "amount")},
        ),
        (
            "SELECT c.email FROM customer c JOIN payment p ON p.customer_id = c.id "
            "WHERE c.store_id = 1 ORDER BY p.paid_at",
            {
                "public.customer": ("email", "id", "store_id"),
                "public.payment": ("customer_id", "paid_at"),
            },
        ),
        # a * (or t.*) and a whole-row reference read every column: unknown
        ("SELECT * FROM customer WHERE store_id = 1", {"public.customer": None}),
        (
            "SELECT p.*, c.name FROM payment p JOIN customer c ON c.id = p.customer_id",
            {"public.payment": None, "public.customer": ("name", "id")},
        ),
        ("SELECT to_json(c) FROM customer c WHERE store_id = 1", {"public.customer": None}),
        # a derived table's projection is what the outer query can read
        (
            "SELECT d.n FROM (SELECT store_id, name AS n FROM customer) d WHERE d.store_id = 2",
            {"public.customer": ("store_id", "name")},
        ),
        # the target of a write visits the heap: no covering index for it
        ("UPDATE customer SET name = 'x' WHERE store_id = 1", {"public.customer": None}),
    ],
)
def test_reads_are_the_columns_a_covering_index_needs(
    sql: str, expected: dict[str, tuple[str, ...] | None]
) -> None:
    pattern = analyze_one(Statement(sql, "-"), READS_CATALOG)

    def as_sets(found: dict[str, tuple[str, ...] | None]) -> dict[str, set[str] | None]:
        return {
            table: None if columns is None else set(columns) for table, columns in found.items()
        }

    assert as_sets({a.table: a.reads for a in pattern.accesses}) == as_sets(expected)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ID FROM CUSTOMER WHERE STORE_ID = $1 ORDER BY NAME LIMIT 5",
        "select id from Customer c where C.Store_Id = $1 order by c.NAME limit 5",
        'SELECT id FROM "customer" WHERE store_id = $1 ORDER BY Name LIMIT 5',
    ],
)
def test_unquoted_names_fold_to_lower_case_as_postgresql_does(sql: str) -> None:
    pattern = analyze_one(Statement(sql, "-"), READS_CATALOG)
    assert pattern.unknown_tables == ()
    [access] = pattern.accesses
    assert (access.table, access.equality, access.sort) == (
        "public.customer",
        ("store_id",),
        (SortKey("name", nulls_first=False),),
    )


def test_a_quoted_upper_case_name_stays_as_written() -> None:
    catalog, _ = catalog_from_ddl('CREATE TABLE "Orders" ("Total" int, total int);')
    pattern = analyze_one(Statement('SELECT * FROM "Orders" WHERE "Total" > 5', "-"), catalog)
    assert [(a.table, a.ranges) for a in pattern.accesses] == [("public.Orders", ("Total",))]
    unknown = analyze_one(Statement('SELECT * FROM Orders WHERE "Total" > 5', "-"), catalog)
    assert unknown.unknown_tables == ("orders",)


def test_columns_joined_to_one_table_make_a_join_set() -> None:
    catalog, _ = catalog_from_ddl(
        "CREATE TABLE l (pk int, sk int, ok int, q int);"
        "CREATE TABLE ps (pk int, sk int, avail int);"
        "CREATE TABLE s (sk int PRIMARY KEY);"
    )
    sql = (
        "SELECT 1 FROM l, ps, s WHERE ps.pk = l.pk AND ps.sk = l.sk AND s.sk = l.sk "
        "AND ps.avail > (SELECT sum(q) FROM l l2 WHERE l2.pk = ps.pk AND l2.sk = ps.sk)"
    )
    pattern = analyze_one(Statement(sql, "-"), catalog)
    sets = sorted((a.table, a.join_sets) for a in pattern.accesses)
    assert sets == [
        ("public.l", (("pk", "sk"),)),  # the correlated subquery's l2
        ("public.l", (("pk", "sk"), ("sk",))),
        ("public.ps", (("pk", "sk"),)),
        ("public.s", (("sk",),)),
    ]


def test_equality_constants_are_kept_as_pg_stats_prints_them() -> None:
    catalog, _ = catalog_from_ddl("CREATE TABLE j (id int, status text, ok boolean, n int);")
    sql = "SELECT * FROM j WHERE status = 'done' AND ok = true AND n = 3 AND id = $1"
    [access] = analyze_one(Statement(sql, "-"), catalog).accesses
    assert set(access.literals) == {("status", "done"), ("ok", "t"), ("n", "3")}
