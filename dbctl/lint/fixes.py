"""The safe patterns of ``dbctl lint-migrations``, as the Alembic code a hit's ``fix`` shows:
each builder takes the statement's nodes (pglast) and returns the lines to write instead.

Names enter the code as ``repr()`` literals, SQL is pglast's deparse of the statement's own
nodes or built with ``quote_ident``, and comments carry no raw name or SQL. The rules that
call these builders are in ``dbctl.lint.rules``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pglast import ast
from pglast.enums import (
    AlterTableType,
    ConstrType,
    DropBehavior,
    ObjectType,
    SortByDir,
    SortByNulls,
)
from pglast.stream import RawStream

from dbctl.lint.names import Table, names_of, table_of, type_name
from dbctl.pg.identifiers import make_object_name, quote_ident, quote_literal, truncate

AUTOCOMMIT = "with op.get_context().autocommit_block():"
SERIALS = {"smallserial": "int2", "serial2": "int2", "serial": "int4", "serial4": "int4"}
SERIALS |= {"bigserial": "int8", "serial8": "int8"}
FK_ACTIONS = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
# kinds of constraint: the fixes add the column without them, then add them safely
VALIDATED = frozenset({ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK})
UNIQUE = frozenset({ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY})
NOT_NULL = frozenset({ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY})
_FILLS = frozenset(
    {
        ConstrType.CONSTR_DEFAULT,
        ConstrType.CONSTR_IDENTITY,
        ConstrType.CONSTR_NOTNULL,
        ConstrType.CONSTR_PRIMARY,
    }
)


def autocommit(node: ast.Node) -> str:
    """The statement as it is, outside the migration's transaction."""
    return f"{AUTOCOMMIT}\n    {_execute(sql(node))}"


def index_fix(node: ast.IndexStmt) -> str:
    """The index built CONCURRENTLY outside the transaction: op.create_index when the index
    is plain columns, else the statement itself with CONCURRENTLY."""
    columns = _plain(node.indexParams)
    including = _plain(node.indexIncludingParams)
    relation = node.relation
    plain = (
        node.idxname and columns and including is not None and relation is not None
        and relation.inh and not (node.whereClause or node.options or node.tableSpace)
    )  # fmt: skip
    if not plain:
        concurrent = copy.copy(node)
        concurrent.concurrent = True
        return autocommit(concurrent)
    table = table_of(relation)
    args = [repr(node.idxname), repr(table.name), repr(columns), *table.schema_arg()]
    if node.unique:
        args.append("unique=True")
    if node.if_not_exists:
        args.append("if_not_exists=True")
    if node.accessMethod and node.accessMethod != "btree":
        args.append(f"postgresql_using={node.accessMethod!r}")
    if including:
        args.append(f"postgresql_include={including!r}")
    if node.nulls_not_distinct:
        args.append("postgresql_nulls_not_distinct=True")
    args.append("postgresql_concurrently=True")
    return f"{AUTOCOMMIT}\n    op.create_index({', '.join(args)})"


_PLACEHOLDER = "dbctl_partition_placeholder"


def partitioned_index_fix(node: ast.IndexStmt) -> str:
    """On a partitioned table, where CREATE INDEX CONCURRENTLY is refused: the index on the
    parent alone (``ON ONLY``: no scan, invalid until complete), then each partition's
    built concurrently in the partition's schema and attached to it."""
    table = table_of(node.relation)
    name = node.idxname or make_object_name(table.name, None, "idx")
    parent = copy.copy(node)
    parent.idxname, parent.concurrent = name, False
    parent.relation = copy.copy(node.relation) or table.range_var()
    parent.relation.inh = False
    child = copy.copy(node)
    child.idxname, child.concurrent, child.if_not_exists = f"{_PLACEHOLDER}_i", True, False
    child.relation = ast.RangeVar(relname=_PLACEHOLDER, inh=True, relpersistence="p")
    build = (
        _braced(sql(child))
        .replace(f"{_PLACEHOLDER}_i", "{index}").replace(_PLACEHOLDER, "{schema}.{partition}")
    )  # fmt: skip
    own = Table(table.schema, name).shown  # the parent's index, in the parent's schema
    attach = f"ALTER INDEX {_braced(own)} ATTACH PARTITION {{schema}}.{{index}}"
    stem = make_object_name(name, None, "p000")[: -len("000")]  # 63 bytes with the number
    index = '"' + _braced(stem.replace('"', '""')) + '{number}"'  # an f-string's text
    partitions = (
        "SELECT quote_ident(n.nspname), quote_ident(c.relname) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE i.inhparent = {quote_literal(table.shown)}::regclass"
    )
    return "\n".join(
        [
            f"# {table.shown} is partitioned: CREATE INDEX CONCURRENTLY is refused on it (and on"
            "\n# a partition partitioned in turn: give it the same steps, one level down)",
            _execute(sql(parent)),
            AUTOCOMMIT,
            f"    partitions = op.get_bind().exec_driver_sql({partitions!r}).all()",
            "    for number, (schema, partition) in enumerate(partitions):",
            f"        index = f{index!r}",
            f"        op.execute(f{build!r})",
            f"        op.execute(f{attach!r})",
        ]
    )


