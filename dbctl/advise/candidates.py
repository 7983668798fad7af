"""The btree each table access wants: one candidate for its filters, one per join column.

Filter candidate: the equality columns first (``=``, ``IN`` and ``IS NULL``; the most
selective first when statistics exist, else in the statement's order), then at most one
range column, or else the sort columns in order. The sort is taken only when the ORDER BY
is entirely this table's (``TableAccess.sort`` is empty otherwise), no IN list breaks the
order, and either a LIMIT bounds it or equality columns come before it (the index then
saves the sort for free); a range column that is also the first sort key takes the sort.
Join candidate, for each join column: that column first, then the table's equality
filters; it serves the table as the inner side of a nested loop. A sorted access on a
joined table is also served by the join column as one more equality before the sort (a
LATERAL subquery's ``ORDER BY ... LIMIT``): an existing index of that shape covers it.
UPDATE and DELETE targets are treated like any read: their WHERE is a filter. The width
is capped (``max_columns``).

A ``LIKE 'abc%'`` range (``TableAccess.prefixes``) is a btree range only under the C
collation: its part asks for ``text_pattern_ops`` (``varchar_pattern_ops``,
``bpchar_pattern_ops`` by the column's type), unless the column is C-collated (from the
catalog; the DDL reader and an unknown database collation are taken as not C). Such a part
never takes the sort.

``options`` gives, for ``--validate``, the other shapes an access could use, for the
planner to choose among with HypoPG: the pair's leading column alone, equality then the
range or then the sort under a LIMIT (whichever the first candidate did not take), the
key plus the columns the statement reads for an index-only scan (covering), the grouping
columns of an aggregate with what it reads, and the join column with what is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dbctl.access.model import SortKey, Statement, TableAccess
from dbctl.advise.keys import (
    C_COLLATIONS,
    Block,
    Part,
    Shape,
    equality,
    fixed,
    key_parts,
    width,
)
from dbctl.pg.stats import Statistics
from dbctl.schema.catalog import Table

DEFAULT_EQ_SELECTIVITY = 0.005  # PostgreSQL's DEFAULT_EQ_SEL, for columns without statistics


class Purpose(StrEnum):
    filter = "filter"
    join_key = "join"
    sort = "sort"
    group = "group"  # an aggregate's grouping columns (an option for the planner only)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An index one access of one statement wants, as a shape (see ``keys``)."""

    table: str
    shape: Shape
    purpose: Purpose
    statement: Statement
    limit: bool = False
    descending_sort: bool = False  # the statement sorts the key's sort parts the other way
    alternatives: tuple[Shape, ...] = ()  # other shapes that serve the access as well
    covering: tuple[str, ...] = ()  # key columns only read (an index-only scan), not searched
    literals: tuple[tuple[str, str], ...] = ()  # the access's column = constant pairs

    @property
    def coverage_shape(self) -> Shape:
        """What an existing index must serve for this access to need nothing: for a join,
        an index that leads with the join column (whatever follows)."""
        return self.shape[:1] if self.purpose is Purpose.join_key else self.shape

    @property
    def coverage_shapes(self) -> tuple[Shape, ...]:
        """``coverage_shape`` and the alternatives: an index serving any one will do."""
        return (self.coverage_shape, *self.alternatives)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(part.column for part in key_parts(self.shape))

    @property
    def bare_shape(self) -> Shape:
        """The shape without its covering columns (the last block, when there are)."""
        return self.shape[:-1] if self.covering and len(self.shape) > 1 else self.shape

    def reason(self) -> str:
        """``joined on customer_id``, ``filtered on (status, created_at)``..."""
        read = set(self.covering)
        columns = tuple(column for column in self.columns if column not in read)
        reads = f" and reads ({', '.join(self.covering)}) from the index alone" * bool(read)
        if self.purpose is Purpose.join_key:
            rest = f" (with a filter on {', '.join(columns[1:])})" if len(columns) > 1 else ""
            return f"joined on {columns[0]}{rest}{reads}"
        if self.purpose is Purpose.group:
            return f"grouped by ({', '.join(columns)}){reads}"
        eq = [p.column for b in self.shape if b.free for p in b.parts if p.column not in read]
        ordered = [p for b in self.shape if not b.free for p in b.parts if p.ordered]
        ranged = [
            p.column
            for b in self.shape
            if not b.free
            for p in b.parts
            if not p.ordered and p.column not in read
        ]
        said = []
        if eq or ranged:
            said.append(f"filtered on ({', '.join([*eq, *ranged])})")
        if ordered:
            if self.descending_sort:
                ordered = [part.flipped() for part in ordered]
            keys = ", ".join(p.column + (" DESC" if p.descending else "") for p in ordered)
            said.append(f"sorted on ({keys})" + (" with a LIMIT" if self.limit else ""))
        return " and ".join(said) + reads


