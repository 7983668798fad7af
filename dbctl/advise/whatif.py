"""``--validate``: price the suggestions with the planner and HypoPG's hypothetical indexes.

For every statement a suggestion serves: the planner's cost as things are, then with every
suggestion created hypothetically (``hypopg_create_index``), and whether that plan uses
each hypothetical index (an ``Index Name`` in the JSON plan that carries its oid). A
suggestion the planner does not use, or that saves less than ``min_savings`` of the cost
of every statement it serves, is dropped with an ``index-not-used`` note; the others keep
their costs (the findings' ``cost_before`` / ``cost_after``).

Statements with parameters (``$1``, ``%s``, ``%(name)s``, ``:name``) are planned
generically: ``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16 and later; on 15,
``plan_cache_mode = force_generic_plan``, ``PREPARE`` and ``EXPLAIN EXECUTE`` with NULLs
(the generic plan ignores the values). Nothing runs: EXPLAIN without ANALYZE.

Nothing but one EXPLAIN per statement reaches the server, and nothing can write:

- the statement text is input (files, logs, pg_stat_statements); ``explainable`` parses it
  and re-emits exactly one SELECT / INSERT / UPDATE / DELETE, or refuses it (the
  suggestion's ``not-validated`` note says why; nothing is sent);
- it is sent on the extended protocol, where PostgreSQL refuses more than one command;
- everything happens in one transaction that is always rolled back (or a savepoint of the
  caller's transaction, rolled back), made read-only with ``SET LOCAL
  transaction_read_only`` before the first statement of the input is sent. PostgreSQL
  explains INSERT / UPDATE / DELETE in a read-only transaction (only their execution is
  refused), and HypoPG's ``hypopg_create_index`` works there: its indexes live in the
  backend's memory, never on disk. ``BEGIN READ ONLY`` itself is not used because, when
  HypoPG is installed on the server but not created in the database, ``CREATE EXTENSION
  hypopg`` runs first in that same transaction (so it leaves no trace) and needs to write;
- ``statement_timeout`` and ``lock_timeout`` are ``SET LOCAL`` (``STATEMENT_TIMEOUT``,
  ``LOCK_TIMEOUT``); each statement is planned in a savepoint (one that fails to plan is
  reported, the rest go on), with ``hypopg_reset()`` at the end (hypothetical indexes live
  in the session, not the transaction).

When HypoPG cannot be had, the advice comes back unchanged with one note: the static
advice stands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dbctl.access.model import Statement
from dbctl.advise.explainable import NotExplainable, explainable
from dbctl.advise.model import Advice, PlanCost, Suggestion, note
from dbctl.pg.catalog_loader import psycopg_connection
from dbctl.pg.identifiers import quote_ident
from dbctl.report import Finding

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import Connection as SAConnection

GENERIC_PLAN_VERSION = 160000
STATEMENT_TIMEOUT = "5s"  # planning, not running: a plan that takes longer is not priced
LOCK_TIMEOUT = "1s"  # EXPLAIN locks its tables (UPDATE's target ROW EXCLUSIVE): never queue
_HYPOTHETICAL = re.compile(r"^<(\d+)>")


@dataclass(frozen=True, slots=True)
class Plan:
    cost: float
    indexes: frozenset[str]  # every Index Name in the plan


def _index_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Index Name" and isinstance(value, str):
                yield value
            else:
                yield from _index_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _index_names(item)


def _plan(result: Any) -> Plan:
    document = json.loads(result) if isinstance(result, str | bytes) else result
    root = document[0]["Plan"]
    return Plan(float(root["Total Cost"]), frozenset(_index_names(root)))


def _key(statement: Statement) -> str:
    return statement.fingerprint or statement.text


class _Planner:
    """EXPLAIN one statement in a savepoint; a generic plan when it has parameters.

    Only ``explainable``'s re-emitted text is sent, on the extended protocol (a binary
    result asks psycopg for it even without parameters), never prepared by name on the
    client's side: PostgreSQL refuses more than one command there.
    """

    def __init__(self, pg: psycopg.Connection[Any], version: int) -> None:
        self.pg = pg
        self.version = version
        self.prepared = 0

    def _send(self, sql: str) -> Any:
        return self.pg.cursor(binary=True).execute(sql.encode(), prepare=False)

    def _one(self, sql: str) -> Any:
        row = self._send(sql).fetchone()
        assert row is not None
        return row[0]

    def explain(self, text: str) -> Plan:
        sql, count = explainable(text)
        with self.pg.transaction():
            if count == 0:
                return _plan(self._one(f"EXPLAIN (FORMAT JSON) {sql}"))
            if self.version >= GENERIC_PLAN_VERSION:
                return _plan(self._one(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {sql}"))
            self.prepared += 1
            name = f"dbctl_whatif_{self.prepared}"
            self._send(f"PREPARE {name} AS {sql}")
            try:
                nulls = ", ".join(["NULL"] * count)
                return _plan(self._one(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({nulls})"))
            finally:
                self._send(f"DEALLOCATE {name}")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _hypopg_schema(pg: psycopg.Connection[Any]) -> tuple[str | None, str]:
    """The schema of the hypopg functions (creating the extension, inside the caller's
    transaction, when the server has it); else None and why."""
    import psycopg

    query = """SELECT (SELECT n.nspname FROM pg_extension e
        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'),
        EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hypopg')"""
    row = pg.execute(query).fetchone()
    assert row is not None
    schema, available = row
    if schema is not None:
        return str(schema), ""
    if not available:
        return None, "HypoPG is not installed on the server"
    try:
        with pg.transaction():
            pg.execute("CREATE EXTENSION hypopg")
    except psycopg.Error as exc:
        return None, f"HypoPG is installed but not created here ({_first_line(exc)})"
    row = pg.execute(query).fetchone()
    assert row is not None
    return str(row[0]), ""


def _missing(advice: Advice, why: str, version: int) -> Advice:
    major = version // 10000 or 15
    message = (
        f"{why}: the static advice stands, not validated by the planner (install it with "
        f"the server package, e.g. apt-get install postgresql-{major}-hypopg, then "
        "CREATE EXTENSION hypopg as a superuser)"
    )
    return replace(advice, notes=[*advice.notes, note("hypopg-missing", message)])


def _server_version(pg: psycopg.Connection[Any]) -> int:
    row = pg.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0])


