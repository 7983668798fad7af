"""``dbctl top-queries``: the costliest statements of a database, held to the DB objective.

``top_queries(settings, url, options)`` is the one library function of the command (the
CLI, the tests and any other caller use it): it reads pg_stat_statements once
(``dbctl.stats.statements``), optionally takes the window since a snapshot
(``dbctl.stats.snapshots``), and ``analyse`` (pure) sorts, limits and holds every statement
to the objective. A statement whose mean (planning + execution per call) is above
``slo_ms`` is an ``slo-breach`` error finding. Breaches that are not listed (beyond
``--limit``, or of hidden statements) are still findings, so the gate does not depend on
``--limit`` or on what the role may see.

When the role sees the text of no statement at all while other roles' statements exist,
the command cannot do its job: ``PrivilegeMissing`` (exit 2) names the GRANT. When it sees
some, the hidden ones are a note: counted, their time in the totals and the shares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConfigError, PrivilegeMissing
from dbctl.report import FailOn, Finding, Report, Severity, one_line
from dbctl.stats.snapshots import (
    Counters,
    Snapshot,
    SnapshotWindow,
    exists,
    load,
    save,
    snapshot_dir,
    snapshot_path,
    window,
)
from dbctl.stats.statements import (
    SORTS,
    StatsRead,
    StatsRow,
    quote_role,
    sort_key,
)

if TYPE_CHECKING:
    from dbctl.config import Settings

COMMAND = "top-queries"
RULE = "slo-breach"

# Index advice for the listed statements, by queryid (check-indexes plugs in here).
Advise = Callable[[list[StatsRow]], dict[int, list[Finding]]]


@dataclass(frozen=True)
class TopOptions:
    sort: str = "total"  # one of SORTS
    limit: int = 20
    min_calls: int = 0
    all_levels: bool = False  # include statements nested in functions
    save: str | None = None  # snapshot name to save
    since: str | None = None  # snapshot name to compare with
    reset: bool = False  # reset this database's statistics after reading them
    advise: Advise | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ConfigError(f"--sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, not {self.limit}")
        if self.min_calls < 0:
            raise ConfigError(f"--min-calls must be 0 or more, not {self.min_calls}")


@dataclass(frozen=True)
class TopRow:
    """A listed statement: its figures, its share of all time, its verdict."""

    stats: StatsRow
    share: float
    breach: bool
    new: bool = False  # window: not in the snapshot
    reset: bool = False  # window: counters went down since the snapshot
    advice: tuple[Finding, ...] = ()

    def figures(self) -> dict[str, Any]:
        s = self.stats
        return {
            "calls": s.calls,
            "total_ms": s.total_ms,
            "plan_ms": s.plan_ms,
            "exec_ms": s.exec_ms,
            "mean_ms": s.mean_ms,
            "mean_plan_ms": s.mean_plan_ms,
            "mean_exec_ms": s.mean_exec_ms,
            "max_ms": s.max_ms,
            "stddev_ms": s.stddev_ms,
            "variation": s.variation,
            "rows": s.rows,
            "rows_per_call": s.rows_per_call,
            "shared_blks_hit": s.shared_hit,
            "shared_blks_read": s.shared_read,
            "hit_ratio": s.hit_ratio,
            "io_ms": s.io_ms,
            "share": self.share,
            "toplevel": s.toplevel,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "queryid": self.stats.queryid,
            "query": self.stats.query,
            **self.figures(),
            "slo_breach": self.breach,
            "new": self.new,
            "reset": self.reset,
            "advice": [finding.as_dict() for finding in self.advice],
        }


@dataclass(frozen=True)
class TopResult:
    rows: tuple[TopRow, ...]
    findings: tuple[Finding, ...]
    summary: Mapping[str, Any]
    data: Mapping[str, Any]
    notes: tuple[str, ...] = ()  # for the person running it (the CLI prints them on stderr)

    def report(self, fail_on: FailOn = FailOn.error) -> Report:
        return Report.of(
            COMMAND, self.findings, fail_on=fail_on, summary=self.summary, data=self.data
        )


@dataclass(frozen=True)
class Analysis:
    rows: list[TopRow]
    findings: list[Finding]
    summary: dict[str, Any] = field(default_factory=dict)


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _breach(row: TopRow, slo_ms: float, since: str | None) -> Finding:
    s = row.stats
    window = f" since snapshot '{since}'" if since else ""
    return Finding(
        rule=RULE,
        severity=Severity.error,
        message=(
            f"{one_line(s.query, 60)}: mean {_ms(s.mean_ms)} over {s.calls} calls{window} is above "
            f"the {slo_ms:g} ms objective"
        ),
        statement=s.query,
        queryid=s.queryid,
        evidence={**row.figures(), "slo_ms": slo_ms},
    )


def analyse(
    statements: Sequence[StatsRow],
    hidden: Sequence[StatsRow],
    all_total_ms: float,
    *,
    sort: str,
    limit: int,
    min_calls: int,
    slo_ms: float,
    role: str = "",
    new: frozenset[int] = frozenset(),
    reset: frozenset[int] = frozenset(),
    advise: Advise | None = None,
    since: str | None = None,
) -> Analysis:
    """Sort, limit and judge ``statements`` (visible ones; ``hidden``: the role may not see
    their text). Pure: the data in, the rows, findings and summary out."""

    def share(s: StatsRow) -> float:
        return s.total_ms / all_total_ms if all_total_ms else 0.0

    considered = sorted((s for s in statements if s.calls >= min_calls), key=sort_key(sort))
    listed = considered[:limit]
    advice = advise(listed) if advise is not None and listed else {}
    rows = [
        TopRow(
            stats=s,
            share=share(s),
            breach=s.mean_ms > slo_ms,
            new=s.queryid in new,
            reset=s.queryid in reset,
            advice=tuple(advice.get(s.queryid, ())) if s.queryid is not None else (),
        )
        for s in listed
    ]
    findings = [_breach(row, slo_ms, since) for row in rows if row.breach]
    findings += [finding for row in rows for finding in row.advice]
    unlisted = [s for s in considered[limit:] if s.mean_ms > slo_ms]
    if unlisted:
        ms = sum(s.total_ms for s in unlisted)
        findings.append(
            Finding(
                rule=RULE,
                severity=Severity.error,
                message=(
                    f"{len(unlisted)} more statements above the {slo_ms:g} ms objective are "
                    f"not listed ({ms / all_total_ms if all_total_ms else 0:.1%} of the time): "
                    "raise --limit or use --sort mean"
                ),
                evidence={
                    "statements": len(unlisted),
                    "total_ms": ms,
                    "queryids": [s.queryid for s in unlisted],
                    "slo_ms": slo_ms,
                },
            )
        )
    hidden_breaches = [s for s in hidden if s.calls >= min_calls and s.mean_ms > slo_ms]
    if hidden_breaches:
        ms = sum(s.total_ms for s in hidden_breaches)
        grant = f"GRANT pg_read_all_stats TO {quote_role(role or 'current_user')};"
        findings.append(
            Finding(
                rule=RULE,
                severity=Severity.error,
                message=(
                    f"{len(hidden_breaches)} statements of other roles, whose text this role "
                    f"may not see, are above the {slo_ms:g} ms objective "
                    f"({ms / all_total_ms if all_total_ms else 0:.1%} of the time)"
                ),
                suggestion=grant,
                evidence={
                    "statements": len(hidden_breaches),
                    "total_ms": ms,
                    "means_ms": [s.mean_ms for s in hidden_breaches],
                    "slo_ms": slo_ms,
                },
            )
        )
    breaching = [s for s in considered if s.mean_ms > slo_ms] + hidden_breaches
    breach_ms = sum(s.total_ms for s in breaching)
    summary = {
        "statements": len(statements) + len(hidden),
        "listed": len(rows),
        "hidden": len(hidden),
        "total_ms": all_total_ms,
        "slo_ms": slo_ms,
        "slo_breaches": len(breaching),
        "slo_breach_ms": breach_ms,
        "slo_breach_share": breach_ms / all_total_ms if all_total_ms else 0.0,
    }
    return Analysis(rows, findings, summary)


def _window_notes(w: SnapshotWindow) -> list[str]:
    name = w.since.name
    notes = []
    if w.stats_reset:
        notes.append(
            f"pg_stat_statements was reset for every database since snapshot '{name}': "
            "every statement counts from that reset"
        )
    elif w.reset:
        notes.append(
            f"the counters of {len(w.reset)} statements went down since snapshot '{name}' "
            "(their statistics were reset, or evicted and seen again): they count from "
            "that reset"
        )
    if w.evicted:
        notes.append(
            f"{w.evicted} entries were evicted from pg_stat_statements since snapshot "
            f"'{name}' (pg_stat_statements.max is full): their figures may be short"
        )
    return notes


def _window_data(w: SnapshotWindow, now: datetime) -> dict[str, Any]:
    return {
        "since": w.since.name,
        "saved_at": w.since.saved_at.isoformat(),
        "seconds": (now - w.since.saved_at).total_seconds(),
        "statements": len(w.rows),
        "new_statements": len(w.new),
        "reset_statements": len(w.reset),
        "gone_statements": w.gone,
        "stats_reset": w.stats_reset,
        "evicted": w.evicted,
    }


def _snapshot_by_time(settings: Settings, value: str) -> str | None:
    """The newest snapshot saved by the time ``value`` says, when it says one; else None
    (``load`` then says no snapshot has that name, with the ones there are)."""
    from dbctl.when import newest_snapshot_by, parse_when

    try:
        when = parse_when(value, "--since")
    except ConfigError:
        return None
    assert when is not None
    found = newest_snapshot_by(settings.state_path, when)
    if found is None:
        raise ConfigError(
            f"--since {value}: no snapshot was saved by then (save one with --save NAME)"
        )
    return found


def top_queries(settings: Settings, url: str, options: TopOptions) -> TopResult:
    """Read, judge and list the costliest statements of the database at ``url``."""
    from dbctl.pg.connect import connect
    from dbctl.stats.statements import read_statements, reset_statements

    slo_ms = settings.slo_ms
    if not slo_ms > 0:
        raise ConfigError(f"slo_ms (--slo-ms, DBCTL_SLO_MS) must be above 0, not {slo_ms:g}")
    directory = snapshot_dir(settings.state_path)
    since_note = None
    if options.since and not exists(directory, options.since):
        # --since 2h (or an ISO time), as query-budget takes it: the newest snapshot saved by
        # then (counters can only be compared with a snapshot)
        found = _snapshot_by_time(settings, options.since)
        if found is not None:
            since_note = f"--since {options.since}: the window since snapshot '{found}'"
            options = replace(options, since=found)
    base = load(directory, options.since) if options.since else None
    if options.save:
        snapshot_path(directory, options.save)  # a bad name fails before any work
    with connect(url, autocommit=True) as conn:
        read = read_statements(conn, limit=None, toplevel_only=not options.all_levels)
        if read.hidden_rows and not read.rows:
            role = quote_role(read.role)
            raise PrivilegeMissing(
                f"role {role} cannot see the text of the {read.hidden} statements other roles "
                f"ran in database {read.database}: GRANT pg_read_all_stats TO {role};"
            )
        if options.reset:
            reset_statements(conn, read)
    now = datetime.now(UTC)
    notes: list[str] = [since_note] if since_note else []
    w = window(read, base) if base is not None else None
    if w is not None:
        hidden_ms = w.hidden.plan_ms + w.hidden.exec_ms
        analysis = analyse(
            w.rows,
            (),
            w.total_ms,
            sort=options.sort,
            limit=options.limit,
            min_calls=options.min_calls,
            slo_ms=slo_ms,
            role=read.role,
            new=w.new,
            reset=w.reset,
            advise=options.advise,
            since=w.since.name,
        )
        analysis.summary["hidden"] = read.hidden
        notes += _window_notes(w)
    else:
        hidden_ms = sum(s.total_ms for s in read.hidden_rows)
        analysis = analyse(
            read.rows,
            read.hidden_rows,
            read.all_total_ms,
            sort=options.sort,
            limit=options.limit,
            min_calls=options.min_calls,
            slo_ms=slo_ms,
            role=read.role,
            advise=options.advise,
        )
    total_ms = analysis.summary["total_ms"]
    hidden = {
        "statements": read.hidden,
        "total_ms": hidden_ms,
        "share": hidden_ms / total_ms if total_ms else 0.0,
    }
    if read.hidden:
        notes.append(
            f"{read.hidden} statements of other roles are counted but not shown "
            f"({hidden['share']:.1%} of the time): GRANT pg_read_all_stats TO "
            f"{quote_role(read.role)}; shows them"
        )
    saved = None
    if options.save:
        saved = _save(directory, options.save, read, now, after_reset=options.reset)
        notes.append(
            f"saved snapshot '{options.save}' ({saved['statements']} statements"
            f"{', taken after the reset' if options.reset else ''}) to {saved['path']}"
        )
    if options.reset:
        notes.append(f"reset pg_stat_statements for database {read.database}")
    data = {
        "database": read.database,
        "role": read.role,
        "extension_version": read.version,
        "sort": options.sort,
        "limit": options.limit,
        "min_calls": options.min_calls,
        "all_levels": options.all_levels,
        "slo_ms": slo_ms,
        "window": _window_data(w, now) if w is not None else None,
        "saved": saved,
        "reset": options.reset,
        "hidden": hidden,
        "rows": [row.as_dict() for row in analysis.rows],
    }
    return TopResult(
        rows=tuple(analysis.rows),
        findings=tuple(analysis.findings),
        summary=analysis.summary,
        data=data,
        notes=tuple(notes),
    )


def _save(
    directory: Path, name: str, read: StatsRead, now: datetime, *, after_reset: bool
) -> dict[str, Any]:
    """Save the counters just read, or, after ``--reset``, the empty state that followed it
    (so that ``--since NAME`` counts from the reset)."""
    snapshot = Snapshot.of(name, read, now)
    if after_reset:
        snapshot = Snapshot(
            name=name,
            saved_at=now,
            database=read.database,
            version=read.version,
            toplevel_only=read.toplevel_only,
            statements={},
            hidden=Counters(),
        )
    path = save(directory, snapshot)
    return {"name": name, "path": str(path), "statements": len(snapshot.statements)}