def _braced(text: str) -> str:
    """``text`` as the literal part of an f-string."""
    return text.replace("{", "{{").replace("}", "}}")


def drop_index_fix(
    node: ast.DropStmt, indexes: list[Table], index_tables: Mapping[str, Table]
) -> str:
    """``index_tables``: the table of each index created so far, by lower-cased name."""
    lines = [AUTOCOMMIT]
    if node.behavior == DropBehavior.DROP_CASCADE:
        lines.append(
            "    # DROP INDEX CONCURRENTLY takes no CASCADE: drop what depends on it first"
        )
    for index in indexes:
        args = [repr(index.name)]
        if (table := index_tables.get(index.bare)) is not None:
            args.append(f"table_name={table.name!r}")
        args += index.schema_arg()
        if node.missing_ok:
            args.append("if_exists=True")
        lines.append(f"    op.drop_index({', '.join([*args, 'postgresql_concurrently=True'])})")
    return "\n".join(lines)


def not_null_lines(table: Table, column: str, version: int) -> list[str]:
    check = quote_ident(make_object_name(table.name, column, "not_null"))
    target, shown = table.shown, quote_ident(column)
    lines = [
        _execute(
            f"ALTER TABLE {target} ADD CONSTRAINT {check} CHECK ({shown} IS NOT NULL) NOT VALID"
        ),
        "# in a later revision (VALIDATE CONSTRAINT takes a SHARE UPDATE EXCLUSIVE lock: reads",
        "# and writes go on while it scans):",
        _execute(f"ALTER TABLE {target} VALIDATE CONSTRAINT {check}"),
    ]
    if version < 120000:
        return [*lines, "# before PostgreSQL 12 SET NOT NULL scans anyway: keep the CHECK instead"]
    return [
        *lines,
        _execute(f"ALTER TABLE {target} ALTER COLUMN {shown} SET NOT NULL")
        + "  # no scan: the valid CHECK proves it",
        _execute(f"ALTER TABLE {target} DROP CONSTRAINT {check}"),
    ]


def nullable_fix(table: Table, column: ast.ColumnDef, version: int) -> str:
    """ADD COLUMN ... NOT NULL without a DEFAULT: the column added nullable, then the CHECK."""
    return "\n".join(
        [
            "# when one value suits the existing rows, give the column a constant DEFAULT",
            "# instead (no rewrite since PostgreSQL 11); else add it nullable:",
            _execute(_alter(table, _add_column_cmd(column, drop=NOT_NULL))),
            "# the code writes it from now on; backfill the other rows in batches, then:",
            *not_null_lines(table, column.colname or "", version),
        ]
    )


def default_fix(
    table: Table, column: ast.ColumnDef, default: Any, *, not_null: bool, version: int
) -> str:
    """The column added plain, its default set for the rows to come, the rest backfilled."""
    name = column.colname or ""
    target, shown = table.shown, quote_ident(name)
    lines = [_execute(_alter(table, _add_column_cmd(column, _FILLS)))]
    if default is None:  # serial or identity: a sequence of its own
        sequence = Table(table.schema, make_object_name(table.name, name, "seq")).shown
        lines.append(_execute(f"CREATE SEQUENCE {sequence} OWNED BY {target}.{shown}"))
        value = f"nextval({quote_literal(sequence)}::regclass)"
    else:
        value = sql(default)
    lines += [
        _execute(f"ALTER TABLE {target} ALTER COLUMN {shown} SET DEFAULT {value}"),
        "# the rows inserted from now on get the default; backfill the others in batches, one",
        f"# transaction each: {f'UPDATE {target} SET {shown} = {value} WHERE {shown} IS NULL'!r}",
    ]
    if not_null:
        lines += ["# then, for NOT NULL:", *not_null_lines(table, name, version)]
    return "\n".join(lines)


