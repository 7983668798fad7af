"""The JSON report: the contract of DESIGN.md."""

from __future__ import annotations

import json
from typing import TextIO

from dbctl.report import Report


def render(report: Report, stream: TextIO) -> None:
    # One line, through the C encoder (indent= would fall back to the slow pure-Python one
    # on large reports); pipe it through `jq` to read it.
    stream.write(json.dumps(report.as_dict(), default=str, ensure_ascii=False))
    stream.write("\n")
