"""Walk a MetaData as ``metadata.create_all`` does, and keep what it would create.

The order (``sort_tables_and_constraints``), the constraints kept
(``_should_create_for_compiler``), SERIAL, the compiled SQL of types, defaults, checks and
index keys, and every name (naming conventions, SQLAlchemy's truncation) come from the
same SQLAlchemy calls that ``create_all`` makes, on a fresh PostgreSQL dialect like the
mock engine of ``models.create_schema``. Models it cannot follow exactly raise
``ModelsNeedDatabase`` (the caller then runs ``create_all`` in a scratch database).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import DefaultClause, Sequence, TextClause
from sqlalchemy.dialects.postgresql.named_types import NamedType
from sqlalchemy.sql import ddl
from sqlalchemy.types import ARRAY, BigInteger, Enum, SchemaType, SmallInteger

from dbctl.lifecycle.model_compile import (
    FK_ACTIONS,
    FK_MATCH,
    SEQUENCE_TYPES,
    SERIAL_TYPES,
    Compiler,
    sequence_plan,
)
from dbctl.lifecycle.model_indexes import plan_index
from dbctl.lifecycle.model_units import (
    ColumnPlan,
    EnumPlan,
    ForeignKeyPlan,
    KeyPlan,
    ModelsNeedDatabase,
    ModelsPlan,
    SequencePlan,
    TablePlan,
    Unit,
    Use,
)
from dbctl.pg.identifiers import Quoting, truncate

if TYPE_CHECKING:
    from sqlalchemy import MetaData


class Planner:
    """Fills a ``ModelsPlan``; see the module docstring."""

    def __init__(
        self,
        default_schema: str,
        quoting: Quoting,
        reserved: frozenset[str],
        catalog_types: frozenset[str],
        tag: str,
    ) -> None:
        self.compiler = Compiler(reserved)
        self.default_schema = default_schema
        self.quoting = quoting
        self.catalog_types = catalog_types
        self.tag = tag
        self.enums: dict[tuple[str, str], EnumPlan] = {}
        self.units: dict[tuple[str, str, str], Unit] = {}

    def schema_of(self, obj: Any) -> str:
        schema = self.compiler.preparer.schema_for_object(obj)
        return truncate(schema) if schema else self.default_schema

    def plan(self, metadata: MetaData) -> ModelsPlan:
        _check_listeners(metadata)
        for type_ in _metadata_types(metadata):
            self.enum_type(type_)
        tables = list(metadata.tables.values())
        standalone = [
            self.sequence(seq)
            for seq in metadata._sequences.values()
            if seq.column is None and not seq.optional
        ]
        plans: list[TablePlan] = []
        by_table: dict[Any, TablePlan] = {}
        late: list[tuple[TablePlan, ForeignKeyPlan]] = []
        sort: Any = ddl.sort_tables_and_constraints  # create_all's order
        for table, fkcs in sort(tables):
            if table is not None:
                by_table[table] = plan = self.table(table, set(fkcs))
                plans.append(plan)
            else:
                late += [(by_table[fkc.table], self.foreign_key(fkc, True)) for fkc in fkcs]
        return ModelsPlan(list(self.enums.values()), standalone, plans, late)

    # --- types ---------------------------------------------------------------------

    def enum_type(self, impl: Any) -> EnumPlan:
        key = (self.schema_of(impl), truncate(impl.name or ""))
        labels = tuple(impl.enums)
        found = self.enums.get(key)
        if found is not None:
            if found.labels != labels:
                raise ModelsNeedDatabase(f"two enums named {key[1]} have different values")
            return found
        if not impl.name or not getattr(impl, "create_type", True):
            raise ModelsNeedDatabase(f"enum {impl.name or '(no name)'} is not created by them")
        schema, name = key
        visible = schema == "public" and name not in self.catalog_types
        temp = name if visible else f"dbctl_{self.tag}_e{len(self.enums)}"
        shown = self.quoting.ident(name) if visible else self.quoting.qualified(schema, name)
        self.enums[key] = plan = EnumPlan(schema, name, labels, temp, shown)
        return plan

    def column_type(self, column: Any) -> str:
        """The column's type as SQL for pg_temp: enums by their pg_temp names."""
        impl = self.compiler.impl(column.type)
        suffix = ""
        if isinstance(impl, ARRAY):
            suffix = "[]" * (impl.dimensions or 1)
            impl = self.compiler.impl(impl.item_type)
        if isinstance(impl, Enum) and impl.native_enum:
            return f"pg_temp.{self.quoting.ident(self.enum_type(impl).temp)}{suffix}"
        if isinstance(impl, NamedType):  # a DOMAIN: its constraints are not in a catalog
            raise ModelsNeedDatabase(f"column {column}: {type(impl).__name__} types")
        return self.compiler.type(column)

    def sequence(self, seq: Any) -> SequencePlan:
        data_type = None
        if seq.data_type is not None:
            compiled = self.compiler.dialect.type_compiler_instance.process(seq.data_type)
            data_type = SEQUENCE_TYPES.get(compiled, compiled)
        return sequence_plan(self.schema_of(seq), truncate(seq.name), seq, data_type)

    # --- tables --------------------------------------------------------------------

    def table(self, table: Any, inline_fks: set[Any]) -> TablePlan:
        _check_table(table)
        dialect = self.compiler.dialect
        dialect.validate_identifier(table.name)
        plan = TablePlan(self.schema_of(table), truncate(table.name), comment=table.comment or None)
        columns = [column for column in table.columns if not column.system]
        plan.columns = [self.column(column, plan) for column in columns]
        plan.types = {column.name: column.type_sql for column in plan.columns}
        key_columns = {column.name for column in table.primary_key.columns}
        for column, planned in zip(columns, plan.columns, strict=True):
            if column.name in key_columns:
                planned.nullable = False
            self.column_expressions(column, planned, plan)
            plan.checks += [self.check(c, plan) for c in column.constraints]
        ddl = self.compiler.ddl
        for constraint in table._sorted_constraints:
            if constraint is table.primary_key or not constraint._should_create_for_compiler(ddl):
                continue
            kind = type(constraint).__name__
            if kind == "CheckConstraint":
                plan.checks.append(self.check(constraint, plan))
            elif kind == "UniqueConstraint" and len(constraint):
                plan.uniques.append(self.key(constraint, tuple(c.name for c in constraint)))
            elif kind == "ForeignKeyConstraint":
                if constraint in inline_fks and not constraint.use_alter:
                    plan.foreign_keys.append(self.foreign_key(constraint, False))
            elif kind != "UniqueConstraint":
                raise ModelsNeedDatabase(f"table {table.fullname}: {kind} constraints")
        primary = table.primary_key
        if len(primary) and primary._should_create_for_compiler(ddl):
            ordered = primary.columns_autoinc_first if primary._implicit_generated else primary
            plan.primary_key = self.key(primary, tuple(c.name for c in ordered))
        plan.indexes = [plan_index(self, index, plan) for index in table.indexes]
        return plan

    def column(self, column: Any, table: TablePlan) -> ColumnPlan:
        has_identity = column.identity is not None
        serial = _serial(self.compiler, column, has_identity)
        type_sql, type_unit, default = serial or "", None, None
        if serial is None:
            type_sql = self.column_type(column)
            type_unit = self.unit("type", type_sql)
            text = self.default(column)
            default = None if text is None else self.unit("default", type_sql, text)
        if has_identity and (default is not None or column.nullable):
            raise ModelsNeedDatabase(f"column {column}: identity with a default or NULL")
        if isinstance(column.default, Sequence) and not column.default.optional:
            table.sequences.append(self.sequence(column.default))
        identity = "" if not has_identity else "always" if column.identity.always else "by default"
        return ColumnPlan(
            name=truncate(column.name),
            type_sql=type_sql,
            type_unit=type_unit,
            serial=serial,
            nullable=column.nullable and not has_identity and serial is None,
            default=default,
            identity=identity,
            comment=column.comment or None,
        )

    def unit(self, kind: str, type_sql: str, text: str = "") -> Unit:
        """The unit of one column (shared: 5,000 columns have a few dozen types)."""
        key = (kind, type_sql, text)
        found = self.units.get(key)
        if found is None:
            found = self.units[key] = Unit(kind, (type_sql,), text)
        return found

    def default(self, column: Any) -> str | None:
        """DDLCompiler.get_column_default_string(), without compiling plain text()."""
        server_default = column.server_default
        if not isinstance(server_default, DefaultClause):
            return None
        arg = server_default.arg
        if isinstance(arg, TextClause) and ":" not in arg.text:
            return arg.text
        text: str | None = self.compiler.ddl.get_column_default_string(column)
        return text

    def column_expressions(self, column: Any, planned: ColumnPlan, table: TablePlan) -> None:
        computed = column.computed
        if computed is None:
            return
        sql = self.compiler.expression(computed.sqltext)
        suffix = {True: " STORED", False: " VIRTUAL", None: ""}[computed.persisted]
        planned.generated = self.compiler.use("generated", sql, table, suffix, planned.type_sql)
        planned.default = None

    def check(self, constraint: Any, table: TablePlan) -> tuple[str | None, Use]:
        ddl = self.compiler.ddl
        if constraint._type_bound:
            ddl.process(constraint)  # SQLAlchemy's own checks (and errors) for Enum, Boolean
        suffix = ddl.define_constraint_deferrability(constraint)  # as PGDDLCompiler adds them
        if not constraint.is_column_level:  # visit_column_check_constraint() has no NOT VALID
            suffix += " NOT VALID" if constraint.dialect_options["postgresql"]["not_valid"] else ""
        sql = self.compiler.expression(constraint.sqltext)
        return self.compiler.name(constraint), self.compiler.use("check", sql, table, suffix)

    def key(self, constraint: Any, columns: tuple[str, ...]) -> KeyPlan:
        options = constraint.dialect_options["postgresql"]
        include = tuple(  # strings are column keys (PGDDLCompiler._define_include)
            truncate(constraint.table.c[item].name if isinstance(item, str) else item.name)
            for item in options.get("include") or ()
        )
        deferrable, deferred = self.compiler.deferrability(constraint)
        return KeyPlan(
            self.compiler.name(constraint),
            tuple(truncate(column) for column in columns),
            include,
            deferrable,
            deferred,
            options.get("nulls_not_distinct") is True,
        )

    def foreign_key(self, constraint: Any, late: bool) -> ForeignKeyPlan:
        compiler = self.compiler
        elements = list(constraint.elements)
        target = elements[0].column.table
        actions = [compiler.phrase(constraint.onupdate), compiler.phrase(constraint.ondelete)]
        match = compiler.phrase(constraint.match) or "SIMPLE"
        if any(a not in FK_ACTIONS for a in actions if a) or match not in FK_MATCH:
            raise ModelsNeedDatabase(f"foreign key {constraint.name}: {actions} MATCH {match}")
        deferrable, deferred = compiler.deferrability(constraint)
        not_valid = bool(constraint.dialect_options["postgresql"].get("not_valid"))
        return ForeignKeyPlan(
            name=compiler.name(constraint),
            columns=tuple(truncate(e.parent.name) for e in elements),
            ref_schema=self.schema_of(target),
            ref_table=truncate(target.name),
            ref_columns=tuple(truncate(e.column.name) for e in elements),
            on_update=actions[0] or "NO ACTION",
            on_delete=actions[1] or "NO ACTION",
            match=match,
            deferrable=deferrable,
            deferred=deferred,
            not_valid=late and not_valid,  # CREATE TABLE marks its foreign keys valid
        )