def stored_fix(table: Table, column: ast.ColumnDef, expr: Any) -> str:
    shown = quote_ident(column.colname or "")
    backfill = f"UPDATE {table.shown} SET {shown} = {sql(expr)} WHERE {shown} IS NULL"
    return "\n".join(
        [
            _execute(_alter(table, _add_column_cmd(column, {ConstrType.CONSTR_GENERATED}))),
            "# a plain column: the code (or a trigger) keeps it current; backfill the existing",
            f"# rows in batches, one transaction each: {backfill!r}",
        ]
    )


def not_valid_fix(
    table: Table, constraint: ast.Constraint, name: str, column: ast.ColumnDef | None
) -> str:
    """The FOREIGN KEY or CHECK added NOT VALID, validated in a later revision; ``column``:
    the column it was written on, added first without it."""
    named = copy.copy(constraint)
    named.conname = name
    lines = [] if column is None else [_execute(_alter(table, _add_column_cmd(column, VALIDATED)))]
    lines += [
        _foreign_key_call(table, named) or _execute(_alter(table, _add_constraint_cmd(named))),
        "# in a later revision (VALIDATE CONSTRAINT takes a SHARE UPDATE EXCLUSIVE lock: reads",
        "# and writes go on while it scans):",
        _execute(f"ALTER TABLE {table.shown} VALIDATE CONSTRAINT {quote_ident(name)}"),
    ]
    return "\n".join(lines)


def unique_fix(
    table: Table,
    constraint: ast.Constraint,
    name: str,
    keys: list[str],
    column: ast.ColumnDef | None,
) -> str:
    """The unique index built CONCURRENTLY, then the constraint added USING INDEX."""
    index = ast.IndexStmt(
        idxname=name, relation=table.range_var(), accessMethod="btree",
        indexParams=tuple(_index_elem(key) for key in keys),
        indexIncludingParams=tuple(_index_elem(n) for n in names_of(constraint.including)) or None,
        options=constraint.options, tableSpace=constraint.indexspace, unique=True,
        nulls_not_distinct=constraint.nulls_not_distinct, concurrent=True,
    )  # fmt: skip
    using = ast.Constraint(
        contype=constraint.contype, conname=name, indexname=name,
        deferrable=constraint.deferrable, initdeferred=constraint.initdeferred,
    )  # fmt: skip
    lines = [] if column is None else [_execute(_alter(table, _add_column_cmd(column, UNIQUE)))]
    lines.append(index_fix(index))
    if constraint.contype == ConstrType.CONSTR_PRIMARY:
        lines.append("# the columns must be NOT NULL already, or this scans the table to set it:")
    lines.append(_execute(_alter(table, _add_constraint_cmd(using))))
    return "\n".join(lines)


def column_type_fix(table: Table, name: str, type_sql: str, using: Any, *, coercible: bool) -> str:
    """A new column of the new type, backfilled, swapped in by a later revision."""
    new = truncate(f"{name}_new")
    target, old, fresh = table.shown, quote_ident(name), quote_ident(new)
    value = sql(using) if using is not None else old
    backfill = f"UPDATE {target} SET {fresh} = {value} WHERE {fresh} IS NULL"
    lines = ["# only when the old type does not convert without a rewrite:"] if coercible else []
    lines += [
        _execute(f"ALTER TABLE {target} ADD COLUMN {fresh} {type_sql}"),
        "# the code (or a trigger) writes both columns; backfill in batches, one transaction",
        f"# each: {backfill!r}",
        "# in a later revision, once the code reads the new column:",
        _execute(f"ALTER TABLE {target} DROP COLUMN {old}"),
        _execute(f"ALTER TABLE {target} RENAME COLUMN {fresh} TO {old}"),
    ]
    return "\n".join(lines)


def rename_column_fix(table: Table, old: str, new: str) -> str:
    fresh = quote_ident(new)
    backfill = f"UPDATE {table.shown} SET {fresh} = {quote_ident(old)} WHERE {fresh} IS NULL"
    schema = "".join(f", {arg}" for arg in table.schema_arg())
    return "\n".join(
        [
            "# instead of renaming, add the new column (the ... is the old column's type); the",
            "# code writes both columns from now on:",
            f"op.add_column({table.name!r}, sa.Column({new!r}, ...){schema})",
            f"# backfill in batches, one transaction each: {backfill!r}",
            later("reads the new column only", table, "drop_column", old),
        ]
    )


