"""The SQL rules of ``dbctl lint-migrations``: the statements one Alembic revision runs, as
its offline mode prints them, in; their hazards out (squawk's rule names). Pure: PostgreSQL's
own parser (pglast), no database.

On a table these statements did not create (and never on ``alembic_version``):

- ``require-concurrent-index-creation`` (error): CREATE INDEX without CONCURRENTLY;
- ``require-concurrent-index-deletion`` (warning): DROP INDEX without CONCURRENTLY;
- ``constraint-missing-not-valid`` (error): a FOREIGN KEY or CHECK added without NOT VALID
  (ADD CONSTRAINT, or inline on ADD COLUMN);
- ``disallowed-unique-constraint`` (error): UNIQUE / PRIMARY KEY added without USING INDEX;
- ``adding-not-nullable-field`` (error): ADD COLUMN ... NOT NULL without a DEFAULT, and
  ALTER COLUMN ... SET NOT NULL (not when a validated ``CHECK (col IS NOT NULL)`` proves the
  column on PostgreSQL 12+: added or validated here, or ``proven`` before);
- ``adding-field-with-default`` (error): ADD COLUMN with a volatile DEFAULT, a serial or an
  identity column, or any DEFAULT before PostgreSQL 11 (a warning for a function of unknown
  volatility); ``adding-stored-generated-column`` (error): GENERATED ... STORED;
- ``changing-column-type`` (error; a warning when the new type is one a binary-coercible
  change may reach: text, varchar, numeric, varbit, without USING);
- ``renaming-column``, ``renaming-table``, ``ban-drop-column``, ``ban-drop-table`` (warnings).

Anywhere: ``ban-concurrent-index-creation-in-transaction`` (error), CREATE / DROP INDEX
CONCURRENTLY while a transaction is open; ``adding-enum-value-in-transaction`` (error, before
PostgreSQL 12), ALTER TYPE ... ADD VALUE while one is open. Transactions are followed through
BEGIN / START TRANSACTION ... COMMIT / END / ROLLBACK / PREPARE TRANSACTION (Alembic's
autocommit_block prints COMMIT before its statements and BEGIN after them).

Each hit's fix, the safe pattern as Alembic code, is built by ``dbctl.lint.fixes``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import (
    AlterTableType,
    ConstrType,
    ObjectType,
    TransactionStmtKind,
    VariableSetKind,
)
from pglast.parser import ParseError

from dbctl.lint.fixes import (
    NOT_NULL,
    SERIALS,
    UNIQUE,
    VALIDATED,
    autocommit,
    column_type_fix,
    default_fix,
    drop_index_fix,
    index_fix,
    later,
    not_null_lines,
    not_valid_fix,
    nullable_fix,
    partitioned_index_fix,
    rename_column_fix,
    rename_table_fix,
    sql,
    stored_fix,
    unique_fix,
)
from dbctl.lint.locks import exclusive, rewritten
from dbctl.lint.names import Table, constraint_name, names_of, qualified, table_of, type_name, walk
from dbctl.lint.proofs import Known, NotNullProofs
from dbctl.pg.identifiers import make_object_name, name_addition, quote_ident


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    statement: int  # index into the statements given
    table: str | None  # qualified when written so, quoted where needed: "public.users"
    message: str  # what the statement does, the lock it takes, what waits and how long
    fix: str  # the safe pattern as Alembic code, "" if none
    severity: str  # "error" or "warning"
    column: str | None = None  # the column dropped or renamed (the old name), as stored
    partitioned_fix: str = ""  # the fix when the table is partitioned (the shadow knows)
    # whether it rewrites depends on the session's TimeZone (to timestamptz: not in UTC)
    zone_dependent: bool = False


@dataclass(frozen=True, slots=True)
class Linted:
    """``sets_lock_timeout`` / ``sets_statement_timeout``: a non-zero value is in effect at
    the first statement that locks an existing table (one with a hit, or any ALTER TABLE,
    CREATE INDEX, DROP, RENAME or TRUNCATE of a table not created here), following SET LOCAL
    to the end of its transaction, RESET and ROLLBACK; when none does, whether any SET to a
    non-zero value appears."""

    hits: tuple[Hit, ...]
    created: frozenset[tuple[str, str]]  # (schema, name), public's when written without
    # one, the name as stored (a temporary table's schema is pg_temp): CREATE TABLE [AS],
    # SELECT INTO, and
    # CREATE MATERIALIZED VIEW (an index on a new relation blocks nobody)
    sets_lock_timeout: bool
    sets_statement_timeout: bool
    unparsed: tuple[int, ...]  # statements PostgreSQL's parser does not accept
    # what the statements tell of the schema after them (for the next ones): the columns a
    # SET NOT NULL would not scan, the indexes and foreign keys created
    known: Known = field(default_factory=Known)
    # the existing tables a statement takes ACCESS EXCLUSIVE on, as written ("public.t"), in
    # order: what the shadow would measure, read from the SQL (offline)
    exclusive: tuple[str, ...] = ()
    # the existing tables a statement writes into a new file whatever their columns
    # (CLUSTER, VACUUM FULL, SET LOGGED / UNLOGGED / ACCESS METHOD / TABLESPACE), as written
    rewritten: tuple[str, ...] = ()

    @property
    def proofs(self) -> NotNullProofs:
        return self.known.proofs


VERSION_TABLE = "alembic_version"
VOLATILE = frozenset({
    "random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuid_generate_v1",
    "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7", "nextval", "currval",
    "lastval", "setval", "txid_current", "pg_current_xact_id", "random_normal",
})  # fmt: skip
NOT_VOLATILE = frozenset({  # stable or immutable: one value for all the rows
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "date_trunc",
    "timezone", "make_date", "make_time", "make_timestamp", "make_timestamptz", "make_interval",
    "to_json", "to_jsonb", "json_build_object", "json_build_array", "jsonb_build_object",
    "jsonb_build_array", "lower", "upper", "concat", "md5", "array_fill",
})  # fmt: skip
MAY_NOT_REWRITE = frozenset({"text", "varchar", "numeric", "varbit"})
_NUMBER = re.compile(r"\s*\+?(\d+\.?\d*|\.\d+)")


@dataclass(slots=True)
class _Setting:
    """One setting's state: the session's value, SET LOCAL's until the transaction ends."""

    session: bool = False
    local: bool | None = None
    at_begin: bool = False
    ever: bool = False

    @property
    def active(self) -> bool:
        return self.session if self.local is None else self.local

    def set(self, value: bool, *, local: bool, in_transaction: bool) -> None:
        self.ever |= value
        if not local:
            self.session, self.local = value, None
        elif in_transaction:  # SET LOCAL outside a transaction does nothing
            self.local = value

    def end(self, *, committed: bool) -> None:
        if not committed:
            self.session = self.at_begin
        self.local = None


