"""``make clean``: it removes what the README's two commands created, twice in a row
without an error (issue 13: the second run printed a failure, __pycache__ stayed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_twice(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for folder in (
        ".dbctl",
        ".pytest_cache",
        ".hypothesis",
        "dbctl/__pycache__",
        "tests/unit/__pycache__",
    ):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "dbctl" / "cli.py").write_text("# kept\n")
    for _ in range(2):
        done = subprocess.run(
            ["make", "clean"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["Makefile", "dbctl", "dbctl/cli.py", "tests", "tests/unit"]
