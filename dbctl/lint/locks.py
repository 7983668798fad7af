"""Which existing tables a statement takes ACCESS EXCLUSIVE on, read from its parse tree:
what the shadow measures in ``pg_locks``, for the revisions that are not measured
(``--offline``). From PostgreSQL's own choices (``AlterTableGetLockLevel`` and
``AlterTableGetRelOptionsLockLevel`` in tablecmds.c, and each command's documentation):
ALTER TABLE takes ACCESS EXCLUSIVE but for the subcommands in ``_WEAKER``, a foreign key
(SHARE ROW EXCLUSIVE), ATTACH PARTITION on the parent and DETACH ... CONCURRENTLY, and
``SET (...)`` of storage parameters that only vacuum and the planner read; so do RENAME of
a table, column or constraint, SET SCHEMA, DROP TABLE, DROP INDEX (on its table), DROP
TRIGGER and DROP RULE, CREATE RULE, TRUNCATE, LOCK TABLE (its default mode), CLUSTER,
VACUUM FULL, REINDEX (on the indexes: as measured, their table's), REFRESH MATERIALIZED
VIEW (without CONCURRENTLY), and CREATE TABLE ... PARTITION OF (on the parent), ATTACH /
DETACH PARTITION (on the partition).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType, ReindexObjectType

from dbctl.lint.names import Table, names_of, qualified, table_of
from dbctl.lint.proofs import Known

# ALTER TABLE's subcommands that take less than ACCESS EXCLUSIVE: SHARE UPDATE EXCLUSIVE,
# or SHARE ROW EXCLUSIVE for triggers.
_WEAKER = frozenset({
    AlterTableType.AT_SetStatistics, AlterTableType.AT_SetOptions,
    AlterTableType.AT_ResetOptions, AlterTableType.AT_ValidateConstraint,
    AlterTableType.AT_ClusterOn, AlterTableType.AT_DropCluster,
    AlterTableType.AT_AttachPartition, AlterTableType.AT_EnableTrig,
    AlterTableType.AT_EnableAlwaysTrig, AlterTableType.AT_EnableReplicaTrig,
    AlterTableType.AT_DisableTrig, AlterTableType.AT_EnableTrigAll,
    AlterTableType.AT_DisableTrigAll, AlterTableType.AT_EnableTrigUser,
    AlterTableType.AT_DisableTrigUser, AlterTableType.AT_DetachPartitionFinalize,
})  # fmt: skip
_OPTIONS = frozenset({AlterTableType.AT_SetRelOptions, AlterTableType.AT_ResetRelOptions})
# Storage parameters set under SHARE UPDATE EXCLUSIVE (the rest, user_catalog_table say,
# under ACCESS EXCLUSIVE).
_WEAK_OPTIONS = frozenset({
    "fillfactor", "toast_tuple_target", "parallel_workers", "vacuum_index_cleanup",
    "vacuum_truncate", "log_autovacuum_min_duration",
})  # fmt: skip
_RENAMES = frozenset(
    {ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN, ObjectType.OBJECT_TABCONSTRAINT}
)
_ON_TABLE = frozenset({ObjectType.OBJECT_TRIGGER, ObjectType.OBJECT_RULE})
_ACCESS_EXCLUSIVE_MODE = 8  # LOCK TABLE's default: lockdefs.h AccessExclusiveLock

Key = tuple[str, str]  # (schema, name): a name without a schema is public's


def exclusive(
    node: ast.Node,
    *,
    exempt: Callable[[Table], bool],
    new_indexes: Collection[str],
    known: Known,
) -> Iterator[tuple[Key, str]]:
    """The tables the statement takes ACCESS EXCLUSIVE on, but those ``exempt`` (created
    by the statements before it), as ``(key, as written)``; an index's table from
    ``known`` (the indexes created so far), else shown as ``the table of index ...``; and
    the tables a dropped foreign key points to, when ``known`` holds it."""
    for found in [*_tables(node, new_indexes), *_parents(node, known)]:
        table = known.indexes.get(found.lower()) if isinstance(found, str) else found
        if table is None:
            yield ("", str(found)), f"the table of index {found}"
        elif table.name and not exempt(table):
            yield (table.schema or "public", table.name), table.shown


def _parents(node: ast.Node, known: Known) -> list[Table | str]:
    """The tables the foreign keys a statement drops point to (their triggers go too):
    DROP TABLE, ALTER TABLE DROP CONSTRAINT or DROP COLUMN, of a key ``known`` holds."""
    if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TABLE:
        names = [qualified(n) for n in node.objects or () if isinstance(n, tuple)]
        return [parent for table in names for parent in known.parents(table)]
    if not isinstance(node, ast.AlterTableStmt) or node.objtype != ObjectType.OBJECT_TABLE:
        return []
    table = table_of(node.relation)
    found: list[Table | str] = []
    for cmd in node.cmds or ():
        if not isinstance(cmd, ast.AlterTableCmd) or not cmd.name:
            continue
        if cmd.subtype == AlterTableType.AT_DropConstraint:
            found += known.parents(table, name=cmd.name)
        elif cmd.subtype == AlterTableType.AT_DropColumn:
            found += known.parents(table, column=cmd.name)
    return found


def _tables(node: ast.Node, new_indexes: Collection[str]) -> list[Table | str]:
    """The tables (or, for DROP INDEX, the index names) the statement locks so."""
    if isinstance(node, ast.AlterTableStmt):
        return _alter_table(node) if node.objtype == ObjectType.OBJECT_TABLE else []
    if isinstance(node, ast.RenameStmt):
        return [table_of(node.relation)] if node.renameType in _RENAMES else []
    if isinstance(node, ast.AlterObjectSchemaStmt):
        table = node.objectType == ObjectType.OBJECT_TABLE
        return [table_of(node.relation)] if table and node.relation is not None else []
    if isinstance(node, ast.TruncateStmt):
        return [table_of(r) for r in node.relations or ()]
    if isinstance(node, ast.LockStmt):
        strong = node.mode == _ACCESS_EXCLUSIVE_MODE
        return [table_of(r) for r in node.relations or ()] if strong else []
    if isinstance(node, ast.RuleStmt | ast.ClusterStmt):
        return [table_of(node.relation)] if node.relation is not None else []
    if isinstance(node, ast.RefreshMatViewStmt):
        return [] if node.concurrent else [table_of(node.relation)]
    if isinstance(node, ast.VacuumStmt):
        return _vacuum_full(node)
    if isinstance(node, ast.ReindexStmt) and node.relation is not None:
        return _reindex(node)
    if isinstance(node, ast.CreateStmt) and node.partbound is not None:
        return [table_of(r) for r in node.inhRelations or () if isinstance(r, ast.RangeVar)]
    if isinstance(node, ast.DropStmt) and not node.concurrent:
        return _drop(node, new_indexes)
    return []


def _alter_table(node: ast.AlterTableStmt) -> list[Table | str]:
    table = table_of(node.relation)
    found: list[Table | str] = []
    for cmd in node.cmds or ():
        if not isinstance(cmd, ast.AlterTableCmd):
            continue
        partition = cmd.def_.name if isinstance(cmd.def_, ast.PartitionCmd) else None
        if cmd.subtype == AlterTableType.AT_AttachPartition and partition is not None:
            found.append(table_of(partition))  # the parent: SHARE UPDATE EXCLUSIVE
        elif cmd.subtype == AlterTableType.AT_DetachPartition:
            if not (isinstance(cmd.def_, ast.PartitionCmd) and cmd.def_.concurrent):
                found += [table] + ([table_of(partition)] if partition is not None else [])
        elif _exclusive_cmd(cmd):
            found.append(table)
    return found


def _exclusive_cmd(cmd: ast.AlterTableCmd) -> bool:
    if cmd.subtype in _WEAKER:
        return False
    if cmd.subtype in _OPTIONS:
        return not all(_weak_option(option) for option in cmd.def_ or ())
    if cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        return cmd.def_.contype != ConstrType.CONSTR_FOREIGN  # SHARE ROW EXCLUSIVE
    return True


def _weak_option(option: Any) -> bool:
    if not isinstance(option, ast.DefElem):
        return False
    name = (option.defname or "").lower()
    return name in _WEAK_OPTIONS or name.startswith("autovacuum_")


def _vacuum_full(node: ast.VacuumStmt) -> list[Table | str]:
    full = any(
        isinstance(option, ast.DefElem)
        and (option.defname or "").lower() == "full"
        and not (isinstance(option.arg, ast.String) and (option.arg.sval or "").lower() in _FALSE)
        and not (isinstance(option.arg, ast.Integer) and option.arg.ival == 0)
        for option in node.options or ()
    )
    if not full or not node.is_vacuumcmd:
        return []
    return [
        table_of(relation.relation)
        for relation in node.rels or ()
        if isinstance(relation, ast.VacuumRelation) and relation.relation is not None
    ]


_FALSE = frozenset({"false", "off", "0", "no"})


def _reindex(node: ast.ReindexStmt) -> list[Table | str]:
    """REINDEX without CONCURRENTLY: ACCESS EXCLUSIVE on each index it builds again (a
    query of the table plans with them all: reads wait too), SHARE on the table."""
    if any(
        isinstance(p, ast.DefElem) and (p.defname or "").lower() == "concurrently"
        for p in node.params or ()
    ):
        return []
    if node.kind == ReindexObjectType.REINDEX_OBJECT_TABLE:
        return [table_of(node.relation)]
    if node.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:
        return [table_of(node.relation).name]
    return []


def _drop(node: ast.DropStmt, new_indexes: Collection[str]) -> list[Table | str]:
    names = [n for n in node.objects or () if isinstance(n, tuple)]
    if node.removeType == ObjectType.OBJECT_TABLE:
        return [qualified(n) for n in names]
    if node.removeType == ObjectType.OBJECT_INDEX:
        return [index.name for index in map(qualified, names) if index.bare not in new_indexes]
    if node.removeType in _ON_TABLE:  # (schema, table, trigger): the table's part
        return [qualified(n[:-1]) for n in names if len(names_of(n)) > 1]
    return []


# ALTER TABLE's subcommands that write the table into a new file (besides type changes and
# defaults, which the rules read column by column).
_REWRITING = frozenset({
    AlterTableType.AT_SetLogged, AlterTableType.AT_SetUnLogged,
    AlterTableType.AT_SetAccessMethod, AlterTableType.AT_SetTableSpace,
})  # fmt: skip


def rewritten(
    node: ast.Node, *, exempt: Callable[[Table], bool], known: Known
) -> Iterator[tuple[Key, str]]:
    """The existing tables the statement writes into a new file whatever their columns:
    CLUSTER, VACUUM FULL, ALTER TABLE SET LOGGED / UNLOGGED / ACCESS METHOD / TABLESPACE,
    REINDEX (the indexes of a table, or one whose table ``known`` holds), REFRESH
    MATERIALIZED VIEW."""
    tables: list[Table | str] = []
    if isinstance(node, ast.ClusterStmt) and node.relation is not None:
        tables = [table_of(node.relation)]
    elif isinstance(node, ast.VacuumStmt):
        tables = _vacuum_full(node)
    elif isinstance(node, ast.ReindexStmt) and node.relation is not None:
        tables = _reindex(node)
    elif isinstance(node, ast.RefreshMatViewStmt) and not node.concurrent:
        tables = [table_of(node.relation)]  # CONCURRENTLY changes the rows in place
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE:
        cmds = [c for c in node.cmds or () if isinstance(c, ast.AlterTableCmd)]
        if any(cmd.subtype in _REWRITING for cmd in cmds):
            tables = [table_of(node.relation)]
    for found in tables:
        table = known.indexes.get(found.lower()) if isinstance(found, str) else found
        if table is not None and table.name and not exempt(table):
            yield (table.schema or "public", table.name), table.shown
