"""``table_rows``: row-count hints for check-indexes, from [tool.dbctl] or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbctl.config import load_settings, parse_size
from dbctl.errors import ConfigError

pytestmark = pytest.mark.unit


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.dbctl]\n{body}\n")
    return tmp_path


def test_from_pyproject(tmp_path: Path) -> None:
    root = _project(tmp_path, 'table_rows = {country = 100, "sales.region" = 7}')
    settings = load_settings(cwd=root, environ={})
    assert dict(settings.table_rows) == {"country": 100, "sales.region": 7}
    hash(settings)  # Settings stays hashable


def test_default_and_environment(tmp_path: Path) -> None:
    assert dict(load_settings(cwd=tmp_path, environ={}).table_rows) == {}
    environ = {"DBCTL_TABLE_ROWS": "country=100, public.film = 5"}
    settings = load_settings(cwd=tmp_path, environ=environ)
    assert dict(settings.table_rows) == {"country": 100, "public.film": 5}


@pytest.mark.parametrize(
    "body",
    [
        "table_rows = {country = -1}",
        "table_rows = {country = 1.5}",
        "table_rows = {country = true}",
        'table_rows = {country = "x"}',
        "table_rows = 3",
    ],
)
def test_bad_values(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError, match="table_rows must be a table of table = rows"):
        load_settings(cwd=_project(tmp_path, body), environ={})


def test_bad_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DBCTL_TABLE_ROWS"):
        load_settings(cwd=tmp_path, environ={"DBCTL_TABLE_ROWS": "country"})


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("500MB", 500 * 1024**2), ("2 GB", 2 * 1024**3), ("100kB", 102400),
     ("1.5gb", int(1.5 * 1024**3)), ("12 B", 12)],
)  # fmt: skip
def test_sizes_read_as_postgresql_writes_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "5 XB", "-1MB", "1.5.2GB", "1e3"])
def test_a_bad_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
