"""Times given on the command line, shared by every command that takes a window: ISO 8601
or a time back from now (``--since 2h``), and a saved snapshot's name, whose time it is
(``--since deploy``): query-budget reads the requests since then, top-queries the
statements' activity since that snapshot, or the newest one saved by that time."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dbctl.errors import ConfigError

MAX_BACK_DAYS = 36_500  # --since 30d and the like: at most 100 years back
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_when(value: str | None, option: str, now: datetime | None = None) -> datetime | None:
    """``--since`` / ``--until``: ISO 8601 (no zone: UTC) or a time back from now (``30m``,
    ``2h``, ``1d``), as an aware UTC time. A time back of more than 100 years, or one the
    calendar cannot hold in UTC, is a ``ConfigError`` (one line, exit 2), not clamped: such a
    number is a typo, and leaving the option out already reads the whole log."""
    if value is None:
        return None
    text = value.strip()
    ago = re.fullmatch(r"([0-9]+)\s*([smhd])", text)
    if ago:
        digits, unit = ago[1].lstrip("0") or "0", ago[2]
        seconds = int(digits) * _UNITS[unit] if len(digits) <= 12 else math.inf
        if seconds > MAX_BACK_DAYS * 86_400:
            raise ConfigError(
                f"{option} {short(value)}: at most 100 years back ({MAX_BACK_DAYS}d); leave "
                f"{option} out to read the whole log"
            )
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} {short(value)}: give an ISO 8601 time (2026-11-26T08:00, UTC unless it "
            "says) or a time back from now (30m, 2h, 1d)"
        ) from None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ConfigError(f"{option} {short(value)} is out of range in UTC") from None


def short(value: str, chars: int = 40) -> str:
    """An option's value as the error repeats it: quoted, escaped, cut."""
    return repr(value if len(value) <= chars else value[: chars - 1] + "…")


def snapshot_time(state_path: Path, name: str) -> datetime | None:
    """The time the snapshot ``name`` was saved (top-queries --save), if there is one."""
    from dbctl.stats.snapshots import exists, load, snapshot_dir

    directory = snapshot_dir(state_path)
    return load(directory, name).saved_at if exists(directory, name) else None


def parse_since(value: str | None, option: str, state_path: Path) -> datetime | None:
    """``--since`` of query-budget: a saved snapshot's name (its time), else ``parse_when``."""
    if value is None:
        return None
    saved = snapshot_time(state_path, value.strip())
    if saved is not None:
        return saved
    try:
        return parse_when(value, option)
    except ConfigError as exc:
        if "give an ISO 8601 time" not in str(exc):
            raise
        named = "or the name of a snapshot saved with top-queries --save"
        raise ConfigError(f"{exc}, {named}") from None


def newest_snapshot_by(state_path: Path, when: datetime) -> str | None:
    """The name of the newest snapshot saved at or before ``when`` (top-queries --since 2h)."""
    from dbctl.stats.snapshots import load, snapshot_dir

    directory = snapshot_dir(state_path)
    best: tuple[datetime, str] | None = None
    for path in directory.glob("*.json") if directory.is_dir() else ():
        try:
            saved = load(directory, path.stem).saved_at
        except ConfigError:
            continue  # a file that is no snapshot of ours
        if saved <= when and (best is None or saved > best[0]):
            best = (saved, path.stem)
    return None if best is None else best[1]
