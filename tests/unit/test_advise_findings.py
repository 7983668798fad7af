"""What the advice reports: the missing-index finding (the JSON contract), parse errors,
unknown tables, the catalog rules it reuses, and the key logic underneath."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dbctl.access.model import AccessPattern, Kind, SortKey, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.keys import Part, equality, fixed, refine, serves
from dbctl.advise.model import PlanCost
from dbctl.advise.whatif import _plan
from dbctl.report import Location, Severity
from dbctl.rules.context import RuleContext
from dbctl.schema.catalog import Catalog, ForeignKey, Index, PrimaryKey, Table

pytestmark = pytest.mark.unit


def pk(table: str) -> Index:
    return Index(f"pk_{table}", ("id",), unique=True, primary=True, constraint=f"pk_{table}")


CUSTOMERS = Table(
    "public",
    "customers",
    primary_key=PrimaryKey("pk_customers", ("id",)),
    indexes=(pk("customers"),),
)
ORDERS = Table(
    "public",
    "orders",
    primary_key=PrimaryKey("pk_orders", ("id",)),
    indexes=(
        pk("orders"),
        Index("ix_orders_store_id", ("store_id",)),
        Index("ix_orders_store_id_created_at", ("store_id", "created_at")),
    ),
    foreign_keys=(
        ForeignKey("fk_orders_customer_id", ("customer_id",), "public", "customers", ("id",)),
        ForeignKey("fk_orders_coupon_id", ("coupon_id",), "public", "coupons", ("id",)),
    ),
)
CATALOG = Catalog.build([CUSTOMERS, ORDERS])

JOIN = "SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = $1"


def statement(text: str, line: int, **extra: object) -> Statement:
    return Statement(text, "app/queries.sql", line, fingerprint=str(line), **extra)  # type: ignore[arg-type]


def test_the_missing_index_finding() -> None:
    patterns = [
        AccessPattern(
            statement(JOIN, 3, queryid=7, calls=100, share=0.25),
            Kind.select,
            (
                TableAccess("public.customers", equality=("id",), joins=("id",)),
                TableAccess("public.orders", joins=("customer_id",)),
            ),
        ),
        AccessPattern(
            statement("SELECT * FROM orders WHERE customer_id = $1 ORDER BY id DESC", 9),
            Kind.select,
            (
                TableAccess(
                    "public.orders",
                    equality=("customer_id",),
                    sort=(SortKey("id", descending=True),),
                ),
            ),
        ),
    ]
    advice = advise(patterns, CATALOG)
    (finding,) = [f for f in advice.findings() if f.rule == "missing-index"]
    assert finding.severity is Severity.error
    assert finding.message == (
        "public.orders is filtered on (customer_id) and sorted on (id DESC) but no index serves "
        "it; the index also serves: joined on customer_id"
    )
    assert finding.table == "public.orders"
    assert finding.columns == ("customer_id", "id")
    assert finding.suggestion == (
        "CREATE INDEX CONCURRENTLY ix_orders_customer_id_id ON public.orders (customer_id, id);"
    )
    # The costliest statement first: its text, queryid and location.
    assert finding.statement == JOIN
    assert finding.queryid == 7
    assert finding.location == Location("app/queries.sql", 3)
    evidence = finding.evidence
    assert evidence["statements"] == 2
    assert evidence["share_of_total_time"] == 0.25
    assert evidence["calls"] == 100
    assert [s["location"] for s in evidence["served"]] == ["app/queries.sql:3", "app/queries.sql:9"]
    assert "cost_before" not in evidence
    as_json = finding.as_dict()
    assert as_json["columns"] == ["customer_id", "id"]
    assert as_json["location"] == {"path": "app/queries.sql", "line": 3}
    # The suggestion also indexes the foreign key: that finding is not repeated.
    rules = sorted(f.rule for f in advice.notes)
    assert rules == ["duplicate-index", "no-statistics", "unindexed-foreign-key"]
    (fk,) = [f for f in advice.notes if f.rule == "unindexed-foreign-key"]
    assert fk.columns == ("coupon_id",)


def test_a_join_finding_says_no_index_leads_with_it() -> None:
    pattern = AccessPattern(
        statement(JOIN, 1), Kind.select, (TableAccess("public.orders", joins=("customer_id",)),)
    )
    (finding,) = [f for f in advise([pattern], CATALOG).findings() if f.rule == "missing-index"]
    assert finding.message == "public.orders is joined on customer_id but no index leads with it"


def test_validated_costs_in_the_evidence() -> None:
    pattern = AccessPattern(
        statement("SELECT 1", 1), Kind.select, (TableAccess("public.orders", equality=("a",)),)
    )
    advice = advise([pattern], CATALOG)
    suggestion = advice.suggestions[0]
    costs = (PlanCost(pattern.statement, 1693.0, 478.6, True),)
    validated = replace(advice, suggestions=[replace(suggestion, costs=costs)], validated=True)
    (finding,) = [f for f in validated.findings() if f.rule == "missing-index"]
    assert finding.evidence["cost_before"] == 1693.0
    assert finding.evidence["cost_after"] == 478.6
    assert finding.evidence["savings"] == pytest.approx(0.717, abs=1e-3)


def test_parse_errors_unknown_tables_and_catalog_rules() -> None:
    patterns = [
        AccessPattern(statement("SELEC 1", 4), Kind.other, error="Invalid expression"),
        AccessPattern(
            statement("SELECT * FROM nope JOIN orders ON true", 5),
            Kind.select,
            (TableAccess("public.orders", equality=("id",)),),
            unknown_tables=("nope",),
        ),
        AccessPattern(statement("SELECT * FROM nope", 6), Kind.select, unknown_tables=("nope",)),
    ]
    context = RuleContext(locations={"public.orders": Location("app/models.py", 20)})
    advice = advise(patterns, CATALOG, context=context)
    assert advice.suggestions == []
    by_rule = {f.rule: f for f in advice.findings()}
    error = by_rule["parse-error"]
    assert error.severity is Severity.error
    assert error.location == Location("app/queries.sql", 4)
    assert error.message == "the statement cannot be analysed: Invalid expression"
    unknown = by_rule["unknown-table"]
    assert unknown.severity is Severity.info
    assert unknown.message == (
        "nope is not in the catalog (2 statements): its accesses are not checked"
    )
    duplicate = by_rule["duplicate-index"]
    assert duplicate.evidence == {
        "index": "ix_orders_store_id",
        "covered_by": "ix_orders_store_id_created_at",
    }
    assert by_rule["unindexed-foreign-key"].location == Location("app/models.py", 20)
    assert advice.statements == 3


def test_statements_from_pg_stat_statements_have_no_location() -> None:
    pattern = AccessPattern(
        Statement("SELECT * FROM orders WHERE a = $1", "pg_stat_statements", queryid=42),
        Kind.select,
        (TableAccess("public.orders", equality=("a",)),),
    )
    (finding,) = [f for f in advise([pattern], CATALOG).findings() if f.rule == "missing-index"]
    assert finding.location is None and finding.queryid == 42


ASC, DESC = Part("x", ordered=True), Part("x", True, True, ordered=True)


@pytest.mark.parametrize(
    ("long", "short", "served"),
    [
        ((equality("a", "b"),), (equality("b"),), True),
        ((equality("a", "b"),), (equality("c"),), False),
        ((equality("a"), fixed(Part("b"))), (equality("a", "b"),), True),  # range serves =
        ((equality("a"),), (equality("a", "b"),), False),  # too short
        ((fixed(ASC),), (fixed(DESC),), True),  # backward scan
        ((fixed(Part("x")),), (fixed(DESC),), True),  # a range part takes the direction
        ((equality("a", "b"),), (fixed(Part("b", ordered=True)), equality("a")), True),
    ],
)
def test_refine(long: tuple, short: tuple, served: bool) -> None:  # type: ignore[type-arg]
    assert (refine(long, short) is not None) is served


def test_a_refined_shape_serves_both() -> None:
    long = (equality("a", "b"), fixed(Part("c")))
    short = (equality("b"),)
    narrowed = refine(long, short)
    assert narrowed is not None
    assert serves(narrowed, long) and serves(narrowed, short)


def test_plans_and_hypothetical_index_names() -> None:
    plan = _plan(
        '[{"Plan": {"Node Type": "Nested Loop", "Total Cost": 12.5, "Plans": ['
        '{"Node Type": "Index Scan", "Index Name": "<13828>btree_orders_customer_id"},'
        '{"Node Type": "Bitmap Heap Scan", "Plans": [{"Index Name": "pk_customers"}]}]}}]'
    )
    assert plan.cost == 12.5
    assert plan.indexes == {"<13828>btree_orders_customer_id", "pk_customers"}


def test_a_suggestion_that_makes_an_existing_index_redundant() -> None:
    pattern = AccessPattern(
        statement("SELECT * FROM orders WHERE store_id = $1 AND created_at = $2 AND total = $3", 1),
        Kind.select,
        (TableAccess("public.orders", equality=("store_id", "created_at", "total")),),
    )
    (suggestion,) = advise([pattern], CATALOG).suggestions
    assert suggestion.columns == ("store_id", "created_at", "total")
    assert suggestion.notes == (
        "it makes ix_orders_store_id (store_id) redundant: drop it",
        "it makes ix_orders_store_id_created_at (store_id, created_at) redundant: drop it",
    )
    (finding,) = [f for f in advise([pattern], CATALOG).findings() if f.rule == "missing-index"]
    assert finding.evidence["notes"] == list(suggestion.notes)
