"""``advise``: access patterns and a catalog in, the indexes to create out.

The passes, in order (each its own module):

1. ``candidates``: the btree each table access wants (filters, sorts, each join column);
2. ``coverage``: drop the candidates an existing index already serves;
3. ``merge``: fold candidates on one table into a few indexes, each listing what it serves;
4. ``filters`` (statistics only): drop small tables and keys that would not cut the rows;
5. suggestions: names per the convention, ready ``CREATE INDEX CONCURRENTLY`` statements;
6. the other findings: parse errors, unknown tables, unservable predicates, and the catalog
   rules (``CATALOG_RULES``, plus ``unused-index`` with statistics).

Data in, data out: no connection; ``whatif.validate`` prices the result with the planner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from dbctl.access.model import AccessPattern, Statement, TableAccess, Unservable
from dbctl.advise import unused
from dbctl.advise.candidates import Candidate, Purpose, candidates, options
from dbctl.advise.coverage import Coverage
from dbctl.advise.filters import Limits, apply_filters
from dbctl.advise.keys import Shape, equality, key_parts, refine, width
from dbctl.advise.merge import Group, merge
from dbctl.advise.model import Advice, AdviceOptions, Suggestion, note
from dbctl.pg.stats import Statistics
from dbctl.report import Finding, Severity
from dbctl.rules import duplicates, foreign_keys
from dbctl.rules.context import RuleContext
from dbctl.rules.indexing import (
    create_index_sql,
    key_sql,
    qualified_sql,
    taken_names,
    unique_index_name,
)
from dbctl.schema.catalog import Catalog, Index, Table

INDEXABLE_KINDS = frozenset({"table", "partitioned table", "materialized view"})

NO_STATISTICS = (
    "no statistics: the advice is structural (table sizes and selectivity are not weighed: "
    "each access no index serves is a missing-index error, where a live database would make "
    "a small table or an unselective filter a small-table or low-selectivity note); give "
    "--database-url of a database with data to use pg_stats, or --rows TABLE=N"
)

CatalogRule = Callable[[Catalog, RuleContext], list[Finding]]
CATALOG_RULES: tuple[CatalogRule, ...] = (foreign_keys.check, duplicates.check)


class _Collector:
    """Walks the patterns once: candidates not yet covered, and the findings on the way."""

    def __init__(
        self,
        catalog: Catalog,
        statistics: Statistics | None,
        max_columns: int,
        with_options: bool = False,
    ):
        self.catalog = catalog
        self.statistics = statistics
        self.max_columns = max_columns
        self.with_options = with_options  # the planner chooses: collect the other shapes
        self.options: list[Candidate] = []
        # statement (fingerprint) -> the (table, column) pairs it searches, sorts or groups on
        self.searched: dict[str, frozenset[tuple[str, str]]] = {}
        self.occurrences: dict[str, int] = {}  # statement (fingerprint) -> times in the input
        self._options: dict[TableAccess, list[Candidate]] = {}
        self.coverage = Coverage()
        self.used: set[tuple[str, str]] = set()  # existing indexes that serve the input
        self.wanted: list[Candidate] = []
        self.findings: list[Finding] = []
        self.unknown: dict[str, list[Statement]] = {}
        self.unservable: dict[tuple[str, str, str], list[Statement]] = {}
        self.items: dict[tuple[str, str, str], Unservable] = {}
        self._shapes: dict[TableAccess, list[Candidate]] = {}

    def add(self, pattern: AccessPattern) -> None:
        """Take one statement's pattern; a fault in its analysis is its own
        ``parse-error`` finding (nothing of it is kept), and the others go on."""
        statement = pattern.statement
        error = pattern.error
        if error is None:
            try:
                self._add(pattern)
                return
            except RecursionError:
                error = "it is nested too deeply to analyse"
            except Exception as exc:  # not hidden: the finding names it
                error = f"dbctl fails on it ({type(exc).__name__}: {exc})"
        self.findings.append(
            note(
                "parse-error",
                f"the statement cannot be analysed: {error}",
                statement=statement,
                severity=Severity.error,
            )
        )

    def _add(self, pattern: AccessPattern) -> None:
        statement = pattern.statement
        wanted: list[Candidate] = []
        optional: list[Candidate] = []
        unknown = list(pattern.unknown_tables)
        unservable: list[tuple[tuple[str, str, str], Unservable]] = []
        for access in pattern.accesses:
            table = self.catalog.tables.get(access.table)
            if table is None:
                unknown.append(access.table)
            elif table.kind in INDEXABLE_KINDS:
                before = len(wanted)
                self._access(table, access, statement, wanted, unservable)
                if self.with_options:
                    self._optional(table, access, statement, len(wanted) > before, optional)
        # Kept only once the whole statement went through.
        self.wanted += wanted
        self.options += optional
        if self.with_options:
            seen = statement.fingerprint or statement.text
            self.occurrences[seen] = self.occurrences.get(seen, 0) + 1
            self.searched[seen] = frozenset(
                (access.table, column)
                for access in pattern.accesses
                for column in (
                    *access.equality,
                    *access.ranges,
                    *access.joins,
                    *access.group,
                    *(sort.column for sort in access.sort),
                )
            )
        for name in unknown:
            self.unknown.setdefault(name, []).append(statement)
        for key, item in unservable:
            self.unservable.setdefault(key, []).append(statement)
            self.items[key] = item

    def _access(
        self,
        table: Table,
        access: TableAccess,
        statement: Statement,
        wanted: list[Candidate],
        unservable: list[tuple[tuple[str, str, str], Unservable]],
    ) -> None:
        shapes = self._shapes.get(access)
        if shapes is None:
            shapes = candidates(
                access,
                statement,
                statistics=self.statistics,
                max_columns=self.max_columns,
                table=table,
            )
            self._shapes[access] = shapes
        for shape in shapes:
            candidate = replace(shape, statement=statement)
            serving = self.coverage.index_for(table, candidate, access)
            if serving is None:
                wanted.append(candidate)
            else:
                self.used.add((table.qualified_name, serving.name))
        for item in access.unservable:
            served = self.coverage.unservable_index(table, item, access, statement.text)
            if served is not None:
                self.used.add((table.qualified_name, served.name))
            else:
                unservable.append(
                    ((table.qualified_name, item.expression, item.reason.value), item)
                )

    def _optional(
        self,
        table: Table,
        access: TableAccess,
        statement: Statement,
        wanting: bool,
        optional: list[Candidate],
    ) -> None:
        """The other shapes of an access that wants an index (or aggregates), for the
        planner to choose among; none that an existing index already serves."""
        found = self._options.get(access)
        if found is None:
            searched = {
                *access.equality,
                *access.ranges,
                *access.group,
                *(key.column for key in access.sort),
            }
            found = []
            for shape, purpose in options(
                access,
                statistics=self.statistics,
                max_columns=self.max_columns,
                table=table,
            ):
                # A join column searches when it leads (a nested loop's inner side); after
                # the filter it is only read (a hash join's key, a semi-join's output).
                parts = key_parts(shape)
                lead = {parts[0].column} if parts[0].column in access.joins else set()
                covering = tuple(p.column for p in parts if p.column not in searched | lead)
                found.append(
                    Candidate(
                        access.table, shape, purpose, statement, access.limit, covering=covering
                    )
                )
            self._options[access] = found
        for option in found:
            if not wanting and option.purpose is not Purpose.group:
                continue
            candidate = replace(option, statement=statement)
            if self.coverage.index_for(table, candidate, access) is None:
                optional.append(candidate)

    def notes(self) -> list[Finding]:
        found = list(self.findings)
        for name, statements in self.unknown.items():
            count = len(statements)
            found.append(
                note(
                    "unknown-table",
                    f"{name} is not in the catalog ({count} statement{'s' * (count > 1)}): "
                    "its accesses are not checked",
                    statement=statements[0],
                    table=name,
                    evidence={"statements": count},
                )
            )
        for (table, expression, reason), statements in self.unservable.items():
            item = self.items[(table, expression, reason)]
            found.append(
                note(
                    "unservable-predicate",
                    f"{table}: {expression} cannot use a plain btree on {item.column} "
                    f"({reason}); {len(statements)} statement(s)",
                    statement=statements[0],
                    table=table,
                    columns=(item.column,),
                    suggestion=item.remedy,
                    evidence={"reason": reason, "statements": len(statements)},
                )
            )
        return found


def _ranked(statements: Iterable[Statement]) -> tuple[tuple[Statement, ...], int]:
    """Distinct statements (by fingerprint), the costliest first; and how many in all."""
    distinct: dict[str, Statement] = {}
    total = 0
    for statement in statements:
        total += 1
        distinct.setdefault(statement.fingerprint or statement.text, statement)
    ordered = sorted(distinct.values(), key=lambda s: -(s.share or 0.0))
    return tuple(ordered), total


def _name(table: Table, columns: Sequence[str], taken: set[str]) -> str:
    return unique_index_name(table, columns, taken)


def _suggestion(group: Group, table: Table, taken: set[str]) -> Suggestion:
    parts = key_parts(group.shape)
    columns = tuple(part.column for part in parts)
    descending = tuple(part.descending for part in parts)
    nulls_first = tuple(part.nulls_first for part in parts)
    opclasses = tuple(part.opclass for part in parts)
    name = _name(table, columns, taken)
    statements, occurrences = _ranked(member.statement for member in group.members)
    reasons = tuple(dict.fromkeys(member.reason() for member in group.members))
    partitioned = table.kind == "partitioned table"
    notes: list[str] = []
    if partitioned:
        notes.append(
            "PostgreSQL cannot build an index CONCURRENTLY on a partitioned table: on a busy "
            "table, create it ON ONLY the parent, concurrently on each partition, and ATTACH "
            "each partition's index"
        )
    new = Index(name, columns, descending=descending, nulls_first=nulls_first)
    for old in table.indexes:
        if duplicates.redundant_to(old, new):
            notes.append(f"it makes {old.name} ({', '.join(old.columns)}) redundant: drop it")
    return Suggestion(
        table=table.qualified_name,
        columns=columns,
        name=name,
        sql=create_index_sql(
            table,
            columns,
            name,
            descending=descending,
            nulls_first=nulls_first,
            opclasses=opclasses,
        ),
        statements=statements,
        reasons=reasons,
        descending=descending,
        nulls_first=nulls_first,
        join=group.members[0].purpose is Purpose.join_key,
        occurrences=occurrences,
        key=key_sql(columns, descending, nulls_first, opclasses),
        target=qualified_sql(table),
        partitioned=partitioned,
        notes=tuple(notes),
    )


def _leads_with(shape: Shape, columns: tuple[str, ...]) -> bool:
    lead = [part.column for part in key_parts(shape)][: len(columns)]
    return set(lead) == set(columns)


def _weighed(
    groups: list[Group], catalog: Catalog, statistics: Statistics | None, options: AdviceOptions
) -> tuple[list[Group], list[Finding]]:
    """The groups the filters keep, and a note for each one they drop."""
    limits = Limits.of(options)
    pairs = [(group, catalog.tables[group.table]) for group in groups]
    kept, dropped = apply_filters(pairs, statistics, limits)
    notes = []
    for group, drop in dropped:
        statements, _ = _ranked(member.statement for member in group.members)
        notes.append(
            note(
                drop.rule,
                drop.message,
                statement=statements[0],
                table=group.table,
                columns=group.columns,
                evidence={**drop.evidence, "statements": len(statements)},
            )
        )
    return kept, notes


def _alternatives(
    wanted: list[Candidate],
    suggested: list[Group],
    catalog: Catalog,
    statistics: Statistics | None,
    options: AdviceOptions,
) -> list[Group]:
    """The other shapes, one group per distinct key (never merged: the planner chooses
    among them as they are), and the shared keys of two of them (``_shared_keys``), less
    those the filters drop or a suggestion already is."""
    alike: dict[tuple[str, Shape], Group] = {}
    for candidate in wanted:
        key = (candidate.table, candidate.shape)
        group = alike.get(key)
        if group is None:
            alike[key] = group = Group(candidate.table, candidate.shape)
        group.members.append(candidate)
    if options.alternatives:  # for the planner to choose among: --validate only
        for group in _shared_keys([*suggested, *alike.values()]):
            alike.setdefault((group.table, group.shape), group)
    taken = {(g.table, g.columns) for g in suggested}
    fresh = [g for g in alike.values() if (g.table, g.columns) not in taken]
    kept, _ = _weighed(fresh, catalog, statistics, options)
    return kept


def _distinct(alternatives: list[Suggestion], suggestions: list[Suggestion]) -> list[Suggestion]:
    """One alternative per key: two shapes may order to the same columns."""
    seen = {(s.table, s.key) for s in suggestions}
    kept = []
    for alternative in alternatives:
        if (alternative.table, alternative.key) not in seen:
            seen.add((alternative.table, alternative.key))
            kept.append(alternative)
    return kept


MAX_SHARED_KEYS = 20  # per table: pairs grow quadratically, the planner prices each


def _shared_keys(groups: list[Group]) -> list[Group]:
    """For two shapes on one table, a key an access of the second wants, ordered to lead
    with the first's leading column when that order is free to change (a join on
    ``(l_suppkey, l_partkey)`` and a search on ``l_partkey``: ``(l_partkey, l_suppkey)``
    serves the join and leads for the search). The selection may take it for the two
    (``select``'s consolidation)."""
    found: dict[tuple[str, Shape], Group] = {}
    per_table: dict[str, int] = {}
    for one in groups:
        lead = key_parts(one.shape)[:1]
        if not lead or lead[0].pattern:
            continue
        for other in groups:
            if other.table != one.table or other is one:
                continue
            for wanted in dict.fromkeys(m.shape for m in other.members):
                if width(wanted) < 2 or lead[0].column not in wanted[0].columns:
                    continue
                shape = refine(wanted, (equality(lead[0].column),))
                if shape is None or shape in (wanted, other.shape) or (one.table, shape) in found:
                    continue
                if per_table.get(one.table, 0) >= MAX_SHARED_KEYS:
                    break
                per_table[one.table] = per_table.get(one.table, 0) + 1
                found[(one.table, shape)] = Group(one.table, shape, [*other.members, *one.members])
    return list(found.values())


def _catalog_findings(catalog: Catalog, context: RuleContext, kept: list[Group]) -> list[Finding]:
    """The catalog rules, less the foreign keys a suggestion will index."""
    found = []
    for rule in CATALOG_RULES:
        for finding in rule(catalog, context):
            fixed = finding.rule == "unindexed-foreign-key" and any(
                g.table == finding.table and _leads_with(g.shape, finding.columns) for g in kept
            )
            if not fixed:
                found.append(finding)
    return found


def advise(
    patterns: Iterable[AccessPattern],
    catalog: Catalog,
    *,
    statistics: Statistics | None = None,
    options: AdviceOptions = AdviceOptions(),  # noqa: B008 (frozen, shared safely)
    context: RuleContext | None = None,
) -> Advice:
    """Index advice for the statements' access patterns against ``catalog``.

    ``statistics`` (``dbctl.pg.stats.load_statistics`` of the catalog's tables) turn on
    the filters and ``unused-index``; without them the advice is structural and says so.
    ``context`` gives the catalog rules the models' locations.
    """
    collector = _Collector(catalog, statistics, options.max_columns, options.alternatives)
    count = 0
    for pattern in patterns:
        count += 1
        collector.add(pattern)
    groups = merge(collector.wanted)
    notes = collector.notes()
    kept, dropped = _weighed(groups, catalog, statistics, options)
    notes += dropped
    if statistics is None and count:
        notes.append(note("no-statistics", NO_STATISTICS))
    taken = taken_names(catalog)  # tables, views, sequences too: IF NOT EXISTS would skip
    suggestions = [_suggestion(g, catalog.tables[g.table], taken) for g in kept]
    others = _alternatives(collector.options, kept, catalog, statistics, options)
    alternatives = _distinct(
        [_suggestion(g, catalog.tables[g.table], taken) for g in others], suggestions
    )
    context = context or RuleContext()
    notes += _catalog_findings(catalog, context, kept)
    if statistics is not None:
        locations = dict(context.locations)
        notes += unused.check(
            catalog,
            statistics,
            min_bytes=options.unused_min_bytes,
            locations=locations,
            used=collector.used,
        )
    return Advice(
        suggestions,
        notes,
        count,
        structural=statistics is None,
        alternatives=alternatives,
        searched=collector.searched,
        occurrences=collector.occurrences,
    )