@dataclass(slots=True)
class _Scan:
    """What the statements so far have done: tables and indexes created, the open
    transaction, the timeouts set."""

    server_version: int
    statement: int = 0
    transaction: int | None = None  # the statement that opened the open transaction
    created: set[tuple[str, str]] = field(default_factory=set)  # (schema, name)
    new_indexes: set[str] = field(default_factory=set)  # on tables created here
    settings: dict[str, _Setting] = field(
        default_factory=lambda: {"lock_timeout": _Setting(), "statement_timeout": _Setting()}
    )
    known: Known = field(default_factory=Known)  # carried from the revisions before
    exclusive: dict[tuple[str, str], str] = field(default_factory=dict)  # as first written
    rewritten: dict[tuple[str, str], str] = field(default_factory=dict)  # whole-table rewrites
    # an existing table renamed or moved here: its new (schema, name) -> the first one, so
    # that it is one table in exclusive and rewritten, as the shadow measures it
    renamed: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # constraints added NOT VALID in a transaction: (table key, name) -> (its BEGIN, FK)
    not_valid: dict[tuple[tuple[str, str], str], tuple[int, bool]] = field(default_factory=dict)

    @property
    def proofs(self) -> NotNullProofs:
        return self.known.proofs

    @property
    def index_tables(self) -> dict[str, Table]:
        return self.known.indexes

    def exempt(self, table: Table) -> bool:
        if table.name == VERSION_TABLE:
            return True
        if table.schema is None and ("pg_temp", table.name) in self.created:
            return True  # a temporary table comes first in the search path
        return _key(table) in self.created

    def hit(
        self,
        table: Table | None,
        message: str,
        fix: str,
        *,
        rule: str,
        severity: str = "error",
        column: str | None = None,
    ) -> Hit:
        shown = table.shown if table is not None and table.name else None
        return Hit(rule, self.statement, shown, message, fix, severity, column)


def lint_statements(
    statements: Sequence[str],
    *,
    server_version: int = 150000,
    known: Known | None = None,
    proofs: NotNullProofs | None = None,
) -> Linted:
    """The hazards of ``statements`` (one revision's, in order) on a server of
    ``server_version`` (``server_version_num``); ``known``: what the revisions before told
    of the schema (``Linted.known``), ``proofs`` the columns a SET NOT NULL would not scan
    when they are known otherwise (the shadow's catalog); neither is changed. Never raises
    for SQL it cannot parse."""
    scan = _Scan(server_version, known=known.copy() if known else Known())
    if proofs is not None:
        scan.known.proofs = proofs.copy()
    hits: list[Hit] = []
    unparsed: list[int] = []
    at_first_lock: tuple[bool, bool] | None = None
    for index, text in enumerate(statements):
        scan.statement = index
        try:
            parsed = parse_sql(text)
        except (ParseError, ValueError):  # ValueError: a lone surrogate, not UTF-8
            unparsed.append(index)
            continue
        for raw in parsed:
            node = raw.stmt
            if node is None:
                continue
            rule = _RULES.get(type(node))
            found = rule(node, scan) if rule is not None else []
            if at_first_lock is None and (found or _locks_existing(node, scan)):
                at_first_lock = (
                    scan.settings["lock_timeout"].active,
                    scan.settings["statement_timeout"].active,
                )
            hits += found
            for key, shown in exclusive(
                node, exempt=scan.exempt, new_indexes=scan.new_indexes, known=scan.known
            ):
                scan.exclusive.setdefault(scan.renamed.get(key, key), shown)
            for key, shown in rewritten(node, exempt=scan.exempt, known=scan.known):
                scan.rewritten.setdefault(scan.renamed.get(key, key), shown)
            _track(node, scan)
    lock, statement = at_first_lock or (
        scan.settings["lock_timeout"].ever,
        scan.settings["statement_timeout"].ever,
    )
    return Linted(
        tuple(hits),
        frozenset(scan.created),
        lock,
        statement,
        tuple(unparsed),
        scan.known,
        tuple(scan.exclusive.values()),
        tuple(scan.rewritten.values()),
    )


