"""Text from input, made safe to show: what a log, a file or a database hands dbctl (routes,
statements, names, paths) may hold control characters. Written raw, an escape sequence
drives the terminal, a carriage return overwrites the line, and a newline starts a line of
dbctl's own: in GitHub Actions a line that starts with ``::error`` is a workflow command.

``printable`` shows each such character as an escape a reader can see (``\\x1b``, ``\\n``,
``\\u202e``): the C0 controls (tab and newline included), DEL, the C1 controls, the Unicode
line and paragraph separators, the bidirectional overrides and isolates (text that reads
differently from what it is), and lone surrogates (which cannot be written as UTF-8).
Text and GitHub output go through it; JSON and SARIF keep the exact strings (JSON-escaped).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character shown as a visible escape (see the module doc);
    text without one is returned as it is."""
    return _UNSAFE.sub(_visible, text) if _UNSAFE.search(text) else text


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (it cannot be encoded as UTF-8)."""
    return re.search("[\ud800-\udfff]", text) is not None
