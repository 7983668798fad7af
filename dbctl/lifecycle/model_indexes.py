"""Indexes of the models: which ones PostgreSQL must build, and the text of the others.

A plain btree index (keys that are columns, with ASC/DESC and NULLS options, an INCLUDE
list, NULLS NOT DISTINCT) is rendered here exactly as ``pg_get_indexdef()`` prints it.
Expression keys, predicates, operator classes, other access methods and storage options
are left to PostgreSQL: the index becomes a ``Unit`` built on a temporary table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql.base import IDX_USING
from sqlalchemy.sql import coercions, operators, roles
from sqlalchemy.sql.elements import ColumnClause, UnaryExpression

from dbctl.lifecycle.model_units import IndexPlan, ModelsNeedDatabase, TablePlan
from dbctl.pg.identifiers import Quoting, truncate

if TYPE_CHECKING:
    from dbctl.lifecycle.model_plan import Planner


def plan_index(planner: Planner, index: Any, table: TablePlan) -> IndexPlan:
    """What ``CreateIndex(index)`` says, as PGDDLCompiler.visit_create_index builds it."""
    compiler = planner.compiler
    if getattr(index, "_ddl_if", None) is not None:
        raise ModelsNeedDatabase(f"index {index.name}: a conditional DDL rule")
    compiler.ddl._verify_index_table(index)
    name = compiler.index_name(index)
    options = index.dialect_options["postgresql"]
    using = options["using"]
    method = compiler.preparer.validate_sql_phrase(using, IDX_USING).lower() if using else None
    ops = options["ops"] or {}
    include = tuple(
        truncate(index.table.c[item].name if isinstance(item, str) else item.name)
        for item in options["include"] or ()
    )
    distinct = options["nulls_not_distinct"]
    expressions = list(index.expressions)
    keys = [_plain_key(expression, index.table) for expression in expressions]
    with_ops = any(getattr(e, "key", None) in ops for e in expressions if hasattr(e, "key"))
    plain = (
        method in (None, "btree")
        and not with_ops
        and not options["with"]
        and options["where"] is None
        and all(key is not None for key in keys)
    )
    if plain:
        found = [key for key in keys if key is not None]
        return IndexPlan(
            name,
            bool(index.unique),
            tuple(key[0] for key in found),
            tuple(key[1] for key in found),
            tuple(key[2] for key in found),
            include,
            distinct is True,
        )
    tail = _tail(compiler, index, method=method, ops=ops, include=include, distinct=distinct)
    return IndexPlan(
        name, bool(index.unique), use=compiler.use("index", tail, table, "UNIQUE " * index.unique)
    )


def _tail(
    compiler: Any,
    index: Any,
    *,
    method: str | None,
    ops: dict[str, str],
    include: tuple[str, ...],
    distinct: bool | None,
) -> str:
    """CREATE INDEX's text after ``ON table``, as SQLAlchemy writes it (no TABLESPACE)."""
    options = index.dialect_options["postgresql"]
    parts = []
    for expression in index.expressions:
        element = expression if isinstance(expression, ColumnClause) else expression.self_group()
        text = compiler.expression(element)
        key = getattr(expression, "key", None)
        parts.append(text + (f" {ops[key]}" if hasattr(expression, "key") and key in ops else ""))
    tail = f"USING {method or 'btree'} ({', '.join(parts)})"
    if include:
        tail += " INCLUDE (" + ", ".join(compiler.preparer.quote(c) for c in include) + ")"
    if distinct is not None:
        tail += " NULLS NOT DISTINCT" if distinct else " NULLS DISTINCT"
    if options["with"]:
        tail += f" WITH ({_storage_parameters(compiler, options['with'])})"
    if options["where"] is not None:
        where = coercions.expect(roles.DDLExpressionRole, options["where"])
        tail += " WHERE " + compiler.expression(where)
    return tail


_MODIFIERS = {
    operators.desc_op: ("direction", True),
    operators.asc_op: ("direction", False),
    operators.nulls_first_op: ("nulls", True),
    operators.nulls_last_op: ("nulls", False),
}


def _plain_key(expression: Any, table: Any) -> tuple[str, bool, bool] | None:
    """(column, descending, nulls first) of a key that is a column with sort options."""
    direction: bool | None = None
    nulls: bool | None = None
    while isinstance(expression, UnaryExpression) and expression.modifier in _MODIFIERS:
        which, value = _MODIFIERS[expression.modifier]
        if which == "direction":
            if direction is not None:
                return None
            direction = value
        else:
            if nulls is not None:
                return None
            nulls = value
        expression = expression.element
    if not isinstance(expression, Column) or expression.table is not table:
        return None
    descending = bool(direction)
    return truncate(expression.name), descending, descending if nulls is None else nulls


def key_options(descending: bool, nulls_first: bool) -> str:
    """The sort options pg_get_indexdef() prints after a btree key."""
    if descending:
        return " DESC" if nulls_first else " DESC NULLS LAST"
    return " NULLS FIRST" if nulls_first else ""


def head(quoting: Quoting, table: TablePlan, name: str, unique: bool) -> str:
    """pg_get_indexdef() up to ``USING``: the same for every index."""
    qualified = quoting.qualified(table.schema, table.name)
    return f"CREATE {'UNIQUE ' if unique else ''}INDEX {quoting.ident(name)} ON {qualified} "


def definition(
    quoting: Quoting,
    table: TablePlan,
    name: str,
    *,
    unique: bool,
    keys: str,
    include: tuple[str, ...] = (),
    nulls_not_distinct: bool = False,
) -> str:
    """pg_get_indexdef() of a btree index whose key list (``keys``) is already rendered."""
    text = head(quoting, table, name, unique) + f"USING btree ({keys})"
    if include:
        text += f" INCLUDE ({quoting.idents(include)})"
    return text + (" NULLS NOT DISTINCT" if nulls_not_distinct else "")


def _storage_parameters(compiler: Any, parameters: dict[str, Any]) -> str:
    """``WITH (...)`` of an index as the installed SQLAlchemy renders it (before 2.0.36 or
    so, every parameter as ``name = value``)."""
    render = getattr(compiler.ddl, "_prepare_withclause_opts", None)
    if render is not None:
        return str(render(parameters))
    return ", ".join(f"{name} = {value}" for name, value in parameters.items())
