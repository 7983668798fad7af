"""The names in a parsed statement's nodes, for the rules of ``dbctl.lint.rules`` and the
fixes of ``dbctl.lint.fixes``: a table as written (``Table``), the strings of a name list, a
type's name, the constraint name PostgreSQL would choose, and a walk over the node tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from pglast import ast
from pglast.enums import ConstrType

from dbctl.pg.identifiers import make_object_name, name_addition, quote_ident


class Table(NamedTuple):
    schema: str | None
    name: str

    @property
    def shown(self) -> str:
        bare = quote_ident(self.name)
        return bare if self.schema is None else f"{quote_ident(self.schema)}.{bare}"

    @property
    def bare(self) -> str:
        return self.name.lower()

    def schema_arg(self, key: str = "schema") -> list[str]:
        return [f"{key}={self.schema!r}"] if self.schema else []

    def range_var(self) -> ast.RangeVar:
        return ast.RangeVar(schemaname=self.schema, relname=self.name, inh=True, relpersistence="p")


def table_of(relation: ast.RangeVar | None) -> Table:
    if relation is None:
        return Table(None, "")
    return Table(relation.schemaname, relation.relname or "")


def names_of(nodes: Sequence[Any] | None) -> list[str]:
    return [node.sval or "" for node in nodes or () if isinstance(node, ast.String)]


def qualified(names: Sequence[Any]) -> Table:
    parts = names_of(names)
    return Table(parts[-2] if len(parts) > 1 else None, parts[-1] if parts else "")


def type_name(node: ast.TypeName | None) -> str:
    return (names_of(node.names if node else None) or [""])[-1].lower()


def constraint_name(table: Table, constraint: ast.Constraint) -> str:
    """The name PostgreSQL would choose (ChooseConstraintName's first try): a CHECK on one
    column is ``t_col_check``, on several ``t_check``."""
    if constraint.contype == ConstrType.CONSTR_FOREIGN:
        return make_object_name(table.name, name_addition(names_of(constraint.fk_attrs)), "fkey")
    columns = {
        names_of(node.fields)[-1]
        for node in walk(constraint.raw_expr)
        if isinstance(node, ast.ColumnRef) and names_of(node.fields)
    }
    return make_object_name(table.name, columns.pop() if len(columns) == 1 else None, "check")


def walk(node: Any) -> Iterator[ast.Node]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, name) for name in item)
        elif isinstance(item, tuple):
            stack.extend(item)