def rename_table_fix(table: Table, new: str) -> str:
    renamed = Table(table.schema, new).shown
    schema = "".join(f", {arg}" for arg in table.schema_arg())
    return "\n".join(
        [
            f"op.rename_table({table.name!r}, {new!r}{schema})",
            "# the old name goes on working (a simple view is updatable) while the code moves:",
            _execute(f"CREATE VIEW {table.shown} AS SELECT * FROM {renamed}"),
            "# in a later revision, once no code uses the old name:",
            _execute(f"DROP VIEW {table.shown}"),
        ]
    )


def later(condition: str, table: Table, call: str, *names: str, flags: Sequence[str] = ()) -> str:
    args = [repr(table.name), *(repr(n) for n in names), *table.schema_arg(), *flags]
    first = f"# first deploy code that {condition}; then, in a later revision:"
    return f"{first}\nop.{call}({', '.join(args)})"


def sql(node: Any) -> str:
    """The node as SQL: pglast's deparse."""
    return str(RawStream()(node))


# -- Alembic calls and SQL nodes ---------------------------------------------------------------


def _execute(text: str) -> str:
    return f"op.execute({text!r})"


def _foreign_key_call(table: Table, constraint: ast.Constraint) -> str | None:
    """op.create_foreign_key(..., postgresql_not_valid=True) when it can say it all."""
    local, remote = names_of(constraint.fk_attrs), names_of(constraint.pk_attrs)
    plain = constraint.contype == ConstrType.CONSTR_FOREIGN and local and remote
    if not plain or constraint.fk_del_set_cols or constraint.fk_matchtype == "p":
        return None
    referenced = table_of(constraint.pktable)
    args = [repr(v) for v in (constraint.conname, table.name, referenced.name, local, remote)]
    for key, code in (
        ("onupdate", constraint.fk_upd_action),
        ("ondelete", constraint.fk_del_action),
    ):
        if code in FK_ACTIONS:
            args.append(f"{key}={FK_ACTIONS[code]!r}")
    if constraint.deferrable:
        args.append("deferrable=True")
    if constraint.initdeferred:
        args.append("initially='DEFERRED'")
    if constraint.fk_matchtype == "f":
        args.append("match='FULL'")
    args += table.schema_arg("source_schema") + referenced.schema_arg("referent_schema")
    return f"op.create_foreign_key({', '.join([*args, 'postgresql_not_valid=True'])})"


def _alter(table: Table, cmd: ast.AlterTableCmd) -> str:
    stmt = ast.AlterTableStmt(
        relation=table.range_var(), cmds=(cmd,), objtype=ObjectType.OBJECT_TABLE
    )
    return sql(stmt)


def _add_constraint_cmd(constraint: ast.Constraint) -> ast.AlterTableCmd:
    not_valid = copy.copy(constraint)
    if constraint.contype in VALIDATED:
        not_valid.skip_validation, not_valid.initially_valid = True, False
    return ast.AlterTableCmd(subtype=AlterTableType.AT_AddConstraint, def_=not_valid)


def _add_column_cmd(column: ast.ColumnDef, drop: Any) -> ast.AlterTableCmd:
    """ADD COLUMN without the constraints of the kinds in ``drop`` (a serial as its integer
    type when its default goes)."""
    plain = copy.copy(column)
    plain.constraints = (
        tuple(
            c
            for c in column.constraints or ()
            if isinstance(c, ast.Constraint) and c.contype not in drop
        )
        or None
    )
    serial = SERIALS.get(type_name(column.typeName))
    if serial is not None and ConstrType.CONSTR_DEFAULT in drop:
        names = (ast.String(sval="pg_catalog"), ast.String(sval=serial))
        plain.typeName = ast.TypeName(names=names, typemod=-1)
    return ast.AlterTableCmd(subtype=AlterTableType.AT_AddColumn, def_=plain)


def _plain(elements: Sequence[Any] | None) -> list[str] | None:
    """The column names of index elements that are nothing but a column, else None."""
    names = []
    for element in elements or ():
        plain = (
            isinstance(element, ast.IndexElem)
            and element.name
            and not (element.expr or element.collation or element.opclass or element.opclassopts)
        )
        if not plain or element.ordering or element.nulls_ordering:
            return None
        names.append(element.name)
    return names


def _index_elem(name: str) -> ast.IndexElem:
    return ast.IndexElem(
        name=name,
        ordering=SortByDir.SORTBY_DEFAULT,
        nulls_ordering=SortByNulls.SORTBY_NULLS_DEFAULT,
    )
