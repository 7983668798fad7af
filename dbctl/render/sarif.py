"""SARIF 2.1.0, for GitHub code scanning and other SARIF viewers."""

from __future__ import annotations

import json
from typing import Any, TextIO

from dbctl import __version__
from dbctl.report import Finding, Report, Severity
from dbctl.rule_ids import describe

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}
# GitHub code scanning needs a physical location on every result; findings about the
# database as a whole point at the project file that configures dbctl.
FALLBACK_PATH = "pyproject.toml"


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    location = finding.location
    path = location.path if location else FALLBACK_PATH
    region: dict[str, Any] = {"startLine": (location.line if location else None) or 1}
    message = finding.message
    if finding.suggestion:
        message += f"\nSuggestion: {finding.suggestion}"
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": path}, "region": region}}],
    }
    if finding.table:
        result["locations"][0]["logicalLocations"] = [
            {"fullyQualifiedName": finding.table, "kind": "type"}
        ]
    properties = {
        key: value
        for key, value in finding.as_dict().items()
        if key in ("table", "columns", "suggestion", "statement", "queryid", "evidence") and value
    }
    if properties:
        result["properties"] = properties
    return result


def _rule(rule: str) -> dict[str, Any]:
    doc = describe(rule)
    return {
        "id": rule,
        "name": rule,
        "shortDescription": {"text": doc.short},
        "fullDescription": {"text": doc.short},
        "help": {"text": doc.help},
    }


def to_sarif(report: Report) -> dict[str, Any]:
    rules = sorted({finding.rule for finding in report.findings})
    index = {rule: i for i, rule in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dbctl",
                        "version": __version__,
                        "informationUri": "https://github.com/dbctl/dbctl",
                        "rules": [_rule(rule) for rule in rules],
                    }
                },
                "automationDetails": {"id": f"dbctl/{report.command}/"},
                "results": [_result(f, index[f.rule]) for f in report.findings],
            }
        ],
    }


def render(report: Report, stream: TextIO) -> None:
    json.dump(to_sarif(report), stream, indent=2, default=str)
    stream.write("\n")