# -- the rules, one per kind of statement ------------------------------------------------------


def _create_index(node: ast.IndexStmt, scan: _Scan) -> list[Hit]:
    table = table_of(node.relation)
    if node.concurrent:
        if scan.transaction is None:
            return []
        message = _refused("CREATE INDEX CONCURRENTLY", "CREATE INDEX CONCURRENTLY", scan)
        return [scan.hit(table, message, index_fix(node), rule=_IN_TRANSACTION_RULE)]
    if scan.exempt(table):
        return []
    shown = table.shown
    message = (
        f"CREATE INDEX on {shown} takes a SHARE lock: writes to {shown} wait until the index "
        f"is built (a full scan of the table); reads go on."
    )
    hit = scan.hit(table, message, index_fix(node), rule="require-concurrent-index-creation")
    return [replace(hit, partitioned_fix=partitioned_index_fix(node))]


def _drop(node: ast.DropStmt, scan: _Scan) -> list[Hit]:
    objects = [qualified(names) for names in node.objects or () if isinstance(names, tuple)]
    if node.removeType == ObjectType.OBJECT_TABLE:
        flags = ["if_exists=True"] if node.missing_ok else []
        return [_drop_table(table, scan, flags) for table in objects if not scan.exempt(table)]
    if node.removeType != ObjectType.OBJECT_INDEX or not objects:
        return []
    known = scan.index_tables.get(objects[0].bare) if len(objects) == 1 else None
    fix = drop_index_fix(node, objects, scan.index_tables)
    if node.concurrent:
        if scan.transaction is None:
            return []
        message = _refused("DROP INDEX CONCURRENTLY", "DROP INDEX CONCURRENTLY", scan)
        return [scan.hit(known, message, fix, rule=_IN_TRANSACTION_RULE)]
    if all(index.bare in scan.new_indexes for index in objects):
        return []
    shown = ", ".join(index.shown for index in objects)
    where = f"on {known.shown}" if known else "on its table"
    message = (
        f"DROP INDEX {shown} takes an ACCESS EXCLUSIVE lock {where}: reads and writes of the "
        f"table wait for it, and it waits behind every query running on the table."
    )
    return [
        scan.hit(known, message, fix, rule="require-concurrent-index-deletion", severity="warning")
    ]


def _drop_table(table: Table, scan: _Scan, flags: list[str]) -> Hit:
    message = (
        f"DROP TABLE {table.shown} takes an ACCESS EXCLUSIVE lock and removes the table: the "
        f"code still running (the old release during the deploy) fails on every query of it."
    )
    fix = later("no longer uses the table", table, "drop_table", flags=flags)
    return scan.hit(table, message, fix, rule="ban-drop-table", severity="warning")


def _alter_table(node: ast.AlterTableStmt, scan: _Scan) -> list[Hit]:
    table = table_of(node.relation)
    if node.objtype != ObjectType.OBJECT_TABLE or scan.exempt(table):
        return []
    hits: list[Hit] = []
    for cmd in node.cmds or ():
        check = _COMMANDS.get(cmd.subtype) if isinstance(cmd, ast.AlterTableCmd) else None
        if check is not None:
            hits += check(table, cmd, scan)
    return hits


def _rename(node: ast.RenameStmt, scan: _Scan) -> list[Hit]:
    table = table_of(node.relation)
    new = node.newname or ""
    if scan.exempt(table):
        return []
    if node.renameType == ObjectType.OBJECT_TABLE:
        message = (
            f"RENAME TO {quote_ident(new)} takes a brief ACCESS EXCLUSIVE lock on "
            f"{table.shown}; the code still running (the old release during the deploy) uses "
            f"the old name and fails until it is replaced."
        )
        fix = rename_table_fix(table, new)
        return [scan.hit(table, message, fix, rule="renaming-table", severity="warning")]
    if node.renameType == ObjectType.OBJECT_COLUMN and node.relationType == ObjectType.OBJECT_TABLE:
        old = node.subname or ""
        message = (
            f"RENAME COLUMN {quote_ident(old)} TO {quote_ident(new)} takes a brief ACCESS "
            f"EXCLUSIVE lock on {table.shown}; the code still running (the old release during "
            f"the deploy) uses the old name and fails until it is replaced."
        )
        fix = rename_column_fix(table, old, new)
        return [
            scan.hit(table, message, fix, rule="renaming-column", severity="warning", column=old)
        ]
    return []


