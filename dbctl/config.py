"""Settings: flags > environment (``DBCTL_*``) > ``[tool.dbctl]`` in pyproject.toml > defaults.

Resolved lazily by the commands that need them, never at import time, so ``dbctl --help``
works with no environment. The database URL also falls back to ``DATABASE_URL``, the
variable the service itself reads.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dbctl.errors import ConfigError
from dbctl.pg.url import check_url
from dbctl.schema.catalog import FrozenMap


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about the project and its database."""

    project_root: Path
    database_url: str | None = None
    migrations: Path | None = None  # else alembic.ini's script_location, else migrations/
    alembic_ini: Path | None = None  # else alembic.ini in the project root or migrations/
    models: str | None = None
    state_dir: Path = Path(".dbctl")
    lock_timeout: str = "5s"
    statement_timeout: str = "1h"
    lock_wait: float = 60.0
    # "transaction": migrate through a transaction-mode pooler (PgBouncer): a lock and the
    # timeouts per revision's transaction instead of for the session
    pooler: str = "none"
    # lint-migrations and verify-schema: the revisions up to this one are history, not
    # linted (lint-migrations without --from, a database or --git-base; verify-schema)
    lint_from: str | None = None
    drift_ignore: tuple[str, ...] = ()
    slo_ms: float = 3.0  # the DB objective: a statement's mean time above it is a breach
    query_budget: int = 3  # statements per request (dbctl query-budget, when the log has none)
    latency_slo_ms: float = 200.0  # the API objective: an endpoint's p99 above it is a breach
    # Environment variables that hand the database to the project's env.py during a run:
    # a name gets the URL, NAME=template gets the template ({url}, {host}, {port}, {user},
    # {password}, {database}) filled in.
    url_env: tuple[str, ...] = ("DATABASE_URL",)
    baseline: str | None = None  # module:attr run on an empty database before revision one
    drift_strict_names: bool = False  # report name-only drift of constraints models leave unnamed
    # check-indexes: rows per table ("country" or "public.country"), for tables whose size
    # a schema cannot tell; one under min_rows gets a small-table note, not an index.
    table_rows: FrozenMap[int] = field(default_factory=FrozenMap)

    @property
    def migrations_dir(self) -> Path:
        """The migrations folder dbctl was told, or ``migrations/`` (alembic.ini's
        ``script_location`` wins over the latter: ``lifecycle.migrate.alembic_config``)."""
        return self._in_project(self.migrations or Path("migrations"))

    def alembic_ini_path(self) -> Path | None:
        """The project's alembic.ini: the one named, else the project root's, else the one
        in the migrations folder (Flask-Migrate and packaged migrations keep it there)."""
        if self.alembic_ini is not None:
            return self._in_project(self.alembic_ini)
        for folder in (self.project_root, self.migrations_dir):
            if (folder / "alembic.ini").is_file():
                return folder / "alembic.ini"
        return None

    @property
    def state_path(self) -> Path:
        return self._in_project(self.state_dir)

    def _in_project(self, path: Path) -> Path:
        return path if path.is_absolute() else self.project_root / path


POOLERS = ("none", "transaction")

# Settings a user may set, with the type each takes in TOML and in the environment.
_FIELDS: dict[str, type] = {
    "database_url": str,
    "migrations": Path,
    "alembic_ini": Path,
    "models": str,
    "state_dir": Path,
    "lock_timeout": str,
    "statement_timeout": str,
    "lock_wait": float,
    "pooler": str,
    "lint_from": str,
    "drift_ignore": tuple,
    "slo_ms": float,
    "query_budget": int,
    "latency_slo_ms": float,
    "url_env": tuple,
    "baseline": str,
    "drift_strict_names": bool,
    "table_rows": dict,
}
assert set(_FIELDS) == {f.name for f in fields(Settings)} - {"project_root"}


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a pyproject.toml (else ``start``)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def _coerce(key: str, value: Any, origin: str) -> Any:
    kind = _FIELDS[key]
    try:
        if kind is dict:
            return parse_table_rows(value)
        if kind is tuple:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise ValueError(value)
            return tuple(item.strip() for item in items if item.strip())
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is int:
            if isinstance(value, bool | float) or int(value) < 0:
                raise ValueError(value)
            return int(value)
        if not isinstance(value, str | Path):
            raise ValueError(value)
        if key == "pooler" and value not in POOLERS:
            raise ValueError(value)
        return kind(value)
    except ValueError:
        what = {
            tuple: "list of strings",
            int: "whole number >= 0",
            bool: "boolean",
            dict: "table of table = rows (whole numbers >= 0), or table=rows,...",
        }.get(kind, kind.__name__)
        if key == "pooler":
            choices = " or ".join(POOLERS)
            raise ConfigError(f"{origin}: pooler must be {choices}, not {value!r}") from None
        raise ConfigError(f"{origin}: {key} must be a {what}, not {value!r}") from None


def parse_table_rows(value: Any) -> FrozenMap[int]:
    """``{country = 100}`` (TOML) or ``country=100,public.film=5`` (environment, flags)."""
    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if not all(len(pair) == 2 for pair in pairs):
            raise ValueError(value)
        value = {name.strip(): rows.strip() for name, rows in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(value)
    rows: dict[str, int] = {}
    for name, count in value.items():
        if not isinstance(name, str) or not name.strip() or isinstance(count, bool | float):
            raise ValueError(value)
        rows[name.strip()] = int(count)
        if rows[name.strip()] < 0:
            raise ValueError(value)
    return FrozenMap(rows)


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def parse_size(value: str) -> int:
    """A size as PostgreSQL writes it (``500MB``, ``2 GB``, ``100kB``, ``4096``: 1024-based
    units, case-insensitive) in bytes; ValueError for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(value)
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def _from_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get("dbctl", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise ConfigError(f"[tool.dbctl] in {path}: unknown setting {raw_key!r} ({known})")
        values[key] = _coerce(key, value, f"[tool.dbctl] in {path}")
    return values


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if environ.get("DATABASE_URL"):
        values["database_url"] = environ["DATABASE_URL"]
    for key in _FIELDS:
        name = f"DBCTL_{key.upper()}"
        if environ.get(name):
            values[key] = _coerce(key, environ[name], f"environment variable {name}")
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the settings; ``overrides`` are the command-line flags (None means unset)."""
    root = find_project_root(cwd or Path.cwd())
    values: dict[str, Any] = {}
    values.update(_from_pyproject(root))
    values.update(_from_environment(os.environ if environ is None else environ))
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
    settings = replace(Settings(project_root=root), **values)
    if settings.database_url is not None:
        settings = replace(settings, database_url=check_url(settings.database_url))
    return settings
