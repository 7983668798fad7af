"""The only statement text ``--validate`` sends: one query, parsed and re-emitted.

Statement text comes from files, capture logs and pg_stat_statements: it is input, and
may hold anything (``...; COMMIT; CREATE TABLE ...``). ``explainable`` parses it with
sqlglot (postgres), keeps it only when it is exactly one SELECT, INSERT, UPDATE or DELETE
(``WITH`` and set operations of those included; ``SELECT ... INTO`` is a CREATE TABLE AS
and is refused), and re-emits that one tree without its comments. The result is checked
again: it must split into one statement and parse back to one tree of the same kind.
Anything else raises ``NotExplainable`` with the reason, and nothing is sent.

This is one of three guards; ``whatif`` adds the other two: the text goes out on the
extended protocol (which refuses more than one command), inside a read-only transaction
that is always rolled back.
"""

from __future__ import annotations

from typing import Any

from dbctl.access.lexer import split_statements, to_dollar_params

_KINDS = ("Select", "Union", "Intersect", "Except", "Insert", "Update", "Delete")


class NotExplainable(ValueError):
    """The statement is not sent to the server; the message says why."""


def _trees(sql: str) -> list[Any]:
    import sqlglot
    from sqlglot.errors import SqlglotError

    from dbctl.access.analyze import quiet_sqlglot

    quiet_sqlglot()
    try:
        return [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except (SqlglotError, RecursionError) as exc:
        raise NotExplainable(f"it does not parse ({_first_line(str(exc))})") from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # sqlglot's parser fails this way on operators it does not know (<#>, ?#).
        raise NotExplainable(f"it does not parse ({type(exc).__name__})") from None


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else "syntax error"


def _kind(tree: Any) -> str:
    from sqlglot import exp

    name = type(tree).__name__
    if name not in _KINDS:
        return ""
    if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
        return ""  # SELECT ... INTO creates a table
    return name


def explainable(text: str) -> tuple[str, int]:
    """``text`` as the one statement EXPLAIN may take, and how many ``$n`` parameters it
    has (``%s``, ``%(name)s`` and ``:name`` rewritten as ``$n``)."""
    sql, count = to_dollar_params(text)
    trees = _trees(sql)
    if len(trees) != 1:
        raise NotExplainable(
            "it is empty" if not trees else f"it holds {len(trees)} statements, not one"
        )
    kind = _kind(trees[0])
    if not kind:
        raise NotExplainable(
            f"only SELECT, INSERT, UPDATE and DELETE are explained, not {_head(trees[0])}"
        )
    try:
        emitted = trees[0].sql(dialect="postgres", comments=False)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise NotExplainable(f"it cannot be written back ({type(exc).__name__})") from None
    parts = list(split_statements(emitted))
    again = _trees(emitted) if len(parts) == 1 else []
    if len(again) != 1 or _kind(again[0]) != kind:
        raise NotExplainable("its re-written text is not one statement of the same kind")
    return emitted, count


def _head(tree: Any) -> str:
    from sqlglot import exp

    if isinstance(tree, exp.Select):
        return "SELECT ... INTO"
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()[:30] or "a command"
    return type(tree).__name__.upper()


__all__ = ["NotExplainable", "explainable"]
