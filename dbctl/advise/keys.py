"""Index keys as the advisor reasons about them: parts, blocks and shapes.

What an access needs from a btree is a *shape*, a sequence of blocks:

- a free block is a set of columns compared for equality: an index may hold them in any
  order and any direction, as long as they come first (``WHERE a = 1 AND b = 2`` is served
  by ``(a, b)`` and by ``(b, a)``);
- a fixed block is one part whose place is set: a range column (any direction) or a sort
  key (its direction counts, up to a backward scan that reverses every part).

A part may need (or, in an index, offer) LIKE-prefix matching (``pattern``): outside the C
collation a plain btree cannot serve ``col LIKE 'abc%'``; a ``text_pattern_ops`` (or
varchar/bpchar) part or a C-collated one can. A ``*_pattern_ops`` part serves equality
and LIKE prefixes only, never a range or a sort; a C-collated part serves all three.

A concrete index key matches a shape when its leading parts are the first block's columns
in any order, then the second block's, and so on. ``refine(long, short)`` narrows ``long``
so that every key matching the result also serves ``short`` through its leading parts:
that is how an existing index is found to cover a candidate, and how two candidates merge
into one index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dbctl.schema.catalog import Index, Table

C_COLLATIONS = frozenset({"C", "POSIX", "ucs_basic"})
_PLAIN_KEY = re.compile(
    r'\s*(?P<column>"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)'
    r'(?:\s+COLLATE\s+(?P<collation>"[^"]+"|\w+))?'
    r"(?:\s+(?P<opclass>\w+_pattern_ops))?"
    r"(?P<direction>\s+(?:ASC|DESC)(?:\s+NULLS\s+(?:FIRST|LAST))?)?\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Part:
    """One key part. ``nulls_first`` is explicit (PostgreSQL's default equals
    ``descending``); ``ordered`` says the direction counts (a sort key)."""

    column: str
    descending: bool = False
    nulls_first: bool = False
    ordered: bool = False
    opclass: str | None = None  # a non-default operator class: text_pattern_ops
    pattern: bool = False  # needs (a candidate) or offers (an index) LIKE-prefix matching

    def flipped(self) -> Part:
        return Part(
            self.column,
            not self.descending,
            not self.nulls_first,
            self.ordered,
            self.opclass,
            self.pattern,
        )

    @property
    def pattern_only(self) -> bool:
        """A ``*_pattern_ops`` part: equality and LIKE prefixes, no range, no sort."""
        return self.opclass is not None and self.opclass.endswith("_pattern_ops")


@dataclass(frozen=True, slots=True)
class Block:
    parts: tuple[Part, ...]
    free: bool = False  # a set of equality columns, in any order and direction
    columns: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", frozenset(part.column for part in self.parts))


Shape = tuple[Block, ...]


def equality(*columns: str) -> Block:
    return Block(tuple(Part(column) for column in columns), free=True)


def fixed(part: Part) -> Block:
    return Block((part,))


def key_parts(shape: Shape) -> tuple[Part, ...]:
    """The concrete key: each block's parts in their stored order."""
    return tuple(part for block in shape for part in block.parts)


def width(shape: Shape) -> int:
    return sum(len(block.parts) for block in shape)


def flipped(shape: Shape) -> Shape:
    """``shape`` with the direction of every sort part reversed (a backward scan)."""
    return tuple(
        Block(tuple(p.flipped() if p.ordered else p for p in block.parts), block.free)
        for block in shape
    )


