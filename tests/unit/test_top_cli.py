"""top-queries' command line, without a database: bad options fail before any connection."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dbctl.cli import app

pytestmark = pytest.mark.unit

CLOSED = "postgresql://app@127.0.0.1:1/app"  # nothing listens: a connection would fail


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--sort", "slowest"],
            "--sort must be one of total, mean, calls, rows, io, not 'slowest'",
        ),
        (["--save", "../elsewhere"], "snapshot name '../elsewhere' is not allowed: use letters"),
        (["--slo-ms", "0"], "slo_ms (--slo-ms, DBCTL_SLO_MS) must be above 0, not 0"),
        (["--slo-ms", "soon"], "Invalid value for '--slo-ms'"),
        (["--limit", "0"], "Invalid value for '--limit'"),
    ],
)
def test_bad_options_fail_before_connecting(args: list[str], error: str) -> None:
    result = CliRunner().invoke(app, ["top-queries", "--database-url", CLOSED, *args])
    assert result.exit_code == 2
    assert error in result.stderr
    assert "cannot connect" not in result.stderr


def test_since_an_unknown_snapshot(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBCTL_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["top-queries", "--database-url", CLOSED, "--since", "x"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: no snapshot named 'x' in {tmp_path}/snapshots: save one with --save x\n"
    )
