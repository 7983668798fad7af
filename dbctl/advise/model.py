"""What the advisor returns: suggestions (indexes to create) and the other findings.

``Advice.findings()`` turns each suggestion into a ``missing-index`` finding (severity
error) and adds the rest: parse errors, unknown tables, unservable predicates, the
catalog rules (``unindexed-foreign-key``, ``duplicate-index``, ``unused-index``) and the
info notes that say what was left out and why (``small-table``, ``low-selectivity``,
``existing-index-suffices``, ``no-statistics``, ``index-not-used``, ``not-validated``,
``hypopg-missing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dbctl.access.model import Statement
from dbctl.report import Finding, Location, Severity, one_line
from dbctl.schema.catalog import FrozenMap

MAX_SERVED_SHOWN = 10
MAX_STATEMENT_CHARS = 200


@dataclass(frozen=True)
class AdviceOptions:
    max_columns: int = 3  # key columns of a suggested index
    min_rows: int = 1000  # with statistics: smaller tables get no suggestion
    max_selectivity: float = 0.1  # with statistics: an equality keeping more is dropped
    enough_rows: float = 50.0  # with statistics: an existing index narrowing to this suffices
    unused_min_bytes: int = 1024 * 1024  # unused-index: smaller indexes are not reported
    alternatives: bool = False  # collect the other shapes of each access (for --validate)
    max_indexes: int | None = None  # --validate: at most this many suggestions
    max_size: int | None = None  # --validate: at most this many bytes of new indexes
    # Row-count hints, "table" or "schema.table" -> rows: a table under min_rows gets a
    # small-table note instead of a suggestion, with or without statistics.
    table_rows: Mapping[str, int] = FrozenMap()

    def __post_init__(self) -> None:  # kept hashable and immutable
        object.__setattr__(self, "table_rows", FrozenMap(self.table_rows))


@dataclass(frozen=True, slots=True)
class PlanCost:
    """A statement's planner cost without and with the hypothetical indexes."""

    statement: Statement
    before: float
    after: float
    used: bool  # the plan with the hypothetical indexes uses this suggestion's index

    @property
    def savings(self) -> float:
        return 0.0 if self.before <= 0 else (self.before - self.after) / self.before


@dataclass(frozen=True)
class Suggestion:
    """One index to create, with every statement it serves (the most expensive first)."""

    table: str  # qualified: public.orders
    columns: tuple[str, ...]
    name: str
    sql: str  # CREATE INDEX CONCURRENTLY <name> ON <schema.table> (<key>);
    statements: tuple[Statement, ...]
    reasons: tuple[str, ...]  # "joined on customer_id", "filtered on (status)"...
    descending: tuple[bool, ...] = ()
    nulls_first: tuple[bool, ...] = ()
    join: bool = False  # the first reason is a join: the message says "leads with it"
    occurrences: int = 0  # statements served, counting those that differ only in literals
    key: str = ""  # the key list as SQL: customer_id, created_at DESC
    target: str = ""  # the table as SQL: public.orders, quoted where needed
    partitioned: bool = False  # on a partitioned table: no CONCURRENTLY
    costs: tuple[PlanCost, ...] = ()  # set by --validate
    size_bytes: int | None = None  # HypoPG's estimate, set by --validate
    # --validate, with pg_stat_statements' times and window: the time its statements save
    saved_ms_per_day: float | None = None
    writes_per_day: float | None = None  # its table's inserts and non-HOT updates a day
    overhead_ms_per_day: float | None = None  # what it adds to those writes
    notes: tuple[str, ...] = ()

    @property
    def statement(self) -> Statement:
        return self.statements[0]

    def best_cost(self) -> PlanCost | None:
        used = [cost for cost in self.costs if cost.used] or list(self.costs)
        return max(used, key=lambda cost: cost.savings, default=None)


def location_of(statement: Statement) -> Location | None:
    if statement.line is None and statement.source in ("", "pg_stat_statements"):
        return None
    return Location(statement.source, statement.line)


def shorten(text: str) -> str:
    return one_line(text, MAX_STATEMENT_CHARS)


def _served(statement: Statement) -> dict[str, Any]:
    location = location_of(statement)
    where = None if location is None else f"{location.path}:{location.line or 1}"
    return {"statement": shorten(statement.text), "location": where, "queryid": statement.queryid}


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # unreachable


def _duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.0f} min"