def _add_enum_value(node: ast.AlterEnumStmt, scan: _Scan) -> list[Hit]:
    if node.newVal is None or node.oldVal is not None or scan.transaction is None:
        return []
    if scan.server_version >= 120000:
        return []
    what = f"ALTER TYPE {'.'.join(quote_ident(n) for n in names_of(node.typeName))} ADD VALUE"
    message = _refused(what, "ALTER TYPE ... ADD", scan, "PostgreSQL before 12 refuses it")
    fix = autocommit(node)
    return [scan.hit(None, message, fix, rule="adding-enum-value-in-transaction")]


_IN_TRANSACTION_RULE = "ban-concurrent-index-creation-in-transaction"


def _refused(what: str, command: str, scan: _Scan, who: str = "PostgreSQL refuses it") -> str:
    return (
        f"{what} inside a transaction (Alembic runs each revision in one, unless the "
        f"statement is in an autocommit block): {who} "
        f'("{command} cannot run inside a transaction block") and the revision fails.'
    )


# -- ALTER TABLE, one command at a time --------------------------------------------------------


def _add_column(table: Table, cmd: ast.AlterTableCmd, scan: _Scan) -> list[Hit]:
    column = cmd.def_
    if not isinstance(column, ast.ColumnDef):
        return []
    constraints = [c for c in column.constraints or () if isinstance(c, ast.Constraint)]
    kinds = {c.contype for c in constraints}
    default = next(
        (c.raw_expr for c in constraints if c.contype == ConstrType.CONSTR_DEFAULT), None
    )
    if isinstance(default, ast.A_Const) and default.isnull:
        default = None
    stored = [c for c in constraints if c.contype == ConstrType.CONSTR_GENERATED]
    stored = [c for c in stored if c.generated_kind != "v"]
    filled = _filled(column, default, kinds)
    shown = quote_ident(column.colname or "")
    hits: list[Hit] = []
    if stored:
        message = (
            f"ADD COLUMN {shown} GENERATED ... STORED computes it for every row: PostgreSQL "
            f"rewrites {table.shown} and its indexes under an ACCESS EXCLUSIVE lock, and reads "
            f"and writes wait for the whole rewrite."
        )
        fix = stored_fix(table, column, stored[0].raw_expr)
        hits.append(scan.hit(table, message, fix, rule="adding-stored-generated-column"))
    rewrite = _rewrite(filled, default, scan.server_version)
    if rewrite is not None:
        severity, reason = rewrite
        effect = "rewrites" if severity == "error" else "would rewrite"
        message = (
            f"ADD COLUMN {shown} on {table.shown}: {reason}, so PostgreSQL {effect} the table "
            f"and its indexes under an ACCESS EXCLUSIVE lock, reads and writes waiting for the "
            f"whole rewrite."
        )
        fix = default_fix(
            table, column, default, not_null=bool(kinds & NOT_NULL), version=scan.server_version
        )
        hits.append(
            scan.hit(table, message, fix, rule="adding-field-with-default", severity=severity)
        )
    if kinds & NOT_NULL and filled is None and not stored:
        message = (
            f"ADD COLUMN {shown} NOT NULL without a DEFAULT fails as soon as {table.shown} has "
            f"a row (the existing rows would hold NULL), after queueing for an ACCESS "
            f"EXCLUSIVE lock."
        )
        fix = nullable_fix(table, column, scan.server_version)
        hits.append(scan.hit(table, message, fix, rule="adding-not-nullable-field"))
    for constraint in constraints:
        hits += _inline(table, column, constraint, scan)
    return hits


def _filled(column: ast.ColumnDef, default: Any, kinds: set[Any]) -> str | None:
    """How the existing rows get a value for an added column: None when they hold NULL."""
    if ConstrType.CONSTR_IDENTITY in kinds:
        return "identity"
    if type_name(column.typeName) in SERIALS:
        return "serial"
    if ConstrType.CONSTR_GENERATED in kinds:
        return "generated"
    return None if default is None else "default"