def _unquoted(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def _collation_in_definition(definition: str, column: str) -> str | None:
    """The COLLATE a ``pg_get_indexdef`` text gives ``column``, if any."""
    key = definition[definition.find("(") + 1 :] if "(" in definition else ""
    for match in re.finditer(r'("(?:[^"]|"")+"|\w+)\s+COLLATE\s+("[^"]+"|\w+)', key):
        if _unquoted(match.group(1)) == column:
            return _unquoted(match.group(2))
    return None


def _column_collation(table: Table | None, column: str) -> str | None:
    if table is None:
        return None
    found = next((c for c in table.columns if c.name == column), None)
    return None if found is None else found.collation


def _index_part(index: Index, k: int, table: Table | None) -> Part | None:
    """Key part ``k`` of ``index`` as a fixed, ordered part; None for an expression."""
    column = index.columns[k]
    opclass = index.opclasses[k] if k < len(index.opclasses) else None
    collation = None
    if index.expressions[k]:
        match = _PLAIN_KEY.fullmatch(column)
        if match is None or match.group("direction"):
            return None
        column = _unquoted(match.group("column"))
        opclass = match.group("opclass") or opclass
        if match.group("collation"):
            collation = _unquoted(match.group("collation"))
    else:
        collation = _collation_in_definition(index.definition, column)
    if opclass is not None and not opclass.lower().endswith("_pattern_ops"):
        opclass = None  # other classes: not a concern of btree advice
    if collation is None:
        collation = _column_collation(table, column)
    pattern = opclass is not None or collation in C_COLLATIONS
    opclass = opclass.lower() if opclass else None
    return Part(column, index.descending[k], index.nulls_first[k], True, opclass, pattern)


def index_shape(index: Index, table: Table | None = None) -> Shape:
    """An index's plain-column leading key parts as fixed, ordered parts. A part with a
    ``*_pattern_ops`` class, or whose collation (the index's, else the column's) is C,
    offers LIKE-prefix matching; a key written ``title text_pattern_ops`` or
    ``title COLLATE "C"`` (as the DDL reader keeps it) is read as that column."""
    blocks: list[Block] = []
    for k in range(len(index.columns)):
        part = _index_part(index, k, table)
        if part is None:
            break
        blocks.append(fixed(part))
    return tuple(blocks)


def _meet(long: Part, short: Part) -> Part | None:
    """The part that serves both, if any: same column, and same direction when both count."""
    if long.column != short.column:
        return None
    if short.pattern and not long.pattern:
        return None  # a LIKE prefix needs a pattern_ops or C-collated part
    if long.pattern_only and not short.pattern:
        return None  # a pattern_ops part serves equality and LIKE prefixes only
    if long.ordered and short.ordered:
        same = (long.descending, long.nulls_first) == (short.descending, short.nulls_first)
        return long if same else None
    return long if long.ordered else short


def _refine(long: Shape, short: Shape) -> Shape | None:
    blocks = list(long)
    out: list[Block] = []
    at = 0
    for want in short:
        if not want.free:
            if at >= len(blocks):
                return None
            part, have = want.parts[0], blocks[at]
            if have.free:
                if part.column not in have.columns:
                    return None
                out.append(fixed(part))
                rest = tuple(p for p in have.parts if p.column != part.column)
                if rest:
                    blocks[at] = Block(rest, free=True)
                else:
                    at += 1
            else:
                met = _meet(have.parts[0], part)
                if met is None:
                    return None
                out.append(fixed(met))
                at += 1
            continue
        need = set(want.columns)
        while need:
            if at >= len(blocks):
                return None
            have = blocks[at]
            if have.columns <= need:
                out.append(have)
                need -= have.columns
                at += 1
            elif have.free and need <= have.columns:
                out.append(Block(tuple(p for p in have.parts if p.column in need), free=True))
                blocks[at] = Block(tuple(p for p in have.parts if p.column not in need), True)
                need.clear()
            else:
                return None
    return (*out, *blocks[at:])


def refine(long: Shape, short: Shape) -> Shape | None:
    """``long`` narrowed so that its keys also serve ``short`` with their leading parts,
    or None when no key of ``long`` can (``short``'s sort may run either way)."""
    refined = _refine(long, short)
    if refined is None and any(p.ordered for block in short for p in block.parts):
        refined = _refine(long, flipped(short))
    return refined


def serves(key: Shape, shape: Shape) -> bool:
    """Whether the concrete ``key`` (an index's, see ``index_shape``), scanned forward or
    backward, serves ``shape`` with its leading parts."""
    return refine(key, shape) is not None
