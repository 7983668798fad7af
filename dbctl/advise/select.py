"""Workload-level selection: the fewest indexes for the most time saved, by the planner.

The pool is every suggestion and every other shape an access could use (``Advice.
alternatives``), each a hypothetical index the planner can price. The selection is a greedy
set cover in the manner of pganalyze's indexing engine:

1. each round prices, for every index not yet chosen, the workload with the chosen ones
   plus that one (only the statements on its table are planned again, and only when a
   choice changed one of them: the other prices are exact, not bounds);
2. the best is the one that removes the most workload cost, net of its write overhead;
   any index leaving at most ``tolerance`` more cost than the best leaves on the
   statements it serves is *good enough*, and the smallest of those is taken
   (a single column the planner uses almost as well as a pair, ``(amount)`` when the
   covering ``(amount, customer_id)`` saves nearly nothing more);
3. an index is taken only when it *pays*: the planner uses it and it cuts at least
   ``min_savings`` of one statement's cost, or a smaller cut of a statement that takes a
   large share of the workload's time (planner cost understates that gain);
4. it stops when nothing pays or a budget is reached (``max_indexes``, ``max_size``:
   a candidate that does not fit is passed over for a smaller one);
5. then two chosen indexes on one table are replaced by one index of the pool that is
   smaller than the two together (a key both statements' searches lead with: the join key
   ``(l_partkey, l_suppkey)`` for a covering ``(l_partkey, l_quantity)`` beside
   ``(l_suppkey, l_partkey)``) while the whole workload costs at most ``consolidation``
   more than the greedy's set and every statement an index served still gets a cut that
   pays: fewer indexes and less space for a cost within the planner's margin of error.
   The replacement with the least added cost first, until none fits.

A statement's cost is its planner cost, in time when the statement carries it (calls x mean
time from pg_stat_statements or a log: the planner's cost cut, as a share, of its time).
The write overhead of an index (timed workloads only) is the time its table's writes take
in the window, scaled by the index's size against the table's: a bigger entry per row
costs more per write.

Pure: the planner is behind ``Planner``, so the selection is tested without a server and
``whatif`` runs it with HypoPG.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dbctl.access.model import Statement

TOLERANCE = 0.05  # good enough: within 5% of the best choice's remaining workload cost
# An index fewer, and its space, are worth this share of the workload's planner cost
# (planner estimates are rarely closer than that to the time a plan takes).
CONSOLIDATION = 0.10
CONSOLIDATE_AT_MOST = 6  # chosen indexes on one table: its pairs (15) times its options
HEAVY_SHARE = 0.10  # a statement taking this share of all the time is worth a smaller cut
HEAVY_MIN_SAVINGS = 0.05
NEGLIGIBLE = 1e-9
MAX_PLANS = 10_000  # EXPLAINs the selection may ask (~1 ms each): then it stops, and says so


@dataclass(frozen=True, slots=True)
class Option:
    """One index the planner may use: its statements are those on its table."""

    id: int
    table: str
    size_bytes: int
    statements: tuple[str, ...]  # keys of the statements it may serve
    primary: bool  # a suggestion of the static advice (else another shape)
    overhead: float = 0.0  # write overhead, in the workload's cost unit


@dataclass(frozen=True, slots=True)
class Priced:
    cost: float
    used: frozenset[int]  # the options the plan uses


# Plans ``statement`` with exactly the options ``chosen`` (hypothetically) present.
Planner = Callable[[str, frozenset[int]], Priced | None]


@dataclass
class Selection:
    chosen: list[int] = field(default_factory=list)
    costs: dict[str, Priced] = field(default_factory=dict)  # with the chosen set
    baseline: dict[str, Priced] = field(default_factory=dict)  # with no option
    over_budget: list[int] = field(default_factory=list)  # would pay, did not fit
    # For each primary left out: its statements' costs with the chosen set, then with it too.
    left_out: dict[int, dict[str, tuple[Priced, Priced]]] = field(default_factory=dict)
    priced: int = 0  # plans asked of the planner
    truncated: bool = False  # stopped at max_plans: the options not chosen were not all priced


def weight(statement: Statement, baseline: float, occurrences: int = 1) -> float:
    """What one unit of planner cost is worth: the statement's time per unit of its baseline
    cost when it is timed, else how often it occurs (planner cost is the planner's time
    estimate for one run)."""
    total = statement.total_time_ms
    if total is None or baseline <= 0:
        return float(max(occurrences, 1))
    return total / baseline


def timed(statements: Sequence[Statement]) -> bool:
    return bool(statements) and all(s.total_time_ms is not None for s in statements)


class _Workload:
    def __init__(
        self,
        options: Sequence[Option],
        statements: Mapping[str, Statement],
        planner: Planner,
    ) -> None:
        self.options = {option.id: option for option in options}
        self.statements = statements
        self.planner = planner
        self.on_table: dict[str, list[int]] = {}
        for option in options:
            self.on_table.setdefault(option.table, []).append(option.id)
        self.tables_of: dict[str, set[str]] = {}
        for option in options:
            for key in option.statements:
                self.tables_of.setdefault(key, set()).add(option.table)
        self.cache: dict[tuple[str, frozenset[int]], Priced | None] = {}
        self.asked = 0
        self.timed = timed(list(statements.values()))

    def relevant(self, key: str, chosen: frozenset[int]) -> frozenset[int]:
        tables = self.tables_of.get(key, set())
        return frozenset(i for i in chosen if self.options[i].table in tables)

    def price(self, key: str, chosen: frozenset[int]) -> Priced | None:
        cache_key = (key, self.relevant(key, chosen))
        if cache_key not in self.cache:
            self.asked += 1
            self.cache[cache_key] = self.planner(key, cache_key[1])
        return self.cache[cache_key]


def _pays(
    statement: Statement,
    current: Priced,
    after: Priced,
    option: int,
    min_savings: float,
) -> bool:
    if option not in after.used or current.cost <= 0:
        return False
    cut = (current.cost - after.cost) / current.cost
    if cut >= min_savings:
        return True
    share = statement.share or 0.0
    return share >= HEAVY_SHARE and cut >= min(HEAVY_MIN_SAVINGS, min_savings)


class _Greedy:
    """The chosen set, the statements' costs with it, and each option's effect on them
    (workload cost removed net of overhead, whether it pays, the new costs), cached until
    a choice changes one of its statements."""

    def __init__(
        self,
        work: _Workload,
        baseline: dict[str, Priced],
        min_savings: float,
        occurrences: Mapping[str, int],
    ):
        self.work = work
        self.min_savings = min_savings
        self.current = dict(baseline)
        self.scale = {
            k: weight(work.statements[k], p.cost, occurrences.get(k, 1))
            for k, p in baseline.items()
        }
        self.chosen: frozenset[int] = frozenset()
        self.effects: dict[int, tuple[float, bool, dict[str, Priced]]] = {}
        self.stale: dict[int, float] = {}  # bounds of options a substitute's choice changed
        # Each option's last prices per statement, and the statements a choice changed since
        # (only those are planned again: the others' costs did not move)
        self.priced: dict[int, dict[str, Priced]] = {}
        self.dirty: dict[int, set[str]] = {}

    def effect(self, option: Option) -> tuple[float, bool, dict[str, Priced]]:
        found = self.effects.get(option.id)
        if found is not None:
            return found
        removed, pays, after = 0.0, False, {}
        known = self.priced.setdefault(option.id, {})
        dirty = self.dirty.pop(option.id, None)
        for key in option.statements:
            if key not in self.current:
                continue
            if key in known and (dirty is not None and key not in dirty):
                priced: Priced | None = known[key]  # a choice since changed other statements
            else:
                priced = self.work.price(key, self.chosen | {option.id})
            if priced is None:
                continue
            known[key] = after[key] = priced
            removed += (self.current[key].cost - priced.cost) * self.scale[key]
            statement = self.work.statements[key]
            pays = pays or _pays(statement, self.current[key], priced, option.id, self.min_savings)
        found = self.effects[option.id] = (removed - option.overhead, pays, after)
        return found

    def restart(self, chosen: frozenset[int], current: dict[str, Priced]) -> None:
        """From ``chosen`` and its costs, with nothing known of any option."""
        self.chosen, self.current = chosen, dict(current)
        self.effects.clear()
        self.stale.clear()
        self.priced.clear()
        self.dirty.clear()

    def value(self, option: Option) -> float:
        """What ``option`` is known to remove: its effect when fresh (nothing when it does not
        pay), else a bound: its last effect when only a substitute on its own table was
        taken since (a cut can only shrink then), else unknown (infinite: price it)."""
        found = self.effects.get(option.id)
        if found is not None:
            return found[0] if found[1] else -math.inf
        return self.stale.get(option.id, math.inf)

    def best(self, options: list[Option], tolerance: float) -> Option | None:
        """The smallest option within ``tolerance`` of the best, pricing only those whose
        bound could reach it (lazy greedy); None when nothing pays."""
        while True:
            top = max(options, key=self.value, default=None)
            if top is None or self.value(top) <= NEGLIGIBLE:
                return None
            if top.id in self.effects:
                break
            self.effect(top)
        best, _, best_after = self.effect(top)
        # What the best leaves of the statements it serves: another option is good enough
        # when it leaves at most ``tolerance`` more of that.
        left = sum(priced.cost * self.scale[key] for key, priced in best_after.items())
        floor = best - tolerance * left - NEGLIGIBLE
        for option in options:
            if option.id not in self.effects and self.value(option) >= floor:
                self.effect(option)
        good = [o for o in options if o.id in self.effects and self.value(o) >= floor]
        return min(good, key=lambda o: (o.size_bytes, not o.primary, -self.value(o), o.id))

    def paying(self, options: list[Option]) -> list[Option]:
        """The options that pay now (each priced): for the over-budget note."""
        return [o for o in options if self.effect(o)[1] and self.effect(o)[0] > NEGLIGIBLE]

    def take(self, option: Option, remaining: list[Option]) -> None:
        after = self.effect(option)[2]
        changed = {
            key
            for key, priced in after.items()
            if priced.cost != self.current[key].cost or option.id in priced.used
        }
        self.chosen = self.chosen | {option.id}
        self.current.update(after)
        for other in remaining:
            touched = changed.intersection(other.statements)
            if touched:
                if other.id in self.dirty or other.id in self.effects:
                    self.dirty.setdefault(other.id, set()).update(touched)
                found = self.effects.pop(other.id, None)
                self.stale.pop(other.id, None)
                if found is not None and other.table == option.table:
                    # a substitute was taken: its cut can only shrink (a bound); an index
                    # on another table may complement it (a join path): price it again
                    self.stale[other.id] = found[0] if found[1] else -math.inf


def select(
    options: Sequence[Option],
    statements: Mapping[str, Statement],
    planner: Planner,
    *,
    min_savings: float = 0.30,
    tolerance: float = TOLERANCE,
    consolidation: float = CONSOLIDATION,
    max_indexes: int | None = None,
    max_size: int | None = None,
    occurrences: Mapping[str, int] | None = None,
    max_plans: int = MAX_PLANS,
) -> Selection:
    """The options to create, greedily, with every statement's cost with them.
    ``occurrences`` (statement key -> count) weighs untimed statements by frequency."""
    work = _Workload(options, statements, planner)
    result = Selection()
    for key in statements:
        found = work.price(key, frozenset())
        if found is not None:
            result.baseline[key] = found
    greedy = _Greedy(work, result.baseline, min_savings, occurrences or {})
    remaining = list(options)
    size = 0
    while remaining:
        if work.asked > max_plans:  # a workload too large to price whole: say so, stop
            result.truncated = True
            break
        fits = [o for o in remaining if max_size is None or size + o.size_bytes <= max_size]
        full = max_indexes is not None and len(result.chosen) >= max_indexes
        pick = None if full else greedy.best(fits, tolerance)
        if pick is None:
            result.over_budget += [o.id for o in greedy.paying(remaining) if full or o not in fits]
            break
        result.chosen.append(pick.id)
        size += pick.size_bytes
        remaining = [o for o in remaining if o.id != pick.id]
        greedy.take(pick, remaining)
    result.chosen = _still_used(work, result.chosen, greedy.current)
    if not result.truncated:
        result.chosen = _consolidated(
            work, greedy.scale, result.chosen, tolerance=consolidation, max_plans=max_plans
        )
    final = frozenset(result.chosen)
    result.costs = {k: p for k in result.baseline if (p := work.price(k, final)) is not None}
    if not result.truncated:  # what each suggestion left out would add to the final set
        greedy.restart(final, result.costs)
        for option in options:
            if option.primary and option.id not in final:
                after = greedy.effect(option)[2]
                result.left_out[option.id] = {k: (result.costs[k], p) for k, p in after.items()}
    result.priced = work.asked
    return result


def _still_used(work: _Workload, chosen: list[int], current: dict[str, Priced]) -> list[int]:
    """The chosen options some final plan uses (a later choice may have taken over)."""
    kept = list(chosen)
    for _ in range(len(chosen)):
        final = frozenset(kept)
        used: set[int] = set()
        for key in current:
            priced = work.price(key, final)
            if priced is not None:
                used |= priced.used
        unused = [i for i in kept if i not in used]
        if not unused:
            break
        kept = [i for i in kept if i in used]
    return kept


def _consolidated(
    work: _Workload,
    scale: Mapping[str, float],
    chosen: list[int],
    *,
    tolerance: float,
    max_plans: int,
) -> list[int]:
    """``chosen`` with pairs on one table replaced by one smaller option of the pool while
    the workload's cost stays within ``tolerance`` of the greedy set's (see the module) and
    every statement that used either of the pair uses it (a pair is consolidated, not one
    of its statements left without an index)."""

    def total(keys: Sequence[str], present: frozenset[int]) -> float | None:
        cost = 0.0
        for key in keys:
            priced = work.price(key, present)
            if priced is None:
                return None
            cost += priced.cost * scale.get(key, 1.0)
        return cost

    keys = [k for k in work.statements if k in scale]
    start = total(keys, frozenset(chosen))
    if start is None or start <= 0:
        return chosen
    ceiling = start * (1 + tolerance)
    current, now = list(chosen), start
    while work.asked <= max_plans:
        best: tuple[float, int, list[int]] | None = None
        present = frozenset(current)
        for table, ids in work.on_table.items():
            mine = [i for i in current if i in ids]
            if not 2 <= len(mine) <= CONSOLIDATE_AT_MOST or work.asked > max_plans:
                continue
            on_table = [k for k in keys if table in work.tables_of.get(k, ())]
            users = {i: _users(work, on_table, present, i) for i in mine}
            for n, one in enumerate(mine):
                for other in mine[n + 1 :]:
                    pair = work.options[one].size_bytes + work.options[other].size_bytes
                    rest = [i for i in current if i not in (one, other)]
                    served = users[one] | users[other]
                    for option in ids:
                        found = work.options[option]
                        if option in rest or found.size_bytes >= pair:
                            continue
                        if not served or not served <= set(found.statements):
                            continue  # it cannot serve the pair's statements: not priced
                        trial = frozenset([*rest, option])
                        if not all(
                            (p := work.price(k, trial)) is not None and option in p.used
                            for k in served
                        ):
                            continue
                        moved = sorted(served | set(found.statements))
                        before, after = total(moved, present), total(moved, trial)
                        if before is None or after is None:
                            continue
                        cost = now - before + after
                        if cost <= ceiling and (best is None or cost < best[0]):
                            best = (cost, option, [*rest, option])
        if best is None:
            break
        now, _, current = best
    return current


def _users(work: _Workload, keys: Sequence[str], present: frozenset[int], option: int) -> set[str]:
    """The statements whose plan with ``present`` uses ``option``."""
    return {k for k in keys if (p := work.price(k, present)) is not None and option in p.used}