def _rewrite(filled: str | None, default: Any, version: int) -> tuple[str, str] | None:
    """(severity, why) when adding the column rewrites the table for its default."""
    if filled == "identity":
        return "error", "an identity column takes a new value from its sequence for every row"
    if filled == "serial":
        return "error", "a serial column's DEFAULT nextval() is volatile: one value per row"
    if filled != "default":
        return None
    if version < 110000:
        return "error", "before PostgreSQL 11 every DEFAULT is written into every row"
    function, volatile = _volatility(default)
    if volatile:
        return "error", f"its DEFAULT calls {function}(), which is volatile: one value per row"
    if function is not None:
        return "warning", (
            f"its DEFAULT calls {function}(): if that function is volatile (the default for a "
            f"function), every row gets its own value"
        )
    return None


def _volatility(expr: Any) -> tuple[str | None, bool]:
    """The first volatile function the expression calls, else the first of unknown
    volatility, else None."""
    unknown = None
    for node in walk(expr):
        if isinstance(node, ast.FuncCall):
            name = (names_of(node.funcname) or [""])[-1].lower()
            if name in VOLATILE:
                return name, True
            if name not in NOT_VOLATILE and unknown is None:
                unknown = name
    return unknown, False


def _inline(
    table: Table, column: ast.ColumnDef, constraint: ast.Constraint, scan: _Scan
) -> list[Hit]:
    """A constraint written on the added column: the same hazards as ADD CONSTRAINT."""
    kind = constraint.contype
    name = column.colname or ""
    if kind in VALIDATED:
        inline = copy.copy(constraint)
        inline.fk_attrs = (ast.String(sval=name),) if kind == ConstrType.CONSTR_FOREIGN else None
        return _validated(table, inline, scan, column=column)
    if kind in UNIQUE:
        return _unique(table, constraint, scan, keys=[name], column=column)
    return []


def _add_constraint(table: Table, cmd: ast.AlterTableCmd, scan: _Scan) -> list[Hit]:
    constraint = cmd.def_
    if not isinstance(constraint, ast.Constraint):
        return []
    if constraint.contype in VALIDATED:
        if constraint.skip_validation and scan.transaction is not None:
            name = constraint.conname or constraint_name(table, constraint)
            foreign = constraint.contype == ConstrType.CONSTR_FOREIGN
            scan.not_valid[(_key(table), name)] = (scan.transaction, foreign)
        return _validated(table, constraint, scan)
    if constraint.contype in UNIQUE and not constraint.indexname:
        return _unique(table, constraint, scan, keys=names_of(constraint.keys))
    if constraint.contype == ConstrType.CONSTR_EXCLUSION:
        return _exclusion(table, constraint, scan)
    return []


def _exclusion(table: Table, constraint: ast.Constraint, scan: _Scan) -> list[Hit]:
    columns = [
        item[0].name or "expr"
        for item in constraint.exclusions or ()
        if isinstance(item, tuple) and item and isinstance(item[0], ast.IndexElem)
    ]
    name = constraint.conname or make_object_name(table.name, name_addition(columns), "excl")
    message = (
        f"ADD CONSTRAINT {quote_ident(name)} EXCLUDE builds its index on {table.shown} under "
        f"an ACCESS EXCLUSIVE lock: reads and writes of {table.shown} wait until the index is "
        f"built (a full scan), and, unlike UNIQUE, it cannot take an index built CONCURRENTLY."
    )
    fix = (
        "# no online form: PostgreSQL builds an exclusion constraint's index itself. Run it\n"
        "# when the table is small or its traffic can wait, with a lock_timeout; or enforce\n"
        "# the rule in the code and a CHECK until then."
    )
    return [scan.hit(table, message, fix, rule="disallowed-unique-constraint")]


def _validated(
    table: Table, constraint: ast.Constraint, scan: _Scan, column: ast.ColumnDef | None = None
) -> list[Hit]:
    if constraint.skip_validation or not constraint.is_enforced:
        return []
    foreign = constraint.contype == ConstrType.CONSTR_FOREIGN
    name = constraint.conname or constraint_name(table, constraint)
    shown, target = quote_ident(name), table.shown
    if foreign:
        referenced = table_of(constraint.pktable).shown
        message = (
            f"ADD CONSTRAINT {shown} FOREIGN KEY checks every row of {target} against "
            f"{referenced} under a SHARE ROW EXCLUSIVE lock on both {target} and "
            f"{referenced}: writes to both wait until the whole of {target} is scanned."
        )
    else:
        message = (
            f"ADD CONSTRAINT {shown} CHECK scans every row of {target} under an ACCESS "
            f"EXCLUSIVE lock: reads and writes of {target} wait until the scan ends."
        )
    fix = not_valid_fix(table, constraint, name, column)
    return [scan.hit(table, message, fix, rule="constraint-missing-not-valid")]


