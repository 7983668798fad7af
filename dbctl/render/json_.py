"""The JSON report: the contract of DESIGN.md."""

from __future__ import annotations

import json
from typing import TextIO

from dbctl.report import Report


def render(report: Report, stream: TextIO) -> None:
    json.dump(report.as_dict(), stream, indent=2, default=str)
    stream.write("\n")
