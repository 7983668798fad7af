"""SQLAlchemy's PostgreSQL compilers, called exactly as ``metadata.create_all`` calls them.

The planner (``model_plan``) takes every fragment of SQL and every name from here, so the
models' catalog starts from the very text ``create_all`` would send: the dialect is a
fresh psycopg one, like the mock engine of ``models.create_schema``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.types import ARRAY, SchemaType, TypeDecorator

from dbctl.lifecycle.model_units import ModelsNeedDatabase, SequencePlan, TablePlan, Unit, Use
from dbctl.pg.identifiers import truncate
from dbctl.pg.sql_lexer import LexError, rename_columns

_KEYWORD_PHRASE = re.compile(r"^\w+(?:\s+\w+)*$")  # SQLAlchemy's SQL_KEYWORD_PHRASE

_ADAPTED = (TypeDecorator, SchemaType, ARRAY)  # types whose PostgreSQL form may differ
SERIAL_TYPES = {"SERIAL": "integer", "BIGSERIAL": "bigint", "SMALLSERIAL": "smallint"}
SEQUENCE_TYPES = {"INTEGER": "integer", "BIGINT": "bigint", "SMALLINT": "smallint"}
FK_ACTIONS = frozenset({"NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"})
FK_MATCH = frozenset({"SIMPLE", "FULL"})
_INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def unquote(quoted: str) -> str:
    """A name as SQLAlchemy's preparer rendered it, without its quotes."""
    if len(quoted) >= 2 and quoted.startswith('"') and quoted.endswith('"'):
        return quoted[1:-1].replace('""', '"')
    return quoted


class Compiler:
    """SQLAlchemy's PostgreSQL compilers, called exactly as ``create_all`` calls them."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self.reserved = reserved
        # "named": no %-doubling in SQL text (create_all's doubled %% reach the server
        # undoubled, psycopg unescapes them); the rest compiles as on the psycopg dialect.
        dialect_class: Any = make_url("postgresql+psycopg://").get_dialect()
        self.dialect: Any = dialect_class(paramstyle="named")
        self.ddl: Any = self.dialect.ddl_compiler(self.dialect, None)
        self.preparer: Any = self.dialect.identifier_preparer

    @functools.cached_property
    def sql(self) -> Any:
        return self.ddl.sql_compiler

    def expression(self, element: Any) -> str:
        text: str = self.sql.process(element, include_table=False, literal_binds=True)
        return text

    def type(self, column: Any) -> str:
        text: str = self.dialect.type_compiler_instance.process(
            column.type, type_expression=column, identifier_preparer=self.preparer
        )
        return text

    def impl(self, type_: Any) -> Any:
        """The PostgreSQL type behind ``type_`` (TypeDecorator unwrapped, as in
        get_column_specification). Adapting a type is costly: plain types are their own."""
        if not type_._variant_mapping and not isinstance(type_, _ADAPTED):
            return type_
        impl = type_.dialect_impl(self.dialect)
        return impl.impl if isinstance(impl, TypeDecorator) else impl

    def name(self, constraint: Any) -> str | None:
        """The name create_all gives a constraint (naming convention, truncation), if any."""
        if constraint.name is None:
            return None
        quoted = self.preparer.format_constraint(constraint)
        return None if quoted is None else truncate(unquote(quoted))

    def index_name(self, index: Any) -> str:
        return truncate(unquote(self.preparer.format_index(index)))

    def phrase(self, text: str | None) -> str | None:
        """A keyword phrase (ON DELETE, INITIALLY...) as PostgreSQL reads it."""
        if text is None:
            return None
        # The pattern is given: before SQLAlchemy 2.0.47 the argument had no default.
        self.preparer.validate_sql_phrase(text, _KEYWORD_PHRASE)
        return " ".join(text.upper().split())

    def deferrability(self, constraint: Any) -> tuple[bool, bool]:
        """condeferrable and condeferred of a constraint."""
        initially = self.phrase(constraint.initially)
        if initially not in (None, "DEFERRED", "IMMEDIATE"):
            raise ModelsNeedDatabase(f"INITIALLY {initially} is not valid")
        deferred = initially == "DEFERRED"
        if constraint.deferrable is False and deferred:
            raise ModelsNeedDatabase("a constraint cannot be NOT DEFERRABLE INITIALLY DEFERRED")
        return bool(constraint.deferrable) or deferred, deferred

    def use(
        self, kind: str, sql: str, table: TablePlan, suffix: str = "", last: str | None = None
    ) -> Use:
        """The unit of ``sql`` over the columns of ``table`` that it reads; ``last``: the
        type of one more placeholder after them (a generated column's own)."""
        types = table.types
        fast = True
        try:
            template, refs = rename_columns(sql, types, self.reserved)
        except LexError:
            template, refs, fast = sql, (), False
        unit_types = tuple(types[ref] for ref in refs) + ((last,) if last is not None else ())
        return Use(Unit(kind, unit_types, template, suffix, fast), refs, sql)


def sequence_plan(schema: str, name: str, seq: Any, data_type: str | None) -> SequencePlan:
    """DefineSequence(): the defaults and checks of CREATE SEQUENCE."""
    kind = data_type or "bigint"
    if kind not in _INT_RANGES:
        raise ModelsNeedDatabase(f"sequence {name}: {kind} is not smallint, integer or bigint")
    low, high = _INT_RANGES[kind]
    increment = 1 if seq.increment is None else int(seq.increment)
    if increment == 0:
        raise ModelsNeedDatabase(f"sequence {name}: INCREMENT must not be zero")
    up = increment > 0
    no_max = seq.maxvalue is None or bool(seq.nomaxvalue)
    no_min = seq.minvalue is None or bool(seq.nominvalue)
    max_value = (high if up else -1) if no_max else int(seq.maxvalue)
    min_value = (1 if up else low) if no_min else int(seq.minvalue)
    start = (min_value if up else max_value) if seq.start is None else int(seq.start)
    if not (low <= min_value < max_value <= high and min_value <= start <= max_value):
        raise ModelsNeedDatabase(f"sequence {name}: its bounds or its start are out of range")
    cycle = bool(seq.cycle)
    return SequencePlan(schema, name, kind, start, increment, min_value, max_value, cycle)
