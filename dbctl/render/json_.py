"""The JSON report: the contract of DESIGN.md. Strings are kept exactly as found (JSON
escapes their control characters); a lone surrogate, which UTF-8 cannot carry, is written
as its ``\\ud800`` escape."""

from __future__ import annotations

import json
from typing import TextIO

from dbctl.render.escape import has_surrogate
from dbctl.report import Report


def render(report: Report, stream: TextIO) -> None:
    # One line, through the C encoder (indent= would fall back to the slow pure-Python one
    # on large reports); pipe it through `jq` to read it.
    data = report.as_dict()
    text = json.dumps(data, default=str, ensure_ascii=False)
    if not text.isascii() and has_surrogate(text):  # isascii: O(1), no scan
        text = json.dumps(data, default=str)
    stream.write(text)
    stream.write("\n")
