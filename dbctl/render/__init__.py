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
    """Write ``report`` to ``stream`` in the chosen format."""
    from dbctl.render import github, json_, sarif, text

    renderers: dict[Format, Callable[[Report, TextIO], None]] = {
        Format.text: text.render,
        Format.json: json_.render,
        Format.sarif: sarif.render,
        Format.github: github.render,
    }
    renderers[output](report, stream)
