"""Whether an existing index already serves a candidate, or an unservable predicate.

A btree covers a candidate when its leading plain-column key parts serve the candidate's
shape (``keys.serves``: the equality columns in any order, then the rest in order, the
sort either way); primary keys and unique indexes count like any other. A ``LIKE 'abc%'``
part wants a ``*_pattern_ops`` or C-collated key part (``keys``). A hash index
covers a single-column equality only. A partial index counts only when the statement's
filters imply its predicate (``predicates.implies``); the columns the predicate pins to
one value then need not be in its key. INVALID indexes never count, nor
do GIN, GiST, BRIN... for a btree candidate.

An unservable predicate is covered by an expression index on the same expression (a
``function`` predicate), or by a pg_trgm GIN/GiST index on the column (a
``leading-wildcard`` LIKE); a negation by nothing.

A unique btree on plain columns that the access compares for equality (``=`` or IN, not
IS NULL: NULLs are not unique) returns at most one row per lookup, so it serves the whole
access, whatever else the statement filters or sorts: no wider index is wanted (a partial
one counts when the statement implies its predicate).
"""

from __future__ import annotations

from dbctl.access.model import Reason, TableAccess, Unservable
from dbctl.advise.candidates import Candidate
from dbctl.advise.keys import Block, Shape, index_shape, serves
from dbctl.advise.predicates import expression_matches, fixed_columns, implies
from dbctl.schema.catalog import Index, Table


def _predicate_holds(index: Index, access: TableAccess, statement: str) -> bool:
    return index.predicate is None or implies(index.predicate, access, statement)


def _serves(index: Index, shape: Shape, key: Shape | None = None) -> bool:
    """Whether ``index`` (whose ``index_shape`` is ``key``, when known) serves ``shape``."""
    if index.method == "hash":
        return (
            len(shape) == 1
            and shape[0].free
            and len(shape[0].parts) == 1
            and not index.expressions[0]
            and index.columns[0] == shape[0].parts[0].column
        )
    return index.method == "btree" and serves(key or index_shape(index), shape)


def _without(shape: Shape, columns: frozenset[str]) -> Shape:
    """``shape`` less the equality columns a partial index's predicate pins."""
    blocks = []
    for block in shape:
        kept = Block(tuple(p for p in block.parts if p.column not in columns), free=True)
        if not block.free:
            blocks.append(block)
        elif kept.parts:
            blocks.append(kept)
    return tuple(blocks)


def _partial_serves(index: Index, key: Shape, candidate: Candidate, access: TableAccess) -> bool:
    """A partial index serves the candidate when the statement implies its predicate and
    its key serves what the predicate does not pin (nothing left: a scan of it all)."""
    assert index.predicate is not None
    rest = _without(candidate.coverage_shape, fixed_columns(index.predicate))
    if rest and not _serves(index, rest, key):
        return False
    return implies(index.predicate, access, candidate.statement.text)


def _trigram(index: Index, column: str) -> bool:
    return (
        index.method in ("gin", "gist")
        and column in index.columns
        and any(opclass is not None and "trgm" in opclass for opclass in index.opclasses)
    )


def _gin_on(index: Index, column: str) -> bool:
    """A GIN index on ``column`` (any operator class; the DDL reader keeps "col opclass")."""
    return index.method == "gin" and any(
        key == column or key.split(" ", 1)[0] == column for key in index.columns
    )


def _gin_serves(index: Index, item: Unservable) -> bool:
    """A trigram index for a leading wildcard, a GIN index for containment."""
    if item.reason is Reason.leading_wildcard:
        return _trigram(index, item.column)
    return item.reason is Reason.containment and _gin_on(index, item.column)


def unservable_covered_by(
    table: Table, item: Unservable, access: TableAccess, statement: str
) -> Index | None:
    """The expression or trigram index that serves an unservable predicate, if any."""
    for index in table.indexes:
        if not index.valid or not _predicate_holds(index, access, statement):
            continue
        if item.reason is Reason.function:
            expression = index.method in ("btree", "hash") and index.expressions[0]
            if expression and expression_matches(index.columns[0], item.expression):
                return index
        elif _gin_serves(index, item):
            return index
    return None


def _pinned(candidate: Candidate, access: TableAccess) -> frozenset[str]:
    """The columns the candidate's leading equality blocks fix to one value per lookup
    (a join column too: one value per outer row); IS NULL alone does not."""
    columns: set[str] = set()
    for block in candidate.shape:
        if not block.free:
            break
        columns |= block.columns
    return frozenset(columns - (set(access.nulls) - set(access.equality)))


def unique_lookup(table: Table, candidate: Candidate, access: TableAccess) -> Index | None:
    """A valid unique btree on plain columns all pinned by equality: at most one row."""
    pinned = _pinned(candidate, access)
    if not pinned:
        return None
    for index in table.indexes:
        if (
            index.unique
            and index.valid
            and index.method == "btree"
            and not any(index.expressions)
            and set(index.columns) <= pinned
            and _predicate_holds(index, access, candidate.statement.text)
        ):
            return index
    return None


class Coverage:
    """Which index covers a candidate, with a memory: a whole-table index serves a shape
    whatever the statement, so that answer is kept per (table, shape); partial indexes are
    checked against each statement."""

    def __init__(self) -> None:
        self._plain: dict[tuple[str, Shape], Index | None] = {}
        self._keys: dict[int, Shape] = {}  # index_shape by id(index): the catalog lives on

    def _key(self, index: Index, table: Table) -> Shape:
        found = self._keys.get(id(index))
        if found is None:
            found = self._keys[id(index)] = index_shape(index, table)
        return found

    def index_for(self, table: Table, candidate: Candidate, access: TableAccess) -> Index | None:
        """The first valid index of ``table`` that serves ``candidate``, if any."""
        unique = unique_lookup(table, candidate, access)
        if unique is not None:
            return unique
        for shape in candidate.coverage_shapes:
            found = self._plain_index(table, shape)
            if found is not None:
                return found
        return next(
            (
                index
                for index in table.indexes
                if index.valid
                and index.predicate is not None
                and _partial_serves(index, self._key(index, table), candidate, access)
            ),
            None,
        )

    def _plain_index(self, table: Table, shape: Shape) -> Index | None:
        key = (table.qualified_name, shape)
        if key not in self._plain:
            self._plain[key] = next(
                (
                    index
                    for index in table.indexes
                    if index.valid
                    and index.predicate is None
                    and _serves(index, shape, self._key(index, table))
                ),
                None,
            )
        return self._plain[key]

    def unservable_index(
        self, table: Table, item: Unservable, access: TableAccess, statement: str
    ) -> Index | None:
        return unservable_covered_by(table, item, access, statement)
