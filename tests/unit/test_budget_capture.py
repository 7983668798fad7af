"""Fingerprints, the budget and the looped-query rule on hand-built request captures."""

from __future__ import annotations

import pytest

from dbctl.access.lexer import fingerprint
from dbctl.budget.capture import (
    BUDGET_RULE,
    LOOPED_RULE,
    QueryBudgetExceeded,
    RequestCapture,
    breaches,
    statement_fingerprint,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "texts",
    [
        pytest.param(
            [
                "SELECT * FROM orders WHERE id = 1",
                "SELECT * FROM orders WHERE id = 42",
                "select *   from orders\n where id = 7 -- a comment",
            ],
            id="numeric literals",
        ),
        pytest.param(
            [
                "SELECT * FROM customers WHERE email = 'a@example.com'",
                "SELECT * FROM customers WHERE email = 'it''s@example.com'",
                "SELECT * FROM customers WHERE email = $$b@example.com$$",
            ],
            id="string literals",
        ),
        pytest.param(
            [
                "SELECT * FROM orders WHERE id = %s",
                "SELECT * FROM orders WHERE id = %(id_1)s",
                "SELECT * FROM orders WHERE id = :id",
                "SELECT * FROM orders WHERE id = $1",
                "SELECT * FROM orders WHERE id = 3",
            ],
            id="parameters",
        ),
        pytest.param(
            [
                "SELECT * FROM orders WHERE id IN (1)",
                "SELECT * FROM orders WHERE id IN (1, 2, 3)",
                "SELECT * FROM orders WHERE id IN (%(id_1_1)s, %(id_1_2)s)",
                "SELECT * FROM orders WHERE id IN ($1, $2, $3, $4)",
            ],
            id="IN lists",
        ),
        pytest.param(
            [
                "SELECT * FROM orders WHERE id IN (%(id_1_1)s::INTEGER)",
                "SELECT * FROM orders WHERE id IN (%(id_1_1)s::INTEGER, %(id_1_2)s::INTEGER)",
                "SELECT * FROM orders WHERE id IN (%(p_1)s::INTEGER, %(p_2)s::INTEGER, "
                "%(p_3)s::INTEGER)",
            ],
            id="IN lists of cast parameters (SQLAlchemy + psycopg)",
        ),
        pytest.param(
            [
                "SELECT * FROM t WHERE d IN (%(d_1)s::TIMESTAMP WITH TIME ZONE)",
                "SELECT * FROM t WHERE d IN (%(d_1)s::TIMESTAMP WITH TIME ZONE, "
                "%(d_2)s::TIMESTAMP WITH TIME ZONE)",
            ],
            id="IN lists of multi-word casts",
        ),
    ],
)
def test_statements_differing_only_in_values_share_a_fingerprint(texts: list[str]) -> None:
    assert len({statement_fingerprint(text) for text in texts}) == 1


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("SELECT * FROM orders WHERE id = 1", "SELECT * FROM customers WHERE id = 1"),
        ("SELECT * FROM orders WHERE id = 1", "SELECT * FROM orders WHERE status = 1"),
        (
            "SELECT * FROM t WHERE a IN (%(a_1)s::INTEGER, %(a_2)s::INTEGER)",
            "SELECT * FROM t WHERE a IN (%(a_1)s::VARCHAR, %(a_2)s::VARCHAR)",
        ),
        ('SELECT "Id" FROM t', 'SELECT "id" FROM t'),
    ],
)
def test_different_statements_have_different_fingerprints(left: str, right: str) -> None:
    assert statement_fingerprint(left) != statement_fingerprint(right)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM orders WHERE id = %(id_1)s::INTEGER",
        "SELECT * FROM orders WHERE id IN (1, 2, 3)",
        "UPDATE orders SET status = 'paid' WHERE id = $1",
    ],
)
def test_the_fingerprint_is_check_indexes_fingerprint(text: str) -> None:
    assert statement_fingerprint(text) == fingerprint(text)


def _capture(*executions: tuple[str, float]) -> RequestCapture:
    capture = RequestCapture(method="GET", route="/items/{id}", status=200, duration=0.01)
    for text, seconds in executions:
        capture.record(text, seconds)
    return capture


