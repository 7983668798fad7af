"""Which columns a ``SET NOT NULL`` would not scan: PostgreSQL 12+ skips the scan when a
validated ``CHECK (col IS NOT NULL)`` proves the column, and a column NOT NULL already
needs none. What the statements of the revisions do to that proof is followed here:
a check added (validated, or NOT VALID and validated later by its name), dropped, the
column's NOT NULL dropped, the column or its table dropped or renamed (then nothing is
known of it: a finding rather than a missed scan).

A column is keyed by its schema, its table and its own name as stored; a name without a
schema is taken as one of ``public`` (the default search_path), so ``users`` and
``public.users`` are the same table and ``billing.users`` is another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import ConstrType, NullTestType

from dbctl.lint.names import Table, constraint_name, names_of, table_of
from dbctl.pg.identifiers import make_object_name

Key = tuple[str, str, str]  # (schema, table, column)
CheckKey = tuple[str, str, str]  # (schema, table, constraint name)


@dataclass
class NotNullProofs:
    proven: set[Key] = field(default_factory=set)
    checks: dict[CheckKey, tuple[str, bool]] = field(default_factory=dict)  # -> column, valid

    @classmethod
    def from_catalog(cls, rows: Iterable[tuple[str, str, str, str | None, bool]]) -> NotNullProofs:
        """Rows of (schema, table, column, the check's name or None for a NOT NULL column,
        whether the check is validated)."""
        proofs = cls()
        for schema, table, column, check, valid in rows:
            if check is None or valid:
                proofs.proven.add((schema, table, column))
            if check is not None:
                proofs.checks[(schema, table, check)] = (column, valid)
        return proofs

    def copy(self) -> NotNullProofs:
        return NotNullProofs(set(self.proven), dict(self.checks))

    def proves(self, table: Table, column: str) -> bool:
        return (*_table(table), column) in self.proven

    def set_not_null(self, table: Table, column: str) -> None:
        self.proven.add((*_table(table), column))

    def check_added(self, table: Table, constraint: ast.Constraint) -> None:
        column = _not_null_column(constraint)
        if column is None:
            return
        name = constraint.conname or constraint_name(table, constraint)
        valid = not constraint.skip_validation
        self.checks[(*_table(table), name)] = (column, valid)
        if valid:
            self.proven.add((*_table(table), column))

    def validated(self, table: Table, name: str) -> None:
        known = self.checks.get((*_table(table), name))
        if known is not None:
            self.checks[(*_table(table), name)] = (known[0], True)
            self.proven.add((*_table(table), known[0]))

    def constraint_dropped(self, table: Table, name: str) -> None:
        known = self.checks.pop((*_table(table), name), None)
        if known is not None and not self._checked(table, known[0]):
            self.proven.discard((*_table(table), known[0]))

    def not_null_dropped(self, table: Table, column: str) -> None:
        if not self._checked(table, column):
            self.proven.discard((*_table(table), column))

    def column_gone(self, table: Table, column: str) -> None:
        """Dropped or renamed: nothing known of the name any more."""
        where = _table(table)
        self.proven.discard((*where, column))
        self.checks = {
            key: known
            for key, known in self.checks.items()
            if not (key[:2] == where and known[0] == column)
        }

    def table_gone(self, table: Table) -> None:
        where = _table(table)
        self.proven = {key for key in self.proven if key[:2] != where}
        self.checks = {key: known for key, known in self.checks.items() if key[:2] != where}

    def _checked(self, table: Table, column: str) -> bool:
        """Whether a validated check still proves the column."""
        where = _table(table)
        return any(
            key[:2] == where and known == (column, True) for key, known in self.checks.items()
        )


def _table(table: Table) -> tuple[str, str]:
    return (table.schema or "public", table.name)


def _not_null_column(constraint: ast.Constraint) -> str | None:
    """The column of an enforced ``CHECK (col IS NOT NULL)``, else None."""
    test = constraint.raw_expr
    if (
        constraint.contype != ConstrType.CONSTR_CHECK
        or not constraint.is_enforced
        or not isinstance(test, ast.NullTest)
        or test.nulltesttype != NullTestType.IS_NOT_NULL
        or not isinstance(test.arg, ast.ColumnRef)
    ):
        return None
    return (names_of(test.arg.fields) or [""])[-1] or None


ForeignKey = tuple[Table, tuple[str, ...]]  # the table it points to, its columns


@dataclass
class Known:
    """What the statements read so far tell of the schema, carried from one revision to
    the next (the shadow's catalog replaces ``proofs`` before a measured revision): the
    NOT NULL proofs, the table of each index created, and the foreign keys created, by
    (schema, table) and name (dropping one locks the table it points to)."""

    proofs: NotNullProofs = field(default_factory=NotNullProofs)
    indexes: dict[str, Table] = field(default_factory=dict)  # lower-cased name -> table
    foreign_keys: dict[tuple[tuple[str, str], str], ForeignKey] = field(default_factory=dict)

    def copy(self) -> Known:
        return Known(self.proofs.copy(), dict(self.indexes), dict(self.foreign_keys))

    def parents(
        self, table: Table, *, name: str | None = None, column: str | None = None
    ) -> list[Table]:
        """The tables the foreign keys of ``table`` point to: all of them, the one named
        ``name``, or those on ``column``."""
        return [
            parent
            for key, (parent, columns) in self.foreign_keys.items()
            if _of(key, columns, table, name, column)
        ]

    def foreign_key_added(
        self, table: Table, constraint: ast.Constraint, column: str | None
    ) -> None:
        """A FOREIGN KEY of ``table`` (``column``: written on that column)."""
        if constraint.contype != ConstrType.CONSTR_FOREIGN or constraint.pktable is None:
            return
        columns = (column,) if column else tuple(names_of(constraint.fk_attrs))
        if constraint.conname:
            name = constraint.conname
        elif column:
            name = make_object_name(table.name, column, "fkey")
        else:
            name = constraint_name(table, constraint)
        self.foreign_keys[(_table(table), name)] = (table_of(constraint.pktable), columns)

    def foreign_keys_gone(
        self, table: Table, *, name: str | None = None, column: str | None = None
    ) -> None:
        self.foreign_keys = {
            key: (parent, columns)
            for key, (parent, columns) in self.foreign_keys.items()
            if not _of(key, columns, table, name, column)
        }


def _of(
    key: tuple[tuple[str, str], str],
    columns: tuple[str, ...],
    table: Table,
    name: str | None,
    column: str | None,
) -> bool:
    """Whether the foreign key ``key`` (on ``columns``) is one of ``table``'s: any, the one
    named ``name``, or those on ``column``."""
    child, key_name = key
    return (
        child == _table(table)
        and (name is None or key_name == name)
        and (column is None or column in columns)
    )
