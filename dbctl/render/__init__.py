"""Renderers of a ``Report``: text (rich), json, sarif, github. The only printing code."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TextIO

from dbctl.report import Report


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


def render(report: Report, output: Format, stream: TextIO) -> None:
    """Write ``report`` to ``stream`` in the chosen format (importing only its renderer:
    rich costs a tenth of a second that JSON output does not need)."""
    import importlib

    module = {"text": "text", "json": "json_", "sarif": "sarif", "github": "github"}[output]
    renderer: Callable[[Report, TextIO], None] = importlib.import_module(
        f"dbctl.render.{module}"
    ).render
    renderer(report, stream)
