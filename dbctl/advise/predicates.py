"""When a partial index's predicate holds for a statement, when an expression index
matches an expression: small, conservative checks with sqlglot (postgres dialect).

A predicate is implied when each of its conjuncts is one of:

- ``col IS NULL``: the statement has ``col IS NULL``;
- ``col IS NOT NULL``: the statement compares ``col`` with ``=``, IN or a range (none of
  which a NULL passes), or says ``col IS NOT NULL``;
- ``col = <constant>``, ``col`` and ``NOT col`` (booleans): the statement has the same
  conjunct (``col = true`` and ``col IS TRUE`` count as ``col``).

Anything else is taken as not implied: the index is then not counted as covering.
Columns are matched by name (qualifiers are dropped), casts and parentheses ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from dbctl.access.model import TableAccess

if TYPE_CHECKING:
    from sqlglot import exp

Atom = tuple[str, str, str]  # (column, operator, normalised constant)


def _strip(node: exp.Expr) -> exp.Expr:
    from sqlglot import exp

    while isinstance(node, exp.Cast | exp.Paren):
        node = node.this
    return node


def _constant(node: exp.Expr) -> str | None:
    from sqlglot import exp

    node = _strip(node)
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Literal):
        return ("s:" if node.is_string else "n:") + str(node.this)
    if isinstance(node, exp.Neg):
        inner = _constant(node.this)
        return None if inner is None or not inner.startswith("n:") else "n:-" + inner[2:]
    return None


def _atom(node: exp.Expr) -> Atom | None:
    """A conjunct as (column, operator, constant), when it is a simple one."""
    from sqlglot import exp

    node = _strip(node)
    if isinstance(node, exp.Column):
        return (node.name, "=", "true")
    if isinstance(node, exp.Not) and isinstance(_strip(node.this), exp.Column):
        return (_strip(node.this).name, "=", "false")
    negated = isinstance(node, exp.Not) and isinstance(_strip(node.this), exp.Is)
    if negated:
        node = _strip(node.this)
    if isinstance(node, exp.Is):
        negated = negated != bool(node.args.get("negate"))
        target, value = _strip(node.this), _strip(node.expression)
        if isinstance(target, exp.Column) and isinstance(value, exp.Null):
            return (target.name, "is not" if negated else "is", "null")
        if isinstance(target, exp.Column) and isinstance(value, exp.Boolean) and not negated:
            return (target.name, "=", "true" if value.this else "false")
        return None
    if isinstance(node, exp.EQ):
        for side, value in ((node.this, node.expression), (node.expression, node.this)):
            column = _strip(side)
            constant = _constant(value)
            if isinstance(column, exp.Column) and constant is not None:
                return (column.name, "=", constant)
    return None


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    from sqlglot import exp

    if node is None:
        return []
    node = _strip(node)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


@lru_cache(maxsize=4096)
def _predicate_atoms(predicate: str) -> tuple[Atom, ...] | None:
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(predicate, read="postgres")
    except SqlglotError:
        return None
    atoms = [_atom(node) for node in _conjuncts(tree)]
    return None if any(a is None for a in atoms) else tuple(a for a in atoms if a is not None)


@lru_cache(maxsize=4096)
def _statement_atoms(text: str) -> frozenset[Atom]:
    """Every simple conjunct of the statement's WHERE and JOIN ... ON clauses."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(text, read="postgres")
    except SqlglotError:
        return frozenset()
    if tree is None:
        return frozenset()
    atoms: set[Atom] = set()
    for clause in tree.find_all(exp.Where, exp.Join):
        condition = clause.this if isinstance(clause, exp.Where) else clause.args.get("on")
        for node in _conjuncts(condition):
            atom = _atom(node)
            if atom is not None:
                atoms.add(atom)
    return frozenset(atoms)


def fixed_columns(predicate: str) -> frozenset[str]:
    """The columns a predicate pins to one value (``col = const``, ``col IS NULL``, ``col``):
    a partial index with it serves equality on them without holding them in its key."""
    atoms = _predicate_atoms(predicate) or ()
    return frozenset(column for column, operator, _ in atoms if operator in ("=", "is"))


def implies(predicate: str, access: TableAccess, statement_text: str) -> bool:
    """Whether the statement's filters on this table imply a partial index's predicate."""
    atoms = _predicate_atoms(predicate)
    if not atoms:
        return False
    compared = {*access.equality, *access.in_lists, *access.ranges}
    for column, operator, value in atoms:
        if operator == "is":  # the extraction lists every IS NULL
            if column in access.nulls:
                continue
            return False
        if operator == "is not" and column in compared:
            continue
        if operator == "=" and value not in ("true", "false") and column not in compared:
            return False  # a constant comparison is an equality the extraction lists
        if (column, operator, value) not in _statement_atoms(_dollars(statement_text)):
            return False
    return True


@lru_cache(maxsize=4096)
def _dollars(text: str) -> str:
    from dbctl.access.lexer import to_dollar_params

    return to_dollar_params(text)[0]


_CAST = re.compile(r"::\s*[a-z_][a-z0-9_ ]*(\(\d+(,\s*\d+)?\))?(\[\])?", re.IGNORECASE)


def _squeeze(text: str) -> str:
    return re.sub(r"[\s()]", "", text).lower()


def _bare(tree: exp.Expr) -> exp.Expr:
    """A copy of ``tree`` without casts, parentheses and column qualifiers."""
    from sqlglot import exp

    tree = _strip(tree).copy()
    for node in list(tree.find_all(exp.Cast, exp.Paren, exp.Column)):
        if isinstance(node, exp.Column):
            node.set("table", None)
        else:
            node.replace(node.this)
    return tree


@lru_cache(maxsize=4096)
def _expressions(text: str) -> tuple[str, ...]:
    """``text`` and each of its sub-expressions (the whole first), without casts,
    parentheses and spaces, lower-cased; the whole text alone when it does not parse."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(text, read="postgres")
    except SqlglotError:
        tree = None
    if tree is None:
        return (_squeeze(_CAST.sub("", text)),)
    return tuple(_squeeze(node.sql(dialect="postgres")) for node in _bare(tree).walk())


def expression_matches(index_expression: str, predicate: str) -> bool:
    """Whether an expression index key (``lower((email)::text)``) is an expression the
    predicate compares (``lower(email) = $1``)."""
    wanted = _expressions(index_expression)[0]
    return bool(wanted) and wanted in _expressions(_dollars(predicate))