def _validate(table: Table, cmd: ast.AlterTableCmd, scan: _Scan) -> list[Hit]:
    """VALIDATE CONSTRAINT in the transaction that added it NOT VALID: the lock the ADD took
    (ACCESS EXCLUSIVE for a CHECK, SHARE ROW EXCLUSIVE for a foreign key) is held through
    the scan, as without NOT VALID."""
    name = cmd.name or ""
    added = scan.not_valid.get((_key(table), name))
    if added is None or added[0] != scan.transaction:
        return []
    lock, blocked = (
        ("SHARE ROW EXCLUSIVE", "writes") if added[1] else ("ACCESS EXCLUSIVE", "reads and writes")
    )
    message = (
        f"VALIDATE CONSTRAINT {quote_ident(name)} runs in the transaction that added it NOT "
        f"VALID: the {lock} lock the ADD took on {table.shown} is held until the scan of "
        f"every row ends, and {blocked} of {table.shown} wait for it, as without NOT VALID."
    )
    fix = (
        "# in a later revision, once this one is committed (VALIDATE alone takes SHARE "
        "UPDATE EXCLUSIVE: reads and writes go on):\n"
        f"op.execute({_validate_sql(table, name)!r})"
    )
    return [scan.hit(table, message, fix, rule="constraint-missing-not-valid")]


def _validate_sql(table: Table, name: str) -> str:
    return f"ALTER TABLE {table.shown} VALIDATE CONSTRAINT {quote_ident(name)}"


def _unique(
    table: Table,
    constraint: ast.Constraint,
    scan: _Scan,
    *,
    keys: list[str],
    column: ast.ColumnDef | None = None,
) -> list[Hit]:
    primary = constraint.contype == ConstrType.CONSTR_PRIMARY
    kind = "PRIMARY KEY" if primary else "UNIQUE"
    name = constraint.conname or make_object_name(
        table.name, None if primary else name_addition(keys), "pkey" if primary else "key"
    )
    message = (
        f"ADD CONSTRAINT {quote_ident(name)} {kind} builds its unique index on {table.shown} "
        f"under an ACCESS EXCLUSIVE lock: reads and writes of {table.shown} wait until the "
        f"index is built (a full scan and sort)."
    )
    fix = unique_fix(table, constraint, name, keys, column)
    return [scan.hit(table, message, fix, rule="disallowed-unique-constraint")]


def _column_type(table: Table, cmd: ast.AlterTableCmd, scan: _Scan) -> list[Hit]:
    column = cmd.def_
    if not isinstance(column, ast.ColumnDef):
        return []
    name, type_sql = cmd.name or "", sql(column.typeName)
    using = column.raw_default
    coercible = (
        using is None
        and type_name(column.typeName) in MAY_NOT_REWRITE
        and not (column.typeName and column.typeName.arrayBounds)
    )
    head = f"ALTER COLUMN {quote_ident(name)} TYPE {type_sql}"
    rewrite = (
        f"rewrites {table.shown} and rebuilds its indexes under an ACCESS EXCLUSIVE lock: reads "
        f"and writes of {table.shown} wait for the whole rewrite"
    )
    if coercible:
        message = (
            f"{head} may not rewrite: from a type that converts without a rewrite (varchar(n) "
            f"to a larger n, to varchar or text; numeric to a larger precision) it only takes "
            f"a brief ACCESS EXCLUSIVE lock; from any other type it {rewrite}."
        )
    else:
        message = f"{head} {rewrite}."
    severity = "warning" if coercible else "error"
    fix = column_type_fix(table, name, type_sql, using, coercible=coercible)
    hit = scan.hit(table, message, fix, rule="changing-column-type", severity=severity)
    return [replace(hit, zone_dependent=type_name(column.typeName) == "timestamptz")]


def _set_not_null(table: Table, cmd: ast.AlterTableCmd, scan: _Scan) -> list[Hit]:
    name = cmd.name or ""
    if scan.server_version >= 120000 and scan.proofs.proves(table, name):
        return []  # a valid CHECK proves it (or it is NOT NULL already): no scan
    message = (
        f"SET NOT NULL on {table.shown}.{quote_ident(name)} scans every row under an ACCESS "
        f"EXCLUSIVE lock: reads and writes of {table.shown} wait until the scan ends."
    )
    fix = "\n".join(not_null_lines(table, name, scan.server_version))
    return [scan.hit(table, message, fix, rule="adding-not-nullable-field")]


def _drop_column(table: Table, cmd: ast.AlterTableCmd, scan: _Scan) -> list[Hit]:
    name = cmd.name or ""
    message = (
        f"DROP COLUMN {quote_ident(name)} takes a brief ACCESS EXCLUSIVE lock on "
        f"{table.shown}; the code still running (the old release during the deploy) fails on "
        f"every query that reads or writes it (SQLAlchemy selects every mapped column)."
    )
    fix = later("no longer reads or writes the column", table, "drop_column", name)
    return [scan.hit(table, message, fix, rule="ban-drop-column", severity="warning", column=name)]


_COMMANDS: dict[Any, Callable[[Table, ast.AlterTableCmd, _Scan], list[Hit]]] = {
    AlterTableType.AT_AddColumn: _add_column,
    AlterTableType.AT_AddConstraint: _add_constraint,
    AlterTableType.AT_AlterColumnType: _column_type,
    AlterTableType.AT_SetNotNull: _set_not_null,
    AlterTableType.AT_ValidateConstraint: _validate,
    AlterTableType.AT_DropColumn: _drop_column,
}