def validate(
    advice: Advice,
    conn: psycopg.Connection[Any] | SAConnection,
    *,
    min_savings: float = 0.30,
    statement_timeout: str = STATEMENT_TIMEOUT,
) -> Advice:
    """``advice`` with the suggestions the planner would use and that pay, with their costs."""
    if not advice.suggestions:
        return advice
    pg = psycopg_connection(conn)
    with pg.transaction(force_rollback=True):
        version = _server_version(pg)
        schema, why = _hypopg_schema(pg)
        if schema is None:
            return _missing(advice, why, version)
        # From here on the transaction is read-only: no statement can write, and the
        # extension created just above (if it was) goes with the rollback.
        pg.execute("SET LOCAL transaction_read_only = on")
        pg.execute("SELECT set_config('statement_timeout', %s, true)", [statement_timeout])
        pg.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
        pg.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        hypopg = quote_ident(schema)
        pg.execute(f"SELECT {hypopg}.hypopg_reset()".encode())
        try:
            return _validate(advice, pg, _Planner(pg, version), hypopg, min_savings)
        finally:
            pg.execute(f"SELECT {hypopg}.hypopg_reset()".encode())


def _validate(
    advice: Advice,
    pg: psycopg.Connection[Any],
    planner: _Planner,
    hypopg: str,
    min_savings: float,
) -> Advice:
    import psycopg

    notes: list[Finding] = []
    statements = {_key(s): s for g in advice.suggestions for s in g.statements}
    failed: dict[str, str] = {}

    def plan_all() -> dict[str, Plan]:
        plans: dict[str, Plan] = {}
        for key, statement in statements.items():
            if key in failed:
                continue
            try:
                plans[key] = planner.explain(statement.text)
            except NotExplainable as exc:
                failed[key] = f"not sent to the server: {exc}"
            except psycopg.Error as exc:
                failed[key] = _first_line(exc)
        return plans

    before = plan_all()
    oids: dict[int, Suggestion] = {}
    sizes: dict[int, int] = {}
    for suggestion in advice.suggestions:
        try:
            with pg.transaction():
                sql = f"CREATE INDEX ON {suggestion.target} ({suggestion.key})"
                row = pg.execute(
                    f"SELECT indexrelid, {hypopg}.hypopg_relation_size(indexrelid) "
                    f"FROM {hypopg}.hypopg_create_index(%s)".encode(),
                    [sql],
                ).fetchone()
                assert row is not None
                oids[int(row[0])] = suggestion
                sizes[int(row[0])] = int(row[1])
        except psycopg.Error as exc:
            notes.append(_not_validated(suggestion, f"HypoPG cannot create it: {_first_line(exc)}"))
    after = plan_all()
    used: dict[str, set[int]] = {
        key: {int(m.group(1)) for n in plan.indexes if (m := _HYPOTHETICAL.match(n))}
        for key, plan in after.items()
    }
    kept: list[Suggestion] = []
    by_suggestion = {id(s): oid for oid, s in oids.items()}
    for suggestion in advice.suggestions:
        oid = by_suggestion.get(id(suggestion))
        if oid is None:
            kept.append(suggestion)  # HypoPG could not take it: the static advice stands
            continue
        costs = tuple(
            PlanCost(s, before[_key(s)].cost, after[_key(s)].cost, oid in used[_key(s)])
            for s in suggestion.statements
            if _key(s) in before and _key(s) in after
        )
        if not costs:
            errors = {failed[_key(s)] for s in suggestion.statements if _key(s) in failed}
            notes.append(_not_validated(suggestion, "; ".join(sorted(errors))))
            kept.append(suggestion)
            continue
        verdict = replace(suggestion, costs=costs, size_bytes=sizes.get(oid))
        if any(_pays(c, min_savings) for c in costs):
            kept.append(verdict)
        else:
            notes.append(_not_used(verdict, min_savings))
    return replace(advice, suggestions=kept, notes=[*advice.notes, *notes], validated=True)


