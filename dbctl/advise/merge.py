"""Merge candidates on one table into a small set of indexes.

An index serves a candidate whose shape its key serves with its leading parts: one on
``(a, b)`` serves a filter on ``a``, and one on ``(customer_id, created_at)`` serves both
``customer_id = $1 ORDER BY created_at`` and a join on ``customer_id``. Candidates are
taken widest first; each joins the first group whose shape can be narrowed to serve it
too (``keys.refine``: an equality set may be split or ordered, a range part may take the
sort direction of a sort on the same column), or starts a group of its own. Narrowing
only ever removes keys from a group's shape, so every member stays served.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dbctl.advise.candidates import Candidate, Purpose
from dbctl.advise.keys import Shape, key_parts, refine, width


@dataclass
class Group:
    """One index to suggest: its shape and the candidates (statements) it serves."""

    table: str
    shape: Shape
    members: list[Candidate] = field(default_factory=list)
    columns_set: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(part.column for part in key_parts(self.shape))

    @property
    def equality_only(self) -> bool:
        """Every member only compares for equality (filters without range or sort, joins):
        then the rows the index reads can be estimated from the statistics."""
        return all(all(block.free for block in m.shape) for m in self.members)

    @property
    def purposes(self) -> set[Purpose]:
        return {member.purpose for member in self.members}


def _fold(groups: list[Group], shape: Shape, members: list[Candidate]) -> bool:
    """Into the first group whose shape can be narrowed to serve ``shape`` too: whether one
    took the members."""
    columns = frozenset(part.column for part in key_parts(shape))
    for group in groups:
        if not columns <= group.columns_set:
            continue
        narrowed = refine(group.shape, shape)
        if narrowed is not None:
            group.shape = narrowed
            group.members.extend(members)
            return True
    return False


def merge(candidates: Iterable[Candidate]) -> list[Group]:
    """Groups per table, in the order of their widest candidate (ties: input order)."""
    alike: dict[tuple[str, Shape], list[Candidate]] = {}
    for candidate in candidates:
        alike.setdefault((candidate.table, candidate.shape), []).append(candidate)
    ordered = sorted(alike.items(), key=lambda item: -width(item[0][1]))  # stable
    groups: dict[str, list[Group]] = {}
    result: list[Group] = []
    for (table, shape), members in ordered:
        columns = frozenset(part.column for part in key_parts(shape))
        tables = groups.setdefault(table, [])
        # A covering candidate whose read columns differ from every group's: a group that
        # serves its search without them takes it (one index per leading key, not one per
        # select list).
        bare = members[0].bare_shape
        if _fold(tables, shape, members) or (bare != shape and _fold(tables, bare, members)):
            continue
        group = Group(table, shape, list(members), columns)
        tables.append(group)
        result.append(group)
    return result