_RULES: dict[type[ast.Node], Callable[[Any, _Scan], list[Hit]]] = {
    ast.IndexStmt: _create_index,
    ast.DropStmt: _drop,
    ast.AlterTableStmt: _alter_table,
    ast.RenameStmt: _rename,
    ast.AlterEnumStmt: _add_enum_value,
}


# -- what a statement changes for the ones after it --------------------------------------------


def _locks_existing(node: ast.Node, scan: _Scan) -> bool:
    """Whether the statement locks a table these statements did not create."""
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return False
    if isinstance(node, ast.IndexStmt | ast.AlterTableStmt | ast.RenameStmt):
        return node.relation is not None and not scan.exempt(table_of(node.relation))
    if isinstance(node, ast.TruncateStmt):
        return any(not scan.exempt(table_of(r)) for r in node.relations or ())
    if not isinstance(node, ast.DropStmt) or node.concurrent:
        return False
    if node.removeType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_INDEX):
        names = [qualified(n) for n in node.objects or () if isinstance(n, tuple)]
        return any(not scan.exempt(t) and t.bare not in scan.new_indexes for t in names)
    return False


def follow(statements: Sequence[str], known: Known | None) -> Known:
    """``known`` after ``statements`` (a revision the rules do not lint: only what it tells
    of the schema); ``known`` is not changed."""
    found = known.copy() if known else Known()
    for node in _nodes(statements):
        _follow(node, found)
        if isinstance(node, ast.IndexStmt) and node.idxname:
            found.indexes[node.idxname.lower()] = table_of(node.relation)
    return found


def gaining_foreign_keys(statements: Sequence[str]) -> set[tuple[str, str]]:
    """The tables ``statements`` give a foreign key at any point, by (schema, name), a name
    without a schema taken as public's (a key dropped later still counts: the rows were
    checked when it was added)."""
    found: set[tuple[str, str]] = set()
    for node in _nodes(statements):
        added = Known()
        _follow(node, added)
        found |= {child for child, _ in added.foreign_keys}
    return found


def _nodes(statements: Sequence[str]) -> Iterator[ast.Node]:
    """The parsed statements, those PostgreSQL's parser refuses left out."""
    for text in statements:
        try:
            parsed = parse_sql(text)
        except (ParseError, ValueError):  # ValueError: a lone surrogate, not UTF-8
            continue
        yield from (raw.stmt for raw in parsed if raw.stmt is not None)


def _follow(node: ast.Node, known: Known) -> None:
    """What the statement does to the columns a SET NOT NULL would not scan, and to the
    foreign keys."""
    proofs = known.proofs
    if isinstance(node, ast.CreateStmt):
        _created_foreign_keys(node, known)
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE:
        table = table_of(node.relation)
        for cmd in node.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd):
                continue
            name, kind = cmd.name or "", cmd.subtype
            if kind == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
                proofs.check_added(table, cmd.def_)
                known.foreign_key_added(table, cmd.def_, None)
            elif kind == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                for constraint in cmd.def_.constraints or ():
                    if isinstance(constraint, ast.Constraint):
                        known.foreign_key_added(table, constraint, cmd.def_.colname)
            elif kind == AlterTableType.AT_ValidateConstraint:
                proofs.validated(table, name)
            elif kind == AlterTableType.AT_DropConstraint:
                proofs.constraint_dropped(table, name)
                known.foreign_keys_gone(table, name=name)
            elif kind == AlterTableType.AT_DropNotNull:
                proofs.not_null_dropped(table, name)
            elif kind == AlterTableType.AT_SetNotNull:
                proofs.set_not_null(table, name)
            elif kind in (AlterTableType.AT_DropColumn, AlterTableType.AT_AlterColumnType):
                proofs.column_gone(table, name)
                if kind == AlterTableType.AT_DropColumn:
                    known.foreign_keys_gone(table, column=name)
    elif isinstance(node, ast.RenameStmt) and node.relation is not None:
        if node.renameType == ObjectType.OBJECT_COLUMN:
            proofs.column_gone(table_of(node.relation), node.subname or "")
        elif node.renameType == ObjectType.OBJECT_TABLE:
            proofs.table_gone(table_of(node.relation))
    elif isinstance(node, ast.AlterObjectSchemaStmt) and node.relation is not None:
        proofs.table_gone(table_of(node.relation))
    elif isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TABLE:
        for names in node.objects or ():
            if isinstance(names, tuple):
                proofs.table_gone(qualified(names))
                known.foreign_keys_gone(qualified(names))


def _created_foreign_keys(node: ast.CreateStmt, known: Known) -> None:
    table = table_of(node.relation)
    for element in node.tableElts or ():
        if isinstance(element, ast.Constraint):
            known.foreign_key_added(table, element, None)
        elif isinstance(element, ast.ColumnDef):
            for constraint in element.constraints or ():
                if isinstance(constraint, ast.Constraint):
                    known.foreign_key_added(table, constraint, element.colname)


