"""The shape of the package (issue 13): no import cycle between dbctl's modules, function-
level imports included (they hid lifecycle/drift <-> lifecycle/verify); the capture that
runs in the application's process loads none of the offline analysis."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parent.parent.parent / "dbctl"


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {
            id(sub)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            for sub in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dbctl"):
                assert node.module is not None
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_cycle() -> None:
    graph = _graph()
    assert "dbctl.lifecycle.readback" in graph["dbctl.lifecycle.drift"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_capture_loads_no_offline_analysis() -> None:
    code = (
        "import sys, dbctl.budget.capture; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('dbctl', 'sqlglot')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "dbctl.budget.capture" in loaded
    offline = ("sqlglot", "dbctl.budget.endpoints", "dbctl.budget.log", "dbctl.access.analyze")
    offline += ("dbctl.advise", "dbctl.pg")
    assert [m for m in loaded if m.startswith(offline)] == []


def test_the_schema_package_stands_below_everything_that_talks_to_postgresql() -> None:
    graph = _graph()
    schema = [name for name in graph if name.startswith("dbctl.schema")]
    assert {"dbctl.schema.catalog", "dbctl.schema.diff", "dbctl.schema.ddl"} <= set(schema)
    above = ("dbctl.pg", "dbctl.lifecycle", "dbctl.advise", "dbctl.stats", "dbctl.budget")
    reached = {target for name in schema for target in graph[name]}
    assert [target for target in reached if target.startswith(above)] == []
