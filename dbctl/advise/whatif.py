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
from dbctl.advise.select import Option, Priced, Selection, select, timed
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
        self.texts: dict[str, tuple[str, int]] = {}  # statement -> explainable's text, $n

    def _send(self, sql: str) -> Any:
        return self.pg.cursor(binary=True).execute(sql.encode(), prepare=False)

    def _one(self, sql: str) -> Any:
        row = self._send(sql).fetchone()
        assert row is not None
        return row[0]

    def explain(self, text: str) -> Plan:
        found = self.texts.get(text)
        if found is None:
            found = self.texts[text] = explainable(text)  # may raise NotExplainable
        sql, count = found
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
    max_indexes: int | None = None,
    max_size: int | None = None,
    window_seconds: float | None = None,
) -> Advice:
    """``advice`` with the indexes the planner would use and that pay, with their costs.

    ``window_seconds`` is the time the statements' ``total_time_ms`` covers (since
    pg_stat_statements was reset): with it each suggestion says the time it saves a day.
    """
    if not advice.suggestions and not advice.alternatives:
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
            planner = _Planner(pg, version)
            return _validate(
                advice,
                pg,
                planner,
                hypopg,
                min_savings=min_savings,
                budget=Budget(max_indexes, max_size, window_seconds),
            )
        finally:
            pg.execute(f"SELECT {hypopg}.hypopg_reset()".encode())


class _Hypothetical:
    """The pool's hypothetical indexes, created and dropped so that a statement is planned
    with exactly the chosen ones on its tables (``select.Planner``)."""

    def __init__(
        self,
        pg: psycopg.Connection[Any],
        planner: _Planner,
        hypopg: str,
        pool: list[Suggestion],
        statements: dict[str, Statement],
    ) -> None:
        self.pg = pg
        self.planner = planner
        self.hypopg = hypopg
        self.pool = pool
        self.statements = statements
        self.present: dict[int, int] = {}  # pool id -> oid
        self.failed: dict[str, str] = {}  # statement key -> why it could not be planned
        self.tables: dict[str, set[str]] = {}  # statement key -> the pool's tables it reads

    def create(self, option: int) -> tuple[int, int]:
        """Create one, returning its oid and HypoPG's size estimate."""
        suggestion = self.pool[option]
        sql = f"CREATE INDEX ON {suggestion.target} ({suggestion.key})"
        with self.pg.transaction():
            row = self.pg.execute(
                f"SELECT indexrelid, {self.hypopg}.hypopg_relation_size(indexrelid) "
                f"FROM {self.hypopg}.hypopg_create_index(%s)".encode(),
                [sql],
            ).fetchone()
        assert row is not None
        self.present[option] = int(row[0])
        return int(row[0]), int(row[1])

    def drop(self, option: int) -> None:
        oid = self.present.pop(option)
        self.pg.execute(f"SELECT {self.hypopg}.hypopg_drop_index(%s)".encode(), [oid])

    def __call__(self, key: str, chosen: frozenset[int]) -> Priced | None:
        import psycopg

        if key in self.failed:
            return None
        tables = self.tables.get(key, set())
        for option in [o for o in self.present if self.pool[o].table in tables]:
            if option not in chosen:
                self.drop(option)
        for option in chosen:
            if option not in self.present:
                self.create(option)
        try:
            plan = self.planner.explain(self.statements[key].text)
        except NotExplainable as exc:
            self.failed[key] = f"not sent to the server: {exc}"
            return None
        except psycopg.Error as exc:
            self.failed[key] = _first_line(exc)
            return None
        by_oid = {oid: option for option, oid in self.present.items()}
        used = {
            by_oid[int(m.group(1))]
            for name in plan.indexes
            if (m := _HYPOTHETICAL.match(name)) and int(m.group(1)) in by_oid
        }
        return Priced(plan.cost, frozenset(used))


