"""Every rule id a finding is made with is described in dbctl/rule_ids.py (SARIF's
shortDescription and help come from there, not from the id repeated) (issue 13)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dbctl.render.sarif import to_sarif
from dbctl.report import Finding, Report, Severity
from dbctl.rule_ids import RULES

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parent.parent.parent / "dbctl"
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
MAKERS = re.compile(r"finding|note|Drop|Breach", re.IGNORECASE)


def _ids_in_source() -> set[str]:
    """Ids passed to whatever makes a finding (note, Finding, _revision_finding, Drop,
    Breach...) and the constants named *_RULE."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
                values = [*node.args, *(k.value for k in node.keywords if k.arg == "rule")]
                if MAKERS.search(name) or any(k.arg == "rule" for k in node.keywords):
                    found |= {
                        v.value
                        for v in values
                        if isinstance(v, ast.Constant)
                        and isinstance(v.value, str)
                        and RULE_ID.match(v.value)
                    }
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                named = any(
                    isinstance(t, ast.Name) and t.id.endswith("_RULE") for t in node.targets
                )
                if named and isinstance(node.value.value, str):
                    found.add(node.value.value)
    return found


def test_every_rule_id_in_the_code_is_described() -> None:
    used = _ids_in_source()
    assert {"missing-index", "downgrade-mismatch", "looped-query", "empty-window"} <= used
    assert used - set(RULES) == set()
    for rule, doc in RULES.items():
        assert doc.short and doc.help and doc.short != rule, rule


def test_sarif_rules_carry_the_descriptions() -> None:
    finding = Finding(rule="looped-query", severity=Severity.error, message="5x SELECT")
    [rule] = to_sarif(Report.of("query-budget", [finding]))["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "looped-query"
    assert rule["shortDescription"]["text"] == RULES["looped-query"].short
    assert rule["help"]["text"] == RULES["looped-query"].help
