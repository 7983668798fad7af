"""With statistics: drop the suggestions that would not cut the rows a statement reads.

Each filter looks at one merged group and its table and returns a ``Drop`` (the note that
says why) or None; ``FILTERS`` runs them in order and the first drop wins.

- ``small-table``: the table has fewer than ``min_rows`` rows (a ``table_rows`` hint, by
  name or ``schema.table``, wins; else ``reltuples``, a partitioned table counting its
  partitions'): one sequential scan reads it.
- ``low-selectivity``: every statement served only compares for equality, and an
  equality on the key leaves more than ``max_selectivity`` of the rows (estimated as the
  planner does for a generic plan, from ``n_distinct``, ``null_frac`` and the most common
  values), and no key column has values rare enough to make some lookups selective.
  A boolean or a three-value status alone on a big table is the typical case. A
  one-column key whose every statement looks up a constant that is a most common value
  above ``max_selectivity`` (``status = 'done'`` on 90% of the rows) is dropped too, rare
  values or not.
- ``existing-index-suffices``: equality only, and an existing index already narrows a
  lookup to at most ``enough_rows`` rows, or the new key would not halve them.

A key with a range or a sort part is always kept: what it saves depends on the values and
the LIMIT, which only ``--validate`` prices. Without statistics only the ``table_rows``
hints filter (``small-table``); the rest of the advice is structural and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbctl.advise.merge import Group
from dbctl.pg.stats import Statistics
from dbctl.rules.indexing import leading_columns
from dbctl.schema.catalog import FrozenMap, Table

if TYPE_CHECKING:
    from dbctl.advise.model import AdviceOptions


@dataclass(frozen=True)
class Limits:
    min_rows: int = 1000
    max_selectivity: float = 0.1
    enough_rows: float = 50.0
    table_rows: Mapping[str, int] = FrozenMap()  # hints, see rows_hint

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_rows", FrozenMap(self.table_rows))

    @classmethod
    def of(cls, options: AdviceOptions) -> Limits:
        return cls(
            options.min_rows, options.max_selectivity, options.enough_rows, options.table_rows
        )


def rows_hint(hints: Mapping[str, int], table: str) -> int | None:
    """The hinted rows of the qualified ``table``: by ``schema.table``, else by bare name."""
    found = hints.get(table)
    if found is None:
        found = hints.get(table.rpartition(".")[2])
    return found


@dataclass(frozen=True)
class Drop:
    rule: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


Filter = Callable[[Group, Table, Statistics, Limits], Drop | None]
HintFilter = Callable[[Group, Table, Statistics | None, Limits], Drop | None]


def _selectivity(statistics: Statistics, table: str, columns: Iterable[str]) -> float | None:
    """The share of rows an equality on all of ``columns`` keeps (independent columns)."""
    product = 1.0
    for column in columns:
        found = statistics.equality_selectivity(table, column)
        if found is None:
            return None
        product *= found
    return product


def _cols(group: Group) -> str:
    return ", ".join(group.columns)


def _common_literals(
    group: Group, statistics: Statistics, limits: Limits
) -> list[tuple[str, str, float]] | None:
    """When every statement the group serves compares its first column with a constant that
    is a most common value above ``max_selectivity`` (status = 'done' on 90% of the rows):
    those (column, value, share); else None (a parameter, a rare value: keep the index)."""
    column = group.columns[0]
    found: dict[str, float] = {}
    for member in group.members:
        values = [value for name, value in member.literals if name == column]
        if not values:
            return None
        for value in values:
            share = statistics.value_fraction(group.table, column, value)
            if share is None or share <= limits.max_selectivity:
                return None
            found[value] = share
    return [(column, value, share) for value, share in found.items()]


def small_table(
    group: Group, table: Table, statistics: Statistics | None, limits: Limits
) -> Drop | None:
    hinted = rows_hint(limits.table_rows, group.table)
    rows: float | None = hinted
    if rows is None and statistics is not None:
        rows = statistics.rows(group.table)
    if rows is None or rows >= limits.min_rows:
        return None
    evidence: dict[str, Any] = {"rows": rows, "min_rows": limits.min_rows}
    if hinted is not None:
        evidence["source"] = "table_rows"
    return Drop(
        "small-table",
        f"{group.table} has about {rows:,.0f} rows (below {limits.min_rows:,}): a sequential "
        f"scan reads it at once, no index suggested on ({_cols(group)})",
        evidence,
    )


def low_selectivity(
    group: Group, table: Table, statistics: Statistics, limits: Limits
) -> Drop | None:
    if not group.equality_only:
        return None
    common = _common_literals(group, statistics, limits) if len(group.columns) == 1 else None
    if common is not None:  # the values looked up are common, whatever the rare ones are
        shown = ", ".join(f"{column} = {value!r} ({share:.0%})" for column, value, share in common)
        return Drop(
            "low-selectivity",
            f"{group.table} ({_cols(group)}): the values the statements look up are common "
            f"({shown} of the rows): an index would not cut the rows read",
            {"values": [list(c) for c in common]},
        )
    selectivity = _selectivity(statistics, group.table, group.columns)
    if selectivity is None or selectivity <= limits.max_selectivity:
        return None
    for column in group.columns:
        rarest = statistics.rarest_fraction(group.table, column)
        if rarest is not None and rarest <= limits.max_selectivity:
            return None  # some values are rare: lookups of those are selective
    distinct = statistics.distinct_values(group.table, group.columns[0])
    return Drop(
        "low-selectivity",
        f"{group.table} ({_cols(group)}): a lookup keeps about {selectivity:.0%} of the rows "
        f"({distinct or 0:,.0f} distinct values of {group.columns[0]}), an index would not "
        "cut the rows read",
        {"selectivity": round(selectivity, 4), "distinct_values": distinct},
    )


def existing_index_suffices(
    group: Group, table: Table, statistics: Statistics, limits: Limits
) -> Drop | None:
    rows = statistics.rows(group.table)
    if not group.equality_only or rows is None:
        return None
    wanted = set(group.columns)
    new = _selectivity(statistics, group.table, group.columns)
    best: tuple[float, str] | None = None
    for index in table.indexes:
        if not index.valid or index.predicate is not None or index.method != "btree":
            continue
        served = []
        for column in leading_columns(index):
            if column not in wanted:
                break
            served.append(column)
        selectivity = _selectivity(statistics, group.table, served) if served else None
        if selectivity is not None and (best is None or selectivity < best[0]):
            best = (selectivity, index.name)
    if best is None or new is None:
        return None
    existing_rows, new_rows = rows * best[0], rows * new
    if existing_rows > limits.enough_rows and new_rows * 2 < existing_rows:
        return None
    return Drop(
        "existing-index-suffices",
        f"{group.table} ({_cols(group)}): {best[1]} already narrows a lookup to about "
        f"{math.ceil(existing_rows):,} rows; the new index would leave about "
        f"{math.ceil(new_rows):,}",
        {"index": best[1], "rows_now": round(existing_rows, 1), "rows_after": round(new_rows, 1)},
    )


FILTERS: tuple[Filter, ...] = (small_table, low_selectivity, existing_index_suffices)


WITHOUT_STATISTICS: tuple[HintFilter, ...] = (small_table,)


def apply_filters(
    groups: Iterable[tuple[Group, Table]],
    statistics: Statistics | None,
    limits: Limits,
    filters: tuple[Filter, ...] = FILTERS,
) -> tuple[list[Group], list[tuple[Group, Drop]]]:
    """The groups kept, and the ones dropped with why. Without statistics only the
    filters of ``WITHOUT_STATISTICS`` (the ``table_rows`` hints) run."""
    kept: list[Group] = []
    dropped: list[tuple[Group, Drop]] = []
    for group, table in groups:
        if statistics is None:
            drop = next(
                (d for f in WITHOUT_STATISTICS if (d := f(group, table, None, limits))), None
            )
        else:
            drop = next((d for f in filters if (d := f(group, table, statistics, limits))), None)
        if drop is None:
            kept.append(group)
        else:
            dropped.append((group, drop))
    return kept, dropped
