"""Snapshots of pg_stat_statements and the window since one, without resetting anything.

``--save NAME`` writes the counters of every statement of the database (per ``queryid``)
to ``<state dir>/snapshots/NAME.json``; ``--since NAME`` subtracts them from the current
counters: calls, time, rows and blocks over the window, and a mean and standard deviation
over it (the maximum is not known for a window). A statement absent from the snapshot is
*new*. A statement whose counters went down was reset (or evicted and seen again) since
the snapshot: its window is its counters since that reset, and the window says so. A
statement reset and run more often since than before cannot be told apart from one that
was not, unless the reset was of every database (``pg_stat_statements_info.stats_reset``
moves, 1.9+): then every statement counts from that reset.

Everything here is pure (no connection): the snapshot is data, ``window`` a function.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dbctl.errors import ConfigError
from dbctl.stats.statements import StatsRead, StatsRow, stddev_from

FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True, slots=True)
class Counters:
    """The cumulative counters of one statement (or of the hidden entries, summed)."""

    calls: int = 0
    plan_ms: float = 0.0
    exec_ms: float = 0.0
    exec_sumsq: float = 0.0
    rows: int = 0
    shared_hit: int = 0
    shared_read: int = 0
    io_ms: float = 0.0

    @classmethod
    def of(cls, s: StatsRow) -> Counters:
        return cls(
            s.calls,
            s.plan_ms,
            s.exec_ms,
            s.exec_sumsq,
            s.rows,
            s.shared_hit,
            s.shared_read,
            s.io_ms,
        )

    @classmethod
    def from_values(cls, v: list[Any]) -> Counters:
        """From ``values()`` (as JSON gave them back)."""
        return cls(
            int(v[0]), float(v[1]), float(v[2]), float(v[3]), int(v[4]), int(v[5]), int(v[6]),
            float(v[7]),
        )  # fmt: skip

    @classmethod
    def total(cls, many: tuple[StatsRow, ...]) -> Counters:
        return cls(**{f.name: sum(getattr(s, f.name) for s in many) for f in fields(cls)})

    def values(self) -> list[float]:
        return [getattr(self, name) for name in _NAMES]

    def minus(self, before: Counters) -> Counters:
        return Counters(
            **{f.name: getattr(self, f.name) - getattr(before, f.name) for f in fields(self)}
        )

    def went_down(self, before: Counters) -> bool:
        return self.calls < before.calls or self.exec_ms < before.exec_ms


_NAMES = tuple(f.name for f in fields(Counters))


@dataclass(frozen=True)
class Snapshot:
    name: str
    saved_at: datetime  # aware, UTC
    database: str
    version: str
    toplevel_only: bool
    statements: Mapping[int, Counters]
    hidden: Counters = Counters()
    stats_reset: datetime | None = None
    dealloc: int | None = None

    @classmethod
    def of(cls, name: str, read: StatsRead, saved_at: datetime) -> Snapshot:
        return cls(
            name=name,
            saved_at=saved_at,
            database=read.database,
            version=read.version,
            toplevel_only=read.toplevel_only,
            statements={s.queryid: Counters.of(s) for s in read.rows if s.queryid is not None},
            hidden=Counters.total(read.hidden_rows),
            stats_reset=read.stats_reset,
            dealloc=read.dealloc,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "saved_at": self.saved_at.isoformat(),
            "database": self.database,
            "extension_version": self.version,
            "all_levels": not self.toplevel_only,
            "stats_reset": self.stats_reset.isoformat() if self.stats_reset else None,
            "dealloc": self.dealloc,
            "fields": [f.name for f in fields(Counters)],
            "hidden": self.hidden.values(),
            "statements": {str(q): c.values() for q, c in self.statements.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        names = [f.name for f in fields(Counters)]
        if data.get("format") != FORMAT or data.get("fields") != names:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        counters = Counters.from_values
        reset = data.get("stats_reset")
        return cls(
            name=str(data["name"]),
            saved_at=datetime.fromisoformat(data["saved_at"]),
            database=str(data["database"]),
            version=str(data["extension_version"]),
            toplevel_only=not data["all_levels"],
            statements={int(q): counters(v) for q, v in data["statements"].items()},
            hidden=counters(data["hidden"]),
            stats_reset=datetime.fromisoformat(reset) if reset else None,
            dealloc=None if data.get("dealloc") is None else int(data["dealloc"]),
        )


def snapshot_dir(state_path: Path) -> Path:
    return state_path / "snapshots"


def exists(directory: Path, name: str) -> bool:
    """Whether a snapshot of that name was saved (any text: a time is simply none)."""
    return bool(_NAME.fullmatch(name)) and (directory / f"{name}.json").is_file()


def snapshot_path(directory: Path, name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"snapshot name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(up to 100, starting with a letter or digit)"
        )
    return directory / f"{name}.json"


def save(directory: Path, snapshot: Snapshot) -> Path:
    """Write the snapshot (atomically: a half-written file never replaces a good one)."""
    path = snapshot_path(directory, snapshot.name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(snapshot.as_dict(), separators=(",", ":")) + "\n")
        os.replace(partial, path)
    except OSError as exc:
        raise ConfigError(f"cannot save snapshot {snapshot.name!r} to {path}: {exc}") from None
    return path


def load(directory: Path, name: str) -> Snapshot:
    path = snapshot_path(directory, name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        saved = sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []
        known = f" (saved: {', '.join(saved)})" if saved else ""
        raise ConfigError(
            f"no snapshot named {name!r} in {directory}{known}: save one with --save {name}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read snapshot {name!r} at {path}: {exc}") from None
    try:
        return Snapshot.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path} is not a dbctl snapshot ({exc}): save it again with --save {name}"
        ) from None


@dataclass(frozen=True)
class SnapshotWindow:
    """The statements' activity between a snapshot and now."""

    since: Snapshot
    rows: tuple[StatsRow, ...]  # statements that ran in the window
    hidden: Counters  # hidden entries, summed (never shown)
    new: frozenset[int]  # queryids not in the snapshot
    reset: frozenset[int]  # queryids whose counters went down: counted from their reset
    gone: int  # statements of the snapshot no longer in pg_stat_statements
    stats_reset: bool  # every database was reset since the snapshot
    evicted: int | None  # entries evicted since the snapshot (pg_stat_statements.max)

    @property
    def total_ms(self) -> float:
        return sum(s.total_ms for s in self.rows) + self.hidden.plan_ms + self.hidden.exec_ms