HEAVY_SHARE = 0.10  # a statement taking this share of all the time is worth a smaller cut
HEAVY_MIN_SAVINGS = 0.05


def _pays(cost: PlanCost, min_savings: float) -> bool:
    """Used, and saving ``min_savings`` of the statement's planner cost; or, for a statement
    that takes a large share of the workload's time (pg_stat_statements, a log), a smaller
    but real cut: planner cost understates what an index saves a heavy statement (a 30%
    cost cut on a date range was a 4x runtime gain)."""
    if not cost.used:
        return False
    if cost.savings >= min_savings:
        return True
    share = cost.statement.share or 0.0
    return share >= HEAVY_SHARE and cost.savings >= min(HEAVY_MIN_SAVINGS, min_savings)


def _not_validated(suggestion: Suggestion, why: str) -> Finding:
    return note(
        "not-validated",
        f"{suggestion.name} on {suggestion.table} could not be priced ({why}): the static "
        "advice stands",
        statement=suggestion.statement,
        table=suggestion.table,
        columns=suggestion.columns,
        suggestion=suggestion.sql,
    )


def _not_used(suggestion: Suggestion, min_savings: float) -> Finding:
    best = suggestion.best_cost()
    assert best is not None
    if not any(cost.used for cost in suggestion.costs):
        why = "the planner does not use it"
    else:
        why = f"it saves at most {best.savings:.0%} of the planner's cost (< {min_savings:.0%})"
    served = len(suggestion.statements)
    return note(
        "index-not-used",
        f"{suggestion.name} on {suggestion.table} ({', '.join(suggestion.columns)}) is dropped: "
        f"{why} for the {served} statement{'s' * (served > 1)} it serves "
        f"(cost {best.before:,.1f} -> {best.after:,.1f})",
        statement=suggestion.statement,
        table=suggestion.table,
        columns=suggestion.columns,
        evidence={
            "index": suggestion.name,
            "cost_before": round(best.before, 2),
            "cost_after": round(best.after, 2),
            "savings": round(best.savings, 3),
        },
    )
