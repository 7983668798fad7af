"""The public Python API (dbctl/__init__.py): what the companion service, or any
application, may import; the service imports nothing else of dbctl (issue 13)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dbctl

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent.parent
PUBLIC = {"dbctl", "dbctl.budget"}


def _dbctl_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dbctl"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("dbctl")}
    return found


def test_the_service_uses_only_the_public_api() -> None:
    used = {
        (str(path.relative_to(ROOT)), module)
        for path in (ROOT / "service").rglob("*.py")
        for module in _dbctl_imports(path)
    }
    assert used, "the service uses dbctl"
    assert {entry for entry in used if entry[1] not in PUBLIC} == set()


def test_the_public_names(tmp_path: Path) -> None:
    assert dbctl.redact_url("postgresql://app:s3cret@db/app") == "postgresql://app:***@db/app"
    assert dbctl.normalize_url("postgres://app@db/app") == "postgresql+psycopg://app@db/app"
    assert dbctl.sandbox_url(tmp_path) is None  # no sandbox runs for that folder
    from dbctl.budget import install

    assert callable(install)
    with pytest.raises(AttributeError):
        _ = dbctl.no_such_name