def _minus(now: StatsRow, before: Counters) -> StatsRow:
    delta = Counters.of(now).minus(before)
    stddev = stddev_from(delta.calls, delta.exec_ms, delta.exec_sumsq)
    return replace(now, max_ms=None, stddev_ms=stddev, **asdict(delta))


def window(read: StatsRead, base: Snapshot) -> SnapshotWindow:
    """The activity since ``base``. ``read`` must hold every statement (``limit=None``)."""
    if base.database != read.database:
        raise ConfigError(
            f"snapshot {base.name!r} is of database {base.database}, not {read.database}: "
            "save one of this database with --save"
        )
    if base.toplevel_only != read.toplevel_only:
        was = "without" if base.toplevel_only else "with"
        raise ConfigError(
            f"snapshot {base.name!r} was saved {was} --all-levels: "
            f"compare with it {was} --all-levels"
        )
    everything_reset = (
        base.stats_reset is not None
        and read.stats_reset is not None
        and read.stats_reset > base.stats_reset
    )
    rows: list[StatsRow] = []
    new: set[int] = set()
    reset: set[int] = set()
    for stats in read.rows:
        assert stats.queryid is not None
        before = base.statements.get(stats.queryid)
        if before is None:
            new.add(stats.queryid)
            rows.append(replace(stats, max_ms=None))
        elif everything_reset or Counters.of(stats).went_down(before):
            reset.add(stats.queryid)
            rows.append(replace(stats, max_ms=None))
        elif stats.calls > before.calls:
            rows.append(_minus(stats, before))
    hidden_now = Counters.total(read.hidden_rows)
    if everything_reset or hidden_now.went_down(base.hidden):
        hidden = hidden_now
    else:
        hidden = hidden_now.minus(base.hidden)
    current = {s.queryid for s in read.rows}
    evicted = None
    if read.dealloc is not None and base.dealloc is not None and not everything_reset:
        evicted = max(read.dealloc - base.dealloc, 0)
    return SnapshotWindow(
        since=base,
        rows=tuple(rows),
        hidden=hidden,
        new=frozenset(new),
        reset=frozenset(reset),
        gone=sum(1 for q in base.statements if q not in current),
        stats_reset=everything_reset,
        evicted=evicted,
    )
