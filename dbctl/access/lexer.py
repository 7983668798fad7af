"""A small SQL scanner: enough of PostgreSQL's lexical rules to split a file into
statements, rewrite parameters and fingerprint statements without parsing them.

It knows quoted strings ('...', E'...', with '' escapes), quoted identifiers ("..."),
dollar-quoted strings ($tag$...$tag$), line and nested block comments. Everything else is
code. The one SQL lexer: ``segments`` (a fast scan for splitting, parameters and
fingerprints) and ``tokens`` (every token, for the column references of the models'
expressions, ``dbctl.pg.sql_lexer``) share its rules (nested comments, dollar tags).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["code", "string", "ident", "comment"]
# A dollar quote's tag: letters (non-ASCII too), digits and _, not first a digit.
_DOLLAR = re.compile(r"\$([A-Za-z\x80-\U0010ffff_][A-Za-z\x80-\U0010ffff_0-9]*)?\$")


_SPECIAL = re.compile(r"--|/\*|'|\"|\$")


def comment_end(sql: str, start: int) -> int:
    """Where the block comment opening at ``start`` ends (they nest), or -1 if it does not."""
    depth, j, n = 1, start + 2, len(sql)
    while depth:
        close, opening = sql.find("*/", j), sql.find("/*", j)
        if close < 0:
            return -1
        if 0 <= opening < close:
            depth, j = depth + 1, opening + 2
        else:
            depth, j = depth - 1, close + 2
    return j if j <= n else -1


def segments(sql: str) -> Iterator[tuple[Kind, str]]:  # noqa: PLR0915 (one scanner loop)
    """Split ``sql`` into code, string, quoted identifier and comment segments."""
    n, start = len(sql), 0
    search = _SPECIAL.search
    match = search(sql, 0)
    while match is not None:
        i = match.start()
        token = match.group(0)
        end, kind = -1, "code"
        if token == "--":
            newline = sql.find("\n", i)
            end, kind = (n if newline < 0 else newline), "comment"
        elif token == "/*":
            close = comment_end(sql, i)
            end, kind = (n if close < 0 else close), "comment"
        elif token == "'":
            backslash = i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
            j = i + 1
            while True:
                quote = sql.find("'", j)
                if backslash:
                    slash = sql.find("\\", j)
                    if 0 <= slash < quote:
                        j = slash + 2
                        continue
                if quote < 0:
                    j = n
                    break
                if quote + 1 < n and sql[quote + 1] == "'":
                    j = quote + 2
                    continue
                j = quote + 1
                break
            end, kind = j, "string"
        elif token == '"':
            j = sql.find('"', i + 1)
            while j >= 0 and j + 1 < n and sql[j + 1] == '"':
                j = sql.find('"', j + 2)
            end, kind = (n if j < 0 else j + 1), "ident"
        elif i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_"):
            dollar = _DOLLAR.match(sql, i)
            if dollar:
                close = sql.find(dollar.group(0), dollar.end())
                end, kind = (n if close < 0 else close + len(dollar.group(0))), "string"
        if end < 0:
            match = search(sql, i + 1)
            continue
        if start < i:
            yield "code", sql[start:i]
        yield kind, sql[i:end]  # type: ignore[misc]
        start = end
        match = search(sql, end)
    if start < n:
        yield "code", sql[start:n]


def split_statements(sql: str) -> Iterator[tuple[str, int]]:
    """Each statement of ``sql`` (without its ';') and the 1-based line where it starts.

    Statements made only of comments and white space are skipped.
    """
    line = 1
    current: list[str] = []
    start_line: int | None = None
    for kind, text in segments(sql):
        if kind == "code":
            parts = text.split(";")
            for index, part in enumerate(parts):
                if index:
                    statement = "".join(current).strip()
                    if statement and start_line is not None:
                        yield statement, start_line
                    current, start_line = [], None
                if start_line is None and part.strip():
                    start_line = line + part[: len(part) - len(part.lstrip())].count("\n")
                current.append(part)
                line += part.count("\n")
        else:
            if start_line is None and kind != "comment":
                start_line = line
            current.append(text)
            line += text.count("\n")
    statement = "".join(current).strip()
    if statement and start_line is not None:
        yield statement, start_line


_NAMED = re.compile(r"%\((\w+)\)s|%s|%%|(?<![:\w]):([A-Za-z_]\w*)|\$(\d+)")


def to_dollar_params(sql: str) -> tuple[str, int]:
    """Rewrite ``%s``, ``%(name)s`` and ``:name`` parameters as ``$n``; count them.

    ``$n`` parameters are kept; ``%%`` becomes ``%``; ``::type`` casts, strings, quoted
    identifiers and comments are left alone. A named parameter used twice keeps one number.
    """
    names: dict[str, int] = {}
    highest = 0
    out: list[str] = []

    def replace(match: re.Match[str]) -> str:
        nonlocal highest
        text = match.group(0)
        if text == "%%":
            return "%"
        if match.group(3) is not None:
            highest = max(highest, int(match.group(3)))
            return text
        name = match.group(1) or match.group(2)
        if name is not None:
            if name not in names:
                highest += 1
                names[name] = highest
            return f"${names[name]}"
        highest += 1
        return f"${highest}"

    for kind, text in segments(sql):
        out.append(_NAMED.sub(replace, text) if kind == "code" else text)
    return "".join(out), highest


# Each starts with a lookahead at the characters a match can start with: the other
# positions are passed over without trying the lookbehind and the alternatives (2x faster).
_NUMBER = re.compile(r"(?=[\d.])(?<![\w$.])(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
_PARAM = re.compile(r"(?=[$%:])(?:\$\d+|%\(\w+\)s|%s|(?<![:\w]):[A-Za-z_]\w*)")
_LIST = re.compile(r"\(\s*\?(\s*,\s*\?)*\s*\)")
# SQLAlchemy's psycopg dialect renders an expanded IN list as ``(%(p_1)s::INTEGER, ...)``:
# a list of the same cast parameter folds to one, the cast kept.
_CAST = r"::[a-z_][a-z_0-9]*(?: [a-z_][a-z_0-9]*)*(?:\(\?(?:, ?\?)?\))?(?:\[\])?"
_CAST_LIST = re.compile(rf"\(\s*\?(?P<cast>{_CAST})(?:\s*,\s*\?(?P=cast))*\s*\)")


def fingerprint_text(sql: str) -> str:
    """``sql`` with literals and parameters as ``?``, lists of them as ``(?)``, white space
    folded, comments dropped and keywords lower-cased: equal for statements that differ
    only in their values."""
    out: list[str] = []
    for kind, text in segments(sql):
        if kind == "code":
            out.append(_NUMBER.sub("?", _PARAM.sub("?", text)).lower())
        elif kind == "string":
            out.append("?")
        elif kind == "ident":
            out.append(text)
        else:
            out.append(" ")
    folded = " ".join("".join(out).split())  # white space folded (str.split's is re's \s)
    return _CAST_LIST.sub(r"(?\g<cast>)", _LIST.sub("(?)", folded))


def fingerprint(text: str) -> str:
    """A short hash of ``fingerprint_text``: equal for statements that differ only in their
    values (the capture in the application's process and check-indexes share it)."""
    return hashlib.sha1(fingerprint_text(text).encode()).hexdigest()[:16]


# -- every token (the column references of an expression: dbctl.pg.sql_lexer) ---------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*)
  | (?P<comment>/\*)
  | (?P<unicode>[Uu]&["'])
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<string>[Ee]'(?:[^'\\]|''|\\.)*'|[BbXxNn]?'(?:[^']|'')*')
  | (?P<dollar>\$(?:[A-Za-z\x80-\U0010ffff_][A-Za-z\x80-\U0010ffff_0-9]*)?\$)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z\x80-\U0010ffff_][A-Za-z\x80-\U0010ffff_0-9$]*)
  | (?P<cast>::)
  | (?P<other>[^'"])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


class LexError(ValueError):
    """Text this lexer does not follow (a Unicode escape, an unterminated comment...)."""


def tokens(sql: str) -> list[Token]:
    """The tokens of ``sql``, whitespace and comments left out."""
    found: list[Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if match is None:  # an unterminated quote
            raise LexError(f"cannot read {sql[position : position + 20]!r}")
        kind = match.lastgroup or "other"
        end = match.end()
        if kind == "unicode":
            raise LexError("U& escapes are not followed")
        if kind == "comment":
            end = comment_end(sql, position)
            if end < 0:
                raise LexError("unterminated comment")
        elif kind == "dollar":
            close = sql.find(match.group(), end)
            if close < 0:
                raise LexError("unterminated dollar quote")
            end = close + len(match.group())
            kind = "string"
        if kind not in ("space", "comment"):
            found.append(Token(kind, sql[position:end], position, end))
        position = end
    return found


def identifier(token: Token) -> str | None:
    """The name an identifier token stands for (folded and cut like the scanner's)."""
    from dbctl.pg.identifiers import truncate  # here: the capture imports this module

    if token.kind == "quoted":
        return truncate(token.text[1:-1].replace('""', '"'))
    if token.kind == "word":
        return truncate(token.text.translate(_LOWER))
    return None


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