def _serial(compiler: Compiler, column: Any, has_identity: bool) -> str | None:
    """PGDDLCompiler.get_column_specification(): when a column becomes SERIAL."""
    if not (column.primary_key and column is column.table._autoincrement_column):
        return None
    if has_identity or not (
        column.default is None or (isinstance(column.default, Sequence) and column.default.optional)
    ):
        return None
    impl = compiler.impl(column.type)
    if isinstance(impl, BigInteger):
        return SERIAL_TYPES["BIGSERIAL"]
    if isinstance(impl, SmallInteger):
        return SERIAL_TYPES["SMALLSERIAL"]
    return SERIAL_TYPES["SERIAL"]


def _type_listener(fn: Any) -> Any:
    """The SchemaType whose create hook ``fn`` is (Enum, Boolean...), or None. SQLAlchemy
    wraps it in a bound method (2.1), a partial, or a ``portable_instancemethod`` (2.0)."""
    target = getattr(getattr(fn, "func", fn), "__self__", None) or getattr(fn, "target", None)
    return target if isinstance(target, SchemaType) else None


def _metadata_types(metadata: MetaData) -> Iterator[Any]:
    for fn in metadata.dispatch.before_create:
        target = _type_listener(fn)
        if isinstance(target, Enum) and target.native_enum and target.name:
            yield target


def _check_listeners(metadata: MetaData) -> None:
    """DDL events may run any SQL: only the type hooks SQLAlchemy adds itself are known."""
    targets: list[Any] = [metadata, *metadata.tables.values()]
    targets += [index for table in metadata.tables.values() for index in table.indexes]
    for target in targets:
        dispatch = target.dispatch
        for event in ("before_create", "after_create"):
            for fn in getattr(dispatch, event):
                if _type_listener(fn) is None:
                    raise ModelsNeedDatabase(f"{target!r} has a DDL event listener ({event})")


def _check_table(table: Any) -> None:
    options = table.dialect_options["postgresql"]
    reasons = [
        ("a view", getattr(table, "is_view", False)),
        ("created by its own DDL", getattr(table, "_creator_ddl", None) is not None),
        ("a conditional DDL rule", getattr(table, "_ddl_if", None) is not None),
        ("prefixes", any(p.upper() != "UNLOGGED" for p in table._prefixes)),
        ("partitioned", options.get("partition_by")),
        ("inherits", options.get("inherits")),
    ]
    for reason, present in reasons:
        if present:
            raise ModelsNeedDatabase(f"table {table.fullname}: {reason}")