def _unique(columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(columns))


def ordered_equality(access: TableAccess, statistics: Statistics | None) -> tuple[str, ...]:
    """The equality columns (``=``, IN, IS NULL), the most selective first when statistics
    exist (a stable sort: ties and unknowns keep the statement's order)."""
    columns = _unique(access.equality + access.in_lists + access.nulls)
    if statistics is None:
        return columns
    nulls = set(access.nulls) - set(access.equality)

    def selectivity(column: str) -> float:
        if column in nulls:
            stats = statistics.column(access.table, column)
            return stats.null_frac if stats is not None else DEFAULT_EQ_SELECTIVITY
        found = statistics.equality_selectivity(access.table, column)
        return DEFAULT_EQ_SELECTIVITY if found is None else found

    return tuple(sorted(columns, key=selectivity))


def sort_part(key: SortKey) -> Part:
    nulls_first = key.descending if key.nulls_first is None else key.nulls_first
    return Part(key.column, key.descending, nulls_first, ordered=True)


def _sort_parts(access: TableAccess, equal: tuple[str, ...]) -> tuple[Part, ...]:
    """The ORDER BY minus the columns fixed by equality, its first part ascending (a
    backward scan serves the reverse)."""
    parts = tuple(sort_part(key) for key in access.sort if key.column not in equal)
    if parts and parts[0].descending:
        parts = tuple(part.flipped() for part in parts)
    return parts


def pattern_opclass(table: Table | None, column: str) -> str | None:
    """The operator class a btree needs for ``column LIKE 'abc%'``: None under the C
    collation, else the type's ``*_pattern_ops`` (``text_pattern_ops`` when unknown)."""
    found = None if table is None else next((c for c in table.columns if c.name == column), None)
    if found is None:
        return "text_pattern_ops"
    if found.collation in C_COLLATIONS:
        return None
    kind = found.type.lower()
    if kind.startswith(("character varying", "varchar")):
        return "varchar_pattern_ops"
    if kind.startswith(("character", "char", "bpchar")):
        return "bpchar_pattern_ops"
    return "text_pattern_ops"


def _range_part(access: TableAccess, column: str, table: Table | None) -> Part:
    if column not in access.prefixes:
        return Part(column)
    opclass = pattern_opclass(table, column)
    return Part(column, opclass=opclass, pattern=opclass is not None)


def _after_equality(
    access: TableAccess, equal: tuple[str, ...], table: Table | None = None
) -> tuple[Part, ...]:
    sort = _sort_parts(access, equal)
    sort_usable = bool(sort) and not set(access.in_lists) and (access.limit or bool(equal))
    ranges = [column for column in access.ranges if column not in equal]
    if ranges:
        part = _range_part(access, ranges[0], table)
        if sort_usable and sort[0].column == ranges[0] and not part.pattern:
            return sort
        if sort_usable and access.limit and equal and sort[0].column != ranges[0]:
            # equality, then the ORDER BY under a LIMIT: the scan stops after LIMIT rows in
            # order (the range filters them on the way); equality + range would read every
            # matching row and sort them (rating = 'PG' AND length > 170 ORDER BY title LIMIT 10)
            return sort
        return (part,)
    return sort if sort_usable else ()


def _capped(equal: tuple[str, ...], rest: tuple[Part, ...], max_columns: int) -> Shape:
    equal = equal[:max_columns]
    rest = rest[: max(0, max_columns - len(equal))]
    blocks: list[Block] = [equality(*equal)] if equal else []
    blocks.extend(fixed(part) for part in rest)
    return tuple(blocks)


COVERING_EXTRA = 2  # columns a covering option may add past the key


def _with_reads(shape: Shape, reads: tuple[str, ...] | None, max_columns: int) -> Shape | None:
    """``shape`` with the other columns the access reads appended, for an index-only scan;
    None when the reads are unknown, there is nothing to add, or too much."""
    if reads is None:
        return None
    have = {part.column for part in key_parts(shape)}
    extra = [column for column in reads if column not in have]
    if not extra or len(extra) > COVERING_EXTRA or width(shape) + len(extra) > max_columns + 2:
        return None
    return (*shape, equality(*extra))