def missing_index(suggestion: Suggestion) -> Finding:
    first = suggestion.statement
    served = "leads with it" if suggestion.join else "serves it"
    message = f"{suggestion.table} is {suggestion.reasons[0]} but no index {served}"
    if len(suggestion.reasons) > 1:
        message += f"; the index also serves: {'; '.join(suggestion.reasons[1:])}"
    best = suggestion.best_cost()
    if best is not None:  # priced by the planner (--validate)
        figures = [f"planner cost {best.before:,.0f} -> {best.after:,.0f}"]
        if suggestion.size_bytes is not None:
            figures.append(f"about {_size(suggestion.size_bytes)}")
        if suggestion.saved_ms_per_day is not None:
            figures.append(f"saves about {_duration(suggestion.saved_ms_per_day)} a day")
        message += f" ({', '.join(figures)})"
    evidence: dict[str, Any] = {
        "index": suggestion.name,
        "statements": len(suggestion.statements),
        "reasons": list(suggestion.reasons),
    }
    if suggestion.occurrences > len(suggestion.statements):
        evidence["occurrences"] = suggestion.occurrences
    shares = [s.share for s in suggestion.statements if s.share is not None]
    if shares:
        evidence["share_of_total_time"] = round(sum(shares), 4)
    calls = [s.calls for s in suggestion.statements if s.calls is not None]
    if calls:
        evidence["calls"] = sum(calls)
    if best is not None:
        evidence["cost_before"] = round(best.before, 2)
        evidence["cost_after"] = round(best.after, 2)
        evidence["savings"] = round(best.savings, 3)
        if suggestion.size_bytes is not None:
            evidence["size_bytes"] = suggestion.size_bytes
        for name in ("saved_ms_per_day", "writes_per_day", "overhead_ms_per_day"):
            value = getattr(suggestion, name)
            if value is not None:
                evidence[name] = round(value, 1)
        evidence["costs"] = [
            {
                "statement": shorten(c.statement.text),
                "cost_before": round(c.before, 2),
                "cost_after": round(c.after, 2),
                "uses_index": c.used,
            }
            for c in suggestion.costs
        ]
    if suggestion.notes:
        evidence["notes"] = list(suggestion.notes)
    evidence["served"] = [_served(s) for s in suggestion.statements[:MAX_SERVED_SHOWN]]
    return Finding(
        rule="missing-index",
        severity=Severity.error,
        message=message,
        table=suggestion.table,
        columns=suggestion.columns,
        suggestion=suggestion.sql,
        statement=first.text,
        queryid=first.queryid,
        location=location_of(first),
        evidence=evidence,
    )


def note(
    rule: str,
    message: str,
    *,
    statement: Statement | None = None,
    table: str | None = None,
    columns: tuple[str, ...] = (),
    suggestion: str | None = None,
    severity: Severity = Severity.info,
    evidence: dict[str, Any] | None = None,
) -> Finding:
    """A finding about a statement (its text, queryid and location) or about the run."""
    return Finding(
        rule=rule,
        severity=severity,
        message=message,
        table=table,
        columns=columns,
        suggestion=suggestion,
        statement=None if statement is None else statement.text,
        queryid=None if statement is None else statement.queryid,
        location=None if statement is None else location_of(statement),
        evidence=evidence or {},
    )


@dataclass(frozen=True)
class Advice:
    suggestions: list[Suggestion] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)  # every finding but missing-index
    statements: int = 0  # access patterns analysed
    structural: bool = True  # no statistics: table sizes and selectivity not weighed
    validated: bool = False  # costs from the planner with HypoPG
    # The other shapes the accesses could use (AdviceOptions.alternatives): --validate
    # prices them beside the suggestions and keeps what the planner prefers.
    alternatives: list[Suggestion] = field(default_factory=list)
    # With the alternatives: each statement (by fingerprint) -> the (table, column) pairs it
    # searches, sorts or groups on; an index whose leading column is not among them cannot
    # serve it, and is not priced for it.
    searched: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    # With the alternatives: how often each statement (by fingerprint) is in the input (a
    # capture log repeats them): an untimed statement weighs that many times.
    occurrences: Mapping[str, int] = field(default_factory=dict)

    def findings(self) -> list[Finding]:
        return [missing_index(s) for s in self.suggestions] + list(self.notes)

    def data(self) -> dict[str, Any]:
        """What the report's ``data`` may carry: the suggestions and how they were made."""
        return {
            "structural": self.structural,
            "validated": self.validated,
            "suggestions": [
                {
                    "table": s.table,
                    "columns": list(s.columns),
                    "name": s.name,
                    "sql": s.sql,
                    "statements": len(s.statements),
                    "reasons": list(s.reasons),
                }
                for s in self.suggestions
            ],
        }