def test_record_groups_executions_by_fingerprint_and_keeps_the_first_text() -> None:
    capture = _capture(
        ("SELECT * FROM items WHERE id = 1", 0.001),
        ("SELECT * FROM items WHERE id = 2", 0.002),
        ("SELECT count(*) FROM items", 0.004),
    )
    assert capture.queries == 3
    assert capture.db_time == pytest.approx(0.007)
    first, second = capture.statements.values()
    assert (first.statement, first.count) == ("SELECT * FROM items WHERE id = 1", 2)
    assert first.time == pytest.approx(0.003)
    assert (second.count, second.time) == (1, 0.004)
    assert capture.looped == [first.fingerprint]


def test_a_request_within_budget_and_without_loops_breaks_nothing() -> None:
    capture = _capture(
        ("SELECT * FROM items WHERE id = 1", 0.001),
        ("SELECT * FROM tags WHERE item_id = 1", 0.001),
        ("SELECT * FROM prices WHERE item_id = 1", 0.001),
    )
    assert capture.looped == []
    assert breaches(capture, 3) == []


def test_one_query_over_the_budget_is_a_breach() -> None:
    capture = _capture(
        ("SELECT * FROM items WHERE id = 1", 0.001),
        ("SELECT * FROM tags WHERE item_id = 1", 0.001),
        ("SELECT * FROM prices WHERE item_id = 1", 0.001),
    )
    [breach] = breaches(capture, 2)
    assert breach.rule == BUDGET_RULE
    assert breach.message == "3 queries, budget 2"
    assert [s.statement for s in breach.statements] == [
        "SELECT * FROM items WHERE id = 1",
        "SELECT * FROM tags WHERE item_id = 1",
        "SELECT * FROM prices WHERE item_id = 1",
    ]


def test_the_same_fingerprint_twice_is_a_loop_even_within_budget() -> None:
    capture = _capture(
        ("SELECT * FROM items WHERE id = 1", 0.001),
        ("SELECT * FROM items WHERE id = 2", 0.001),
    )
    [breach] = breaches(capture, 3)
    assert breach.rule == LOOPED_RULE
    assert [(s.statement, s.count) for s in breach.statements] == [
        ("SELECT * FROM items WHERE id = 1", 2)
    ]


def test_a_loop_over_budget_breaks_both_rules_and_the_message_lists_statements() -> None:
    capture = _capture(*((f"SELECT * FROM items WHERE id = {n}", 0.001) for n in range(5)))
    found = breaches(capture, 3)
    assert [b.rule for b in found] == [BUDGET_RULE, LOOPED_RULE]
    error = QueryBudgetExceeded(capture, found)
    assert error.capture is capture
    assert str(error).splitlines() == [
        "GET /items/{id}: 5 queries, budget 3; 1 statement(s) run in a loop",
        "  5x 5.00 ms  SELECT * FROM items WHERE id = 0",
    ]


def test_an_empty_request_breaks_nothing() -> None:
    assert breaches(RequestCapture(method="GET"), 0) == []


def test_the_log_record_of_a_request() -> None:
    capture = _capture(
        ("SELECT * FROM items WHERE id = 1", 0.001),
        ("SELECT * FROM items WHERE id = 2", 0.0015),
    )
    key = statement_fingerprint("SELECT * FROM items WHERE id = 1")
    capture.started_at = 1_800_000_000.25
    assert capture.to_record(budget=3) == {
        "at": "2027-01-15T08:00:00.250+00:00",
        "route": "/items/{id}",
        "method": "GET",
        "status": 200,
        "duration_ms": 10.0,
        "statements": [
            {
                "fingerprint": key,
                "statement": "SELECT * FROM items WHERE id = 1",
                "count": 2,
                "time_ms": 2.5,
            }
        ],
        "queries": 2,
        "looped": [key],
        "budget": 3,
    }
    assert "budget" not in capture.to_record()


def test_a_client_that_went_away_is_499_not_a_server_error() -> None:
    import asyncio

    from starlette.requests import ClientDisconnect

    from dbctl.budget.capture import _failed_status

    assert _failed_status(asyncio.CancelledError()) == 499
    assert _failed_status(ClientDisconnect()) == 499
    assert _failed_status(RuntimeError("boom")) == 500