def _validate(
    advice: Advice,
    pg: psycopg.Connection[Any],
    planner: _Planner,
    hypopg: str,
    *,
    min_savings: float,
    budget: Budget,
) -> Advice:
    import psycopg

    notes: list[Finding] = []
    pool = [*advice.suggestions, *advice.alternatives]
    statements = {_key(s): s for g in pool for s in g.statements}
    hypothetical = _Hypothetical(pg, planner, hypopg, pool, statements)
    sizes: dict[int, int] = {}
    for option, suggestion in enumerate(pool):
        try:
            _, sizes[option] = hypothetical.create(option)
            hypothetical.drop(option)
        except psycopg.Error as exc:
            if option < len(advice.suggestions):
                why = f"HypoPG cannot create it: {_first_line(exc)}"
                notes.append(_not_validated(suggestion, why))
    on_table: dict[str, set[str]] = {}
    for option, suggestion in enumerate(pool):
        if option in sizes:
            on_table.setdefault(suggestion.table, set()).update(map(_key, suggestion.statements))
    for table, keys in on_table.items():
        for key in keys:
            hypothetical.tables.setdefault(key, set()).add(table)
    writes = _writes(pg, sorted(on_table))
    timed_workload = timed(list(statements.values())) and bool(budget.window_seconds)
    window_days = (budget.window_seconds or DAY) / DAY

    def overhead(option: int) -> float:
        """In the workload's unit (ms over the window) when it is timed, else none: planner
        cost has no price for writes."""
        found = writes.get(pool[option].table)
        if not timed_workload or found is None:
            return 0.0
        return found.overhead_ms_per_day(sizes[option]) * window_days

    def served(suggestion: Suggestion) -> tuple[str, ...]:
        """The statements on its table that search on its leading column (or all of them
        when the advice does not say)."""
        lead = (suggestion.table, suggestion.columns[0])
        return tuple(
            key
            for key in sorted(on_table[suggestion.table])
            if key not in advice.searched or lead in advice.searched[key]
        )

    options = [
        Option(
            option,
            suggestion.table,
            sizes[option],
            served(suggestion),
            primary=option < len(advice.suggestions),
            overhead=overhead(option),
        )
        for option, suggestion in enumerate(pool)
        if option in sizes
    ]
    chosen = select(
        options,
        statements,
        hypothetical,
        min_savings=min_savings,
        max_indexes=budget.max_indexes,
        max_size=budget.max_size,
        occurrences=advice.occurrences,
    )
    return _verdicts(
        advice,
        pool,
        chosen,
        sizes=sizes,
        failed=hypothetical.failed,
        notes=notes,
        min_savings=min_savings,
        writes=writes,
        per_day=DAY / budget.window_seconds if timed_workload and budget.window_seconds else None,
    )


@dataclass(frozen=True, slots=True)
class Budget:
    max_indexes: int | None = None
    max_size: int | None = None  # bytes
    window_seconds: float | None = None  # what the statements' total_time_ms covers


# Index maintenance per row written, measured on the bench machine (2 cores): 2M rows
# inserted into a table with and without a btree on a random int, 1.5 us a row without,
# 4.5 us with: 3 us an entry, scaled by the entry's size against the row's.
INDEX_ENTRY_MS = 0.003
DAY = 86400.0
MIN_WRITES_WINDOW = 3600.0  # seconds of table statistics before a write rate is believed

_WRITES_SQL = """
SELECT n.nspname || '.' || c.relname,
    coalesce(s.n_tup_ins + s.n_tup_upd - s.n_tup_hot_upd, 0)::float8,
    pg_table_size(c.oid)::float8, greatest(c.reltuples, 0)::float8,
    extract(epoch FROM now() - coalesce(
        (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
        pg_postmaster_start_time()))::float8
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname || '.' || c.relname = ANY(%s::text[])"""


@dataclass(frozen=True, slots=True)
class Writes:
    """A table's index-maintaining writes (inserts and non-HOT updates) a day, and sizes."""

    per_day: float
    table_bytes: float
    rows: float

    def overhead_ms_per_day(self, index_bytes: int) -> float:
        """What one more index costs its table's writes a day."""
        if self.rows <= 0 or self.table_bytes <= 0:
            return self.per_day * INDEX_ENTRY_MS
        ratio = (index_bytes / self.rows) / (self.table_bytes / self.rows)
        return self.per_day * INDEX_ENTRY_MS * (1.0 + ratio)


def _writes(pg: psycopg.Connection[Any], tables: list[str]) -> dict[str, Writes]:
    found: dict[str, Writes] = {}
    for name, writes, size, rows, seconds in pg.execute(_WRITES_SQL, [tables]).fetchall():
        if float(seconds or 0.0) < MIN_WRITES_WINDOW:
            continue  # a bulk load just after a restart or a reset is not a write rate
        per_day = float(writes) * DAY / float(seconds)
        found[str(name)] = Writes(per_day, float(size), float(rows))
    return found


