"""Column references in a SQL expression, found with PostgreSQL's lexical rules (the
tokens of ``dbctl.access.lexer``, the one SQL lexer).

``rename_columns`` finds the tokens of an expression (a check constraint, an index key, a
partial index predicate, a generated column) that name columns of its table, and replaces
each with a marker, ``\\x00<n>\\x00`` for the n-th distinct column met. The rest of the text
is kept byte for byte, so PostgreSQL parses the same expression over other column names.

An identifier is taken for a column when it names one of the table's columns (unquoted
names fold to lower case, like the server's) and its place allows a column reference: not
after ``.``, ``::``, ``AS`` or ``COLLATE``, not before ``(`` (a function), ``.`` (a
qualifier) or a string (a typed literal such as ``date '2024-01-01'``), and, unquoted, not
a reserved or type/function-name keyword. A token wrongly taken for a column becomes a name
PostgreSQL does not know, which fails loudly rather than deparsing wrong; the caller then
retries with the real names.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from dbctl.access.lexer import LexError, Token, identifier, tokens

__all__ = ["MARKER", "LexError", "Token", "fill", "identifier", "rename_columns", "tokens"]

MARKER = re.compile("\x00(\\d+)\x00")

_NOT_BEFORE = frozenset({".", "::", "as", "collate"})
_NOT_AFTER = frozenset({"(", "."})


def rename_columns(
    sql: str, columns: Collection[str], reserved: Collection[str]
) -> tuple[str, tuple[str, ...]]:
    """``sql`` with each reference to one of ``columns`` replaced by a marker.

    Returns the template and the columns met, in order: marker ``n`` stands for
    ``refs[n]``. ``reserved``: the keywords that cannot name a column unquoted (categories
    R and T of ``pg_get_keywords()``). Raises ``LexError`` on text it cannot follow.
    """
    found = tokens(sql)
    refs: list[str] = []
    parts: list[str] = []
    position = 0
    for index, token in enumerate(found):
        name = identifier(token)
        if name is None or name not in columns:
            continue
        if token.kind == "word" and name in reserved:
            continue
        before = found[index - 1] if index else None
        after = found[index + 1] if index + 1 < len(found) else None
        if before is not None and _lowered(before) in _NOT_BEFORE:
            continue
        if after is not None and (after.text in _NOT_AFTER or after.kind == "string"):
            continue
        if name not in refs:
            refs.append(name)
        parts.append(sql[position : token.start])
        parts.append(f"\x00{refs.index(name)}\x00")
        position = token.end
    parts.append(sql[position:])
    return "".join(parts), tuple(refs)


def _lowered(token: Token) -> str:
    return token.text.lower() if token.kind in ("word", "cast", "other") else ""


def fill(template: str, names: Mapping[int, str] | list[str] | tuple[str, ...]) -> str:
    """``template`` with marker ``n`` replaced by ``names[n]``."""
    return MARKER.sub(lambda match: names[int(match.group(1))], template)
