"""The data that flows from the statement sources through sqlglot to the index advisor.

``Statement`` is one SQL statement with where it came from; ``AccessPattern`` is what one
statement does to each table it reads or writes: the columns it compares with constants
(equality, IN lists, IS NULL), the range filters, the columns it joins on, the sort with or
without a LIMIT, the grouping, and what no btree can serve. Everything is frozen and
hashable; analysis code takes these, never a connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement and its origin."""

    text: str
    source: str  # a file path, "-" for stdin, "pg_stat_statements", or a capture log path
    line: int | None = None  # 1-based line of the statement's first token in ``source``
    queryid: int | None = None  # pg_stat_statements' queryid
    calls: int | None = None
    total_time_ms: float | None = None
    share: float | None = None  # share of all statements' total time, 0..1
    fingerprint: str = ""  # equal for statements that differ only in literals


class Kind(StrEnum):
    select = "select"
    update = "update"
    delete = "delete"
    insert = "insert"
    other = "other"


class Reason(StrEnum):
    function = "function"  # lower(email) = $1 with no matching expression index
    leading_wildcard = "leading-wildcard"  # name LIKE '%son'
    negation = "negation"  # status <> 'x', NOT IN: a btree rarely helps
    containment = "containment"  # data @> '{"k": 1}', tags @> ARRAY['a']: a GIN index


@dataclass(frozen=True, slots=True)
class Unservable:
    """A predicate on a column that no plain btree on the column can serve."""

    column: str
    expression: str  # the predicate's SQL, e.g. "lower(email) = $1"
    reason: Reason
    remedy: str  # e.g. "CREATE INDEX ... ON t (lower(email))" or a pg_trgm GIN index


@dataclass(frozen=True, slots=True)
class SortKey:
    column: str
    descending: bool = False
    nulls_first: bool | None = None  # None: PostgreSQL's default for the direction


@dataclass(frozen=True, slots=True)
class TableAccess:
    """How one statement reaches one base table (aliases, CTEs and views resolved).

    Column names are unquoted as PostgreSQL stores them (lower case unless quoted).
    ``equality`` holds columns compared with ``=`` to a constant or parameter, ``IN`` lists
    (``in_lists``) and ``IS NULL`` (``nulls``) are listed there too and again in their own
    field. ``joins`` are this table's columns in equi-joins with other tables (ON, USING,
    or written in WHERE), whichever side drives. ``sort`` is the ORDER BY when every key is
    a column of this table; ``limit`` says whether a LIMIT/FETCH bounds it. ``reads`` is
    every column of this table the statement reads (select list, filters, joins, sorts,
    grouping), for a covering index; None when that cannot be told (``*``, a whole-row
    reference, the target of an UPDATE or DELETE, which visits the heap anyway).
    ``join_sets`` are the columns joined to each other table, one set per table (two
    columns, ``l_partkey = ps_partkey AND l_suppkey = ps_suppkey``, make a composite key).
    """

    table: str  # qualified: "public.orders"
    equality: tuple[str, ...] = ()
    in_lists: tuple[str, ...] = ()
    nulls: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    joins: tuple[str, ...] = ()
    sort: tuple[SortKey, ...] = ()
    limit: bool = False
    group: tuple[str, ...] = ()
    unservable: tuple[Unservable, ...] = ()
    write: bool = False  # the UPDATE or DELETE target (its WHERE is the filter)
    prefixes: tuple[str, ...] = ()  # LIKE 'abc%' columns (also in ranges)
    reads: tuple[str, ...] | None = None
    join_sets: tuple[tuple[str, ...], ...] = ()  # the columns joined to each other table
    literals: tuple[tuple[str, str], ...] = ()  # (column, constant) of an equality's literal


@dataclass(frozen=True, slots=True)
class AccessPattern:
    """What one statement does to the tables it touches."""

    statement: Statement
    kind: Kind
    accesses: tuple[TableAccess, ...] = ()
    unknown_tables: tuple[str, ...] = ()  # names the catalog does not know
    error: str | None = None  # the parse error, when the statement does not parse
    notes: tuple[str, ...] = field(default=())
