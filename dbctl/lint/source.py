"""What is read from a revision's Python rather than from its SQL.

The line a finding belongs to, for GitHub's and SARIF's annotations.

The rules read the SQL Alembic prints, which carries no line of the Python that made it.
So each simple statement of ``upgrade()`` (inside ``with``, ``if`` and loops too) is
scored by the names it shares with the SQL (tables, columns, indexes, constraints; SQL's
own words count next to nothing, unless the SQL quotes one as a name: ``"order"``) and
the best one's first line is the finding's. A
statement that names nothing the SQL names gives no line rather than a wrong one.

The transaction control ``upgrade()`` runs itself (``op.execute("COMMIT")``): in Alembic's
offline SQL it prints as an ``autocommit_block`` does, so only the source tells them apart.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from dbctl.pg.identifiers import KEYWORDS

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_QUOTED = re.compile(r'"((?:[^"]|"")+)"')
# SQL's words in DDL that PostgreSQL does not reserve: as common as keywords in revisions
_DDL_WORD_TEXT = """
    add alter attach cascade comment data detach disable drop enable exclusive first if index
    key lock mode nowait owned public rename replace restrict schema sequence set share
    statement text timeout transaction trigger type valid validate value view zone
"""
_DDL_WORDS = frozenset(_DDL_WORD_TEXT.split())
_COMMON = KEYWORDS | _DDL_WORDS
_COMMON_WEIGHT = 0.01


_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(source: str) -> list[_Function]:
    """The module-level functions of ``source``: ``upgrade`` first, then the helpers it
    may call (never ``downgrade``); [] for a file Python cannot read."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # a file Python cannot read: no line, not an error
        return []
    found = [node for node in tree.body if isinstance(node, _Function)]
    upgrade = [node for node in found if node.name == "upgrade"]
    if not upgrade:
        return []
    return upgrade + [node for node in found if not node.name.startswith(("upgrade", "downgrade"))]


def _upgrade(source: str) -> _Function | None:
    functions = _functions(source)
    return functions[0] if functions else None


def _simple(
    body: list[ast.stmt], lines: list[str], around: str = ""
) -> Iterator[tuple[ast.stmt, str]]:
    """The statements of ``body`` that hold no other statement, in order, each with the
    headers of the ``with`` blocks around it (``op.batch_alter_table("users")`` names the
    table its statements alter)."""
    for node in body:
        if isinstance(node, ast.With | ast.AsyncWith):
            header = "\n".join(lines[node.lineno - 1 : node.body[0].lineno - 1])
            yield from _simple(node.body, lines, f"{around}\n{header}")
            continue
        inner: list[ast.stmt] = [
            child
            for name in ("body", "orelse", "finalbody")
            for child in getattr(node, name, ())
            if isinstance(child, ast.stmt)
        ]
        inner += [child for handler in getattr(node, "handlers", ()) for child in handler.body]
        if inner:
            yield from _simple(inner, lines, around)
        else:
            yield node, around


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}


def _best(
    functions: list[_Function], wanted: set[str], lines: list[str], named: set[str]
) -> int | None:
    """The first line of the simple statement of ``functions`` that shares the most names
    with ``wanted`` (the earliest of equals), if one shares a name at all; ``named``: the
    words the SQL quotes as names, which count in full even when they are SQL's."""
    best: tuple[float, int] | None = None
    for function in functions:
        for node, around in _simple(function.body, lines):
            end = node.end_lineno or node.lineno
            shared = wanted & _words(around + "\n" + "\n".join(lines[node.lineno - 1 : end]))
            score = sum(
                _COMMON_WEIGHT if word in _COMMON and word not in named else 1.0 for word in shared
            )
            if score >= 1.0 and (best is None or score > best[0]):
                best = (score, node.lineno)
    return best[1] if best else None


def locate(source: str, statement: str) -> int | None:
    """The first line of the ``upgrade()`` statement that makes ``statement`` (else of a
    helper function's, when upgrade() only calls one), or None."""
    functions = _functions(source)
    if not functions:
        return None
    wanted, lines = _words(statement), source.splitlines()
    named = {word for quoted in _QUOTED.findall(statement) for word in _words(quoted)}
    found = _best(functions[:1], wanted, lines, named)
    return found if found is not None else _best(functions[1:], wanted, lines, named)


def first_line_of_upgrade(source: str) -> int | None:
    """The line of ``upgrade()``'s first statement (after its docstring): where a setting
    for the whole revision, a ``lock_timeout``, goes."""
    function = _upgrade(source)
    if function is None:
        return None
    body = function.body
    if (
        len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return body[0].lineno


_TRANSACTION_WORD = re.compile(r"\b(begin|start|commit|end|rollback|abort|prepare)\b", re.I)


def transaction_control(source: str) -> list[tuple[int, str]]:
    """The transactions ``upgrade()`` begins or ends itself, in its string literals: each
    literal's line and what it does (BEGIN, COMMIT, ROLLBACK, PREPARE TRANSACTION)."""
    from pglast import ast as pg
    from pglast import parse_sql
    from pglast.enums import TransactionStmtKind as Kind
    from pglast.parser import ParseError

    words = {
        Kind.TRANS_STMT_BEGIN: "BEGIN",
        Kind.TRANS_STMT_START: "BEGIN",
        Kind.TRANS_STMT_COMMIT: "COMMIT",
        Kind.TRANS_STMT_ROLLBACK: "ROLLBACK",
        Kind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
    }
    function = _upgrade(source)
    if function is None:
        return []
    found: list[tuple[int, str]] = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if not _TRANSACTION_WORD.search(node.value):
            continue
        try:
            parsed = parse_sql(node.value)
        except (ParseError, ValueError):
            continue
        for raw in parsed:
            if isinstance(raw.stmt, pg.TransactionStmt) and raw.stmt.kind in words:
                found.append((node.lineno, words[raw.stmt.kind]))
    return sorted(found)