def options(
    access: TableAccess,
    *,
    statistics: Statistics | None = None,
    max_columns: int = 3,
    table: Table | None = None,
) -> list[tuple[Shape, Purpose]]:
    """The shapes besides ``candidates``' that may serve ``access`` as well or better, for
    the planner to price (``--validate``); none for a write target."""
    if access.write:
        return []
    equal = ordered_equality(access, statistics)
    rest = _after_equality(access, equal, table)
    primary = _capped(equal, rest, max_columns)
    found: dict[Shape, Purpose] = {}
    if primary:
        purpose = Purpose.filter if equal or access.ranges else Purpose.sort
        if width(primary) > 1:  # the leading column alone: a pair may not pay for itself
            first = key_parts(primary)[0]
            found[(equality(first.column),) if equal else (fixed(first),)] = purpose
        ranges = [column for column in access.ranges if column not in equal]
        sort = _sort_parts(access, equal)
        if equal and ranges and sort and access.limit and not set(access.in_lists):
            ranged = (_range_part(access, ranges[0], table),)
            found[_capped(equal, ranged, max_columns)] = Purpose.filter
            found[_capped(equal, sort, max_columns)] = Purpose.filter
        covering = _with_reads(primary, access.reads, max_columns)
        if covering is not None:
            found[covering] = purpose
    elif access.group and not access.joins:
        grouped = (equality(*access.group[:max_columns]),)
        found[grouped] = Purpose.group
        covering = _with_reads(grouped, access.reads, max_columns)
        if covering is not None:
            found[covering] = Purpose.group
    for column in _unique(access.joins):
        covering = _with_reads((equality(column),), access.reads, max_columns)
        if covering is not None:
            found.setdefault(covering, Purpose.join_key)
        if equal and column not in equal:  # the filter, then the join column
            found.setdefault(_capped((*equal, column), (), max_columns + 1), Purpose.filter)
    found.pop(primary, None)
    return list(found.items())


def _covered(
    access: TableAccess, shape: Shape, rest: tuple[Part, ...], max_columns: int
) -> tuple[str, ...]:
    """The columns to append for an index-only scan: a key ending with a range reads many
    rows, and when the statement reads one or two more columns of the table (and the key
    stays within ``max_columns``), the heap need not be visited (``amount > 10`` reading
    ``customer_id``: ``(amount, customer_id)``). None for a point lookup, a sort, a LIKE
    prefix, a write, or unknown reads (``*``)."""
    if not rest or rest[-1].ordered or rest[-1].pattern or access.reads is None:
        return ()
    have = {part.column for part in key_parts(shape)}
    extra = tuple(column for column in access.reads if column not in have)
    if not extra or len(extra) > COVERING_EXTRA or width(shape) + len(extra) > max_columns:
        return ()
    return extra


def candidates(
    access: TableAccess,
    statement: Statement,
    *,
    statistics: Statistics | None = None,
    max_columns: int = 3,
    table: Table | None = None,
) -> list[Candidate]:
    """The filter candidate (if the access filters or sorts) and one per join column.
    ``table`` (the catalog's) gives a LIKE prefix's column type and collation."""
    equal = ordered_equality(access, statistics)
    rest = _after_equality(access, equal, table)
    found: list[Candidate] = []
    shape = _capped(equal, rest, max_columns)
    covered = _covered(access, shape, rest, max_columns)
    bare = shape
    if covered:  # read columns, in any order: a free block
        shape = (*shape, equality(*covered))
    if shape:
        purpose = Purpose.filter if equal or access.ranges else Purpose.sort
        first = next((key for key in access.sort if key.column not in equal), None)
        sorted_ = any(p.ordered for p in rest)
        flipped = first is not None and first.descending and sorted_
        # Reached through a join (a LATERAL subquery, a nested loop's inner side), the join
        # column is one more equality before the sort.
        alternatives = tuple(
            _capped((column, *equal), rest, max_columns)
            for column in _unique(access.joins)
            if sorted_ and column not in equal
        )
        if covered:  # an existing index on the bare key serves it well enough
            alternatives = (bare, *alternatives)
        found.append(
            Candidate(
                access.table,
                shape,
                purpose,
                statement,
                access.limit,
                flipped,
                alternatives,
                covering=covered,
                literals=access.literals,
            )
        )
    composites = [columns for columns in access.join_sets if len(columns) > 1]
    composite = {column for columns in composites for column in columns}
    alone = {columns[0] for columns in access.join_sets if len(columns) == 1}
    for columns in composites:  # joined to one table on several columns: one key
        keys = columns[:max_columns]
        others = tuple(c for c in equal if c not in keys)[: max(0, max_columns - len(keys))]
        blocks = (equality(*keys), equality(*others)) if others else (equality(*keys),)
        found.append(Candidate(access.table, blocks, Purpose.join_key, statement))
    for column in _unique(access.joins):
        if column in covered:
            continue  # the covering index hands it to the join (a semi-join's output)
        if column in composite and column not in alone:
            continue  # only ever joined with the others: the composite key serves it
        others = tuple(c for c in equal if c != column)[: max(0, max_columns - 1)]
        blocks = (equality(column), equality(*others)) if others else (equality(column),)
        found.append(Candidate(access.table, blocks, Purpose.join_key, statement))
    return found
