"""Which constraint and index names the models choose, and which they leave to others.

SQLAlchemy names a constraint or an index in one of three ways
(``sqlalchemy.sql.naming._constraint_name_for_table``):

* explicitly, ``Index("ix_x", ...)`` or ``UniqueConstraint(..., name="uq_x")``: the name
  stays a plain ``str``;
* from a naming convention of the MetaData: the name is a ``sqlalchemy.sql.elements.conv``
  (so is an explicit name put through a template with ``%(constraint_name)s``), or the
  ``_NONE_NAME`` marker when the template is filled in only when the DDL is compiled;
* not at all (``None``): PostgreSQL makes one up (``t_pkey``, ``t_a_fkey``, ``t_a_key``,
  ``t_a_check``).

The one convention every MetaData has unless told otherwise, SQLAlchemy's own
``{"ix": "ix_%(column_0_label)s"}`` (``Column(index=True)``), is no choice of the
project's: its names count as made up. Names are given as PostgreSQL stores them, exactly
as ``model_plan`` names the objects (SQLAlchemy's shortening of long generated names, then
63-byte truncation), keyed by ``schema.table``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbctl.pg.identifiers import truncate

if TYPE_CHECKING:
    from sqlalchemy import MetaData

# SQLAlchemy's DEFAULT_NAMING_CONVENTION, compared by value (a copy of it is the same).
SQLALCHEMY_DEFAULT_CONVENTION = {"ix": "ix_%(column_0_label)s"}


@dataclass(frozen=True)
class ModelNames:
    """The names of constraints and indexes the models decide, per ``schema.table``."""

    explicit: Mapping[str, frozenset[str]]  # spelled out in the models
    chosen: Mapping[str, frozenset[str]]  # explicit, or made by the project's convention

    def is_chosen(self, table: str | None, name: str | None) -> bool:
        """Whether the models decide the name ``name`` of an object of ``table``."""
        return table is not None and name is not None and name in self.chosen.get(table, ())


def model_names(metadata: MetaData, default_schema: str = "public") -> ModelNames:
    """The explicit and the chosen names of ``metadata``'s constraints and indexes."""
    import sqlalchemy.exc
    from sqlalchemy import Index
    from sqlalchemy.sql.base import _NONE_NAME
    from sqlalchemy.sql.elements import conv

    from dbctl.lifecycle.model_compile import Compiler

    compiler = Compiler(frozenset())
    projects_ix = dict(metadata.naming_convention) != SQLALCHEMY_DEFAULT_CONVENTION
    explicit: dict[str, frozenset[str]] = {}
    chosen: dict[str, frozenset[str]] = {}
    for table in metadata.tables.values():
        schema = truncate(table.schema) if table.schema else default_schema
        key = f"{schema}.{truncate(table.name)}"
        spelled, made = set(), set()
        for item in _named(table):
            name = item.name
            if name is None:
                continue  # PostgreSQL makes one up
            if not isinstance(name, conv) and name is not _NONE_NAME:
                spelled.add(truncate(name))
                continue
            if isinstance(item, Index) and not projects_ix:
                continue  # SQLAlchemy's default convention: no choice of the project's
            try:
                final = compiler.name(item)  # an index's too: format_constraint() names both
            except sqlalchemy.exc.SQLAlchemyError:
                continue  # create_all would fail on it too: nothing to decide
            if final is not None:
                made.add(final)
        if spelled:
            explicit[key] = frozenset(spelled)
        if spelled or made:
            chosen[key] = frozenset(spelled | made)
    return ModelNames(explicit, chosen)


def _named(table: Any) -> Iterator[Any]:
    """The table's constraints (those declared on its columns too) and indexes."""
    yield from table.constraints
    for column in table.columns:
        yield from column.constraints
    yield from table.indexes