def _moved(scan: _Scan, old: tuple[str, str], new: tuple[str, str]) -> None:
    scan.renamed[new] = scan.renamed.get(old, old)


def _key(table: Table) -> tuple[str, str]:
    return (table.schema or "public", table.name)


def _created(relation: ast.RangeVar | None) -> tuple[str, str]:
    table = table_of(relation)
    if relation is not None and relation.relpersistence == "t":
        return ("pg_temp", table.name)
    return _key(table)


def _track(node: ast.Node, scan: _Scan) -> None:
    _follow(node, scan.known)
    if isinstance(node, ast.CreateStmt):
        scan.created.add(_created(node.relation))
    elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        scan.created.add(_created(node.into.rel))
    elif isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        scan.created.add(_created(node.intoClause.rel))
    elif isinstance(node, ast.SelectStmt):
        _set_config(node, scan)
    elif isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_TABLE:
        table = table_of(node.relation)
        if scan.exempt(table) and node.newname:
            scan.created.add((_key(table)[0], node.newname))
        elif node.newname:
            _moved(scan, _key(table), (_key(table)[0], node.newname))
    elif isinstance(node, ast.AlterObjectSchemaStmt) and node.relation is not None:
        table = table_of(node.relation)
        if node.objectType == ObjectType.OBJECT_TABLE and node.newschema:
            _moved(scan, _key(table), (node.newschema, table.name))
    elif isinstance(node, ast.IndexStmt) and node.idxname:
        table = table_of(node.relation)
        scan.index_tables[node.idxname.lower()] = table
        if scan.exempt(table):
            scan.new_indexes.add(node.idxname.lower())
    elif isinstance(node, ast.TransactionStmt):
        _transaction(node, scan)
    elif isinstance(node, ast.VariableSetStmt):
        _variable(node, scan)


def _transaction(node: ast.TransactionStmt, scan: _Scan) -> None:
    kind = node.kind
    if kind in (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START):
        if scan.transaction is None:
            scan.transaction = scan.statement
            for setting in scan.settings.values():
                setting.at_begin = setting.session
    elif kind in _ENDS and scan.transaction is not None:
        committed = kind != TransactionStmtKind.TRANS_STMT_ROLLBACK
        for setting in scan.settings.values():
            setting.end(committed=committed)
            setting.at_begin = setting.session
        scan.transaction = scan.statement if node.chain else None


_ENDS = frozenset(
    {
        TransactionStmtKind.TRANS_STMT_COMMIT,
        TransactionStmtKind.TRANS_STMT_ROLLBACK,
        TransactionStmtKind.TRANS_STMT_PREPARE,
    }
)


def _variable(node: ast.VariableSetStmt, scan: _Scan) -> None:
    in_transaction = scan.transaction is not None
    if node.kind == VariableSetKind.VAR_RESET_ALL:
        for setting in scan.settings.values():
            setting.set(False, local=False, in_transaction=in_transaction)
        return
    changed = scan.settings.get((node.name or "").lower())
    if changed is None:
        return
    if node.kind == VariableSetKind.VAR_SET_VALUE:
        value = _nonzero(node.args)
    elif node.kind in (VariableSetKind.VAR_SET_DEFAULT, VariableSetKind.VAR_RESET):
        value = False
    else:
        return
    changed.set(value, local=bool(node.is_local), in_transaction=in_transaction)


def _set_config(node: ast.SelectStmt, scan: _Scan) -> None:
    """``SELECT set_config('lock_timeout', '2s', is_local)``: SET or SET LOCAL by a
    function (a literal name, value and flag; anything else is not followed)."""
    for target in node.targetList or ():
        call = getattr(target, "val", None)
        if not isinstance(call, ast.FuncCall) or names_of(call.funcname)[-1:] != ["set_config"]:
            continue
        args = list(call.args or ())
        if len(args) != 3 or not all(isinstance(a, ast.A_Const) for a in args):
            continue
        name = getattr(args[0].val, "sval", None)
        local = getattr(args[2].val, "boolval", None)
        changed = scan.settings.get((name or "").lower())
        if changed is None or not isinstance(local, bool):
            continue
        in_transaction = scan.transaction is not None
        changed.set(_nonzero(args[1:2]), local=local, in_transaction=in_transaction)


def _nonzero(args: Sequence[Any] | None) -> bool:
    """Whether SET's value is a time above zero: 2000, '2s', '1min', 1.5."""
    if not args or len(args) != 1 or not isinstance(args[0], ast.A_Const):
        return False
    value = args[0].val
    if isinstance(value, ast.Integer):
        return bool(value.ival)
    text = value.fval if isinstance(value, ast.Float) else getattr(value, "sval", None)
    match = _NUMBER.match(text or "")
    return match is not None and float(match[1]) != 0