def _verdicts(
    advice: Advice,
    pool: list[Suggestion],
    chosen: Selection,
    *,
    sizes: dict[int, int],
    failed: dict[str, str],
    notes: list[Finding],
    min_savings: float,
    writes: dict[str, Writes],
    per_day: float | None,
) -> Advice:
    """The chosen indexes with their costs, time saved a day (a timed workload), size and
    write overhead; a note for each suggestion left out."""

    def costs(option: int) -> tuple[PlanCost, ...]:
        return tuple(
            PlanCost(
                s,
                chosen.baseline[_key(s)].cost,
                chosen.costs[_key(s)].cost,
                option in chosen.costs[_key(s)].used,
            )
            for s in pool[option].statements
            if _key(s) in chosen.baseline and _key(s) in chosen.costs
        )

    kept: list[Suggestion] = []
    picked = set(chosen.chosen)
    for option, suggestion in enumerate(pool):
        primary = option < len(advice.suggestions)
        if option not in sizes:
            if primary:
                kept.append(suggestion)  # HypoPG could not take it: the static advice stands
            continue
        found = costs(option)
        if primary and not found:
            errors = {failed[_key(s)] for s in suggestion.statements if _key(s) in failed}
            notes.append(_not_validated(suggestion, "; ".join(sorted(errors))))
            kept.append(suggestion)
            continue
        table_writes = writes.get(suggestion.table)
        verdict = replace(
            suggestion,
            costs=found,
            size_bytes=sizes[option],
            writes_per_day=None if table_writes is None else table_writes.per_day,
            overhead_ms_per_day=(
                None if table_writes is None else table_writes.overhead_ms_per_day(sizes[option])
            ),
            saved_ms_per_day=None if per_day is None else _saved(found, chosen, option) * per_day,
        )
        if option in picked:
            kept.append(verdict)
        elif primary and chosen.truncated:  # not all priced: the static advice stands
            why = f"the selection stopped after {chosen.priced:,} plans, a workload this large"
            notes.append(_not_validated(suggestion, why))
            kept.append(suggestion)
        elif primary:
            notes.append(_not_chosen(option, min_savings, chosen, pool))
    notes = [*_still_unindexed(advice.notes, kept), *notes]
    over = [pool[o] for o in dict.fromkeys(chosen.over_budget) if pool[o].name]
    if over:
        notes.append(_over_budget(over))
    return replace(
        advice,
        suggestions=kept,
        notes=notes,
        validated=True,
        alternatives=[],
    )


def _still_unindexed(notes: list[Finding], kept: list[Suggestion]) -> list[Finding]:
    """The notes, less the unindexed foreign keys a chosen index now leads with (one the
    planner chose among the other shapes)."""

    def led(finding: Finding) -> bool:
        width = len(finding.columns)
        return any(
            s.table == finding.table and set(s.columns[:width]) == set(finding.columns)
            for s in kept
        )

    return [n for n in notes if n.rule != "unindexed-foreign-key" or not led(n)]


def _saved(costs: tuple[PlanCost, ...], chosen: Selection, option: int) -> float:
    """The time (ms over the window) the statements it serves save with the chosen set, each
    statement's cut (a share of its cost) of its time, split among the new indexes its plan
    uses."""
    saved = 0.0
    for cost in costs:
        total = cost.statement.total_time_ms
        if not cost.used or total is None:
            continue
        sharing = len(chosen.costs[_key(cost.statement)].used) or 1
        saved += total * max(cost.savings, 0.0) / sharing
    return saved


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


def _not_chosen(
    option: int, min_savings: float, chosen: Selection, pool: list[Suggestion]
) -> Finding:
    """Why a suggestion of the static advice is left out: another index serves its
    statements, the planner does not use it, or it saves too little."""
    suggestion = pool[option]
    keys = {_key(s) for s in suggestion.statements}
    others = [
        pool[o].name
        for o in chosen.chosen
        if pool[o].table == suggestion.table and keys & {_key(s) for s in pool[o].statements}
    ]
    pairs = list(chosen.left_out.get(option, {}).values())
    best = max(pairs, key=lambda p: p[0].cost - p[1].cost, default=None)
    evidence: dict[str, Any] = {"index": suggestion.name}
    cost = ""
    if best is not None:
        before, after = best
        cut = 0.0 if before.cost <= 0 else (before.cost - after.cost) / before.cost
        evidence |= {
            "cost_before": round(before.cost, 2),
            "cost_after": round(after.cost, 2),
            "savings": round(cut, 3),
        }
        cost = f" (cost {before.cost:,.1f} -> {after.cost:,.1f})"
    if others:
        why = f"{', '.join(others)} serves its statements as well or better"
        evidence["instead"] = others
    elif not any(option in after.used for _, after in pairs):
        why = "the planner does not use it"
    else:
        why = f"it saves less than {min_savings:.0%} of the planner's cost"
    served = len(suggestion.statements)
    return note(
        "index-not-used",
        f"{suggestion.name} on {suggestion.table} ({', '.join(suggestion.columns)}) is dropped: "
        f"{why} for the {served} statement{'s' * (served > 1)} it serves{cost}",
        statement=suggestion.statement,
        table=suggestion.table,
        columns=suggestion.columns,
        evidence=evidence,
    )


def _over_budget(over: list[Suggestion]) -> Finding:
    names = ", ".join(f"{s.name} on {s.table}" for s in over[:5])
    more = f" and {len(over) - 5} more" if len(over) > 5 else ""
    return note(
        "over-budget",
        f"{len(over)} more index(es) would pay but exceed --max-indexes / --max-size: "
        f"{names}{more}",
        evidence={"indexes": [s.sql for s in over]},
    )
