"""The catalog snapshot: a frozen picture of a database's schema (its loader is
``dbctl.pg.catalog_loader``).

Analysis code (drift, schema rules, index advice) takes a ``Catalog``, never a connection,
so unit tests build one by hand. Every class here is a frozen, hashable dataclass made of
tuples, strings and ``FrozenMap``\\ s. Text such as types, defaults, index and constraint
definitions is exactly what PostgreSQL's own deparsers print (``format_type``,
``pg_get_expr``, ``pg_get_indexdef``, ``pg_get_constraintdef``, ``pg_get_viewdef``), so two
databases built from the same DDL give equal snapshots, and a model side is built the same
way: ``metadata.create_all`` in a scratch database, then ``load_catalog``.

``load_catalog`` reads a whole database in a constant number of queries (``QUERY_COUNT``),
whatever its size: one per object kind, filtered on the wanted schemas, never per table.
It takes a psycopg 3 connection, its primary API; a SQLAlchemy ``Connection`` is accepted
and adapted to the psycopg connection it drives. The reads run in a transaction (or a
savepoint, when one is already open) that is rolled back at the end, with ``search_path``
set to ``public`` for their duration, so deparsed names are qualified the same way whatever
the session's own path is; the caller's session is left as it was.
"""

from __future__ import annotations

from collections import abc
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    pass

V = TypeVar("V")

TABLE_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}
VIEW_KINDS = frozenset({"view", "materialized view"})
FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
FK_MATCH = {"s": "SIMPLE", "f": "FULL", "p": "PARTIAL"}
IDENTITY = {"": "", "a": "always", "d": "by default"}


class FrozenMap(Mapping[str, V]):
    """An immutable, hashable mapping (the catalog's tables, enums, sequences...)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        self._data: dict[str, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # format_type(atttypid, atttypmod): "integer", "character varying(20)"
    nullable: bool = True
    default: str | None = None  # pg_get_expr(adbin, adrelid); None for generated columns
    identity: str = ""  # "", "always" or "by default"
    generated: str | None = None  # the expression of a stored generated column
    collation: str | None = None  # only when it is not the type's default collation
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Index:
    """An index. Key parts are parallel tuples, one entry per part of ``columns``.

    ``columns`` holds a column name, or for an expression key the expression text as
    ``pg_get_indexdef(indexrelid, k, true)`` prints it (``expressions[k]`` is then True).
    Sort options and operator classes are given per key part: ``nulls_first`` defaults to
    ``descending`` (PostgreSQL's default), an ``opclasses`` entry is None for the default.
    """

    name: str
    columns: tuple[str, ...]
    unique: bool = False
    primary: bool = False
    method: str = "btree"
    predicate: str | None = None  # pg_get_expr(indpred, indrelid), without "WHERE"
    definition: str = ""  # pg_get_indexdef(indexrelid)
    valid: bool = True  # False for an INVALID index left by a failed concurrent build
    include: tuple[str, ...] = ()
    expressions: tuple[bool, ...] = ()
    descending: tuple[bool, ...] = ()
    nulls_first: tuple[bool, ...] = ()
    opclasses: tuple[str | None, ...] = ()
    constraint: str | None = None  # the primary key, unique or exclusion constraint it backs

    def __post_init__(self) -> None:
        count = len(self.columns)
        if not self.expressions:
            object.__setattr__(self, "expressions", (False,) * count)
        if not self.descending:
            object.__setattr__(self, "descending", (False,) * count)
        if not self.nulls_first:
            object.__setattr__(self, "nulls_first", self.descending)
        if not self.opclasses:
            object.__setattr__(self, "opclasses", (None,) * count)
        if not (
            len(self.expressions)
            == len(self.descending)
            == len(self.nulls_first)
            == len(self.opclasses)
            == count
        ):
            raise ValueError(f"index {self.name}: key part options do not match its columns")

    @property
    def definition_without_name(self) -> str:
        """``definition`` with the index name taken out, to compare two indexes' shapes."""
        return strip_index_name(self.definition)

    @property
    def signature(self) -> Hashable:
        """All that makes the index what it is except its name: equal means a rename."""
        return (
            self.unique,
            self.method,
            self.columns,
            self.expressions,
            self.descending,
            self.nulls_first,
            self.opclasses,
            self.include,
            self.predicate,
            self.definition_without_name,
        )


def strip_index_name(definition: str) -> str:
    """``CREATE UNIQUE INDEX "ix" ON t ...`` -> ``CREATE UNIQUE INDEX ON t ...``."""
    for prefix in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        if definition.startswith(prefix):
            rest = definition[len(prefix) :]
            end = _identifier_end(rest)
            return prefix + rest[end:].lstrip()
    return definition


def _identifier_end(text: str) -> int:
    if not text.startswith('"'):
        space = text.find(" ")
        return len(text) if space < 0 else space
    position = 1
    while True:
        close = text.find('"', position)
        if close < 0:
            return len(text)
        if text.startswith('""', close):
            position = close + 2
            continue
        return close + 1


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str = "NO ACTION"  # NO ACTION, RESTRICT, CASCADE, SET NULL, SET DEFAULT
    on_delete: str = "NO ACTION"
    deferrable: bool = False
    definition: str = ""  # pg_get_constraintdef: "FOREIGN KEY (a) REFERENCES t(id) ..."
    initially_deferred: bool = False
    match: str = "SIMPLE"  # SIMPLE, FULL

    @property
    def ref_qualified_name(self) -> str:
        return f"{self.ref_schema}.{self.ref_table}"

    @property
    def signature(self) -> Hashable:
        return (
            self.columns,
            self.ref_schema,
            self.ref_table,
            self.ref_columns,
            self.on_update,
            self.on_delete,
            self.deferrable,
            self.initially_deferred,
            self.match,
            self.definition,
        )


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    definition: str  # pg_get_constraintdef: "CHECK (total >= 0)", "... NOT VALID"


@dataclass(frozen=True, slots=True)
class Unique:
    """A unique constraint; the rest of its shape is its index's (same name)."""

    name: str
    columns: tuple[str, ...]
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass(frozen=True, slots=True)
class PrimaryKey:
    """A primary key; the rest of its shape is its index's (same name)."""

    name: str
    columns: tuple[str, ...]
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    schema: str
    name: str
    kind: str = "table"  # table, partitioned table, view, materialized view, foreign table
    columns: tuple[Column, ...] = ()
    primary_key: PrimaryKey | None = None
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()
    uniques: tuple[Unique, ...] = ()
    row_estimate: int = -1  # reltuples; -1 when never analysed
    total_bytes: int = 0  # pg_total_relation_size: heap, indexes and TOAST
    partition_of: str | None = None  # "schema.parent" for a partition
    view_definition: str | None = None  # pg_get_viewdef(oid, true) for views
    comment: str | None = None
    partition_bound: str | None = None  # "FOR VALUES FROM (...) TO (...)"
    partition_key: str | None = None  # "RANGE (created_at)" for a partitioned table

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def is_view(self) -> bool:
        return self.kind in VIEW_KINDS

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    def index(self, name: str) -> Index | None:
        return next((index for index in self.indexes if index.name == name), None)


@dataclass(frozen=True, slots=True)
class Enum:
    schema: str
    name: str
    values: tuple[str, ...]  # labels in enumsortorder

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class Sequence:
    """A sequence; an identity column's own sequence is not listed (it is the column's)."""

    schema: str
    name: str
    data_type: str = "bigint"
    owned_by: str | None = None  # "schema.table.column" for a serial column's sequence
    start: int = 1
    increment: int = 1
    min_value: int = 1
    max_value: int = 9223372036854775807
    cycle: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


def _frozen(value: Mapping[str, V]) -> FrozenMap[V]:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Tables (views included), enums and sequences keyed by qualified name."""

    tables: Mapping[str, Table] = field(default_factory=FrozenMap)
    enums: Mapping[str, Enum] = field(default_factory=FrozenMap)
    sequences: Mapping[str, Sequence] = field(default_factory=FrozenMap)
    server_version_num: int = 0
    extensions: Mapping[str, str] = field(default_factory=FrozenMap)  # name -> version

    def __post_init__(self) -> None:
        for name in ("tables", "enums", "sequences", "extensions"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @classmethod
    def build(
        cls,
        tables: Iterable[Table] = (),
        enums: Iterable[Enum] = (),
        sequences: Iterable[Sequence] = (),
        *,
        server_version_num: int = 0,
        extensions: Mapping[str, str] | None = None,
    ) -> Catalog:
        """A catalog from lists of objects, keyed by their qualified names."""
        return cls(
            tables=FrozenMap((table.qualified_name, table) for table in tables),
            enums=FrozenMap((enum.qualified_name, enum) for enum in enums),
            sequences=FrozenMap((seq.qualified_name, seq) for seq in sequences),
            server_version_num=server_version_num,
            extensions=FrozenMap(extensions or {}),
        )

    def table(self, name: str, search_path: abc.Sequence[str] = ("public",)) -> Table | None:
        """The table or view ``schema.name``, or ``name`` found along ``search_path``."""
        found = self.tables.get(name)
        if found is not None:
            return found
        for schema in search_path:
            found = self.tables.get(f"{schema}.{name}")
            if found is not None:
                return found
        return None


# --- the live loader ------------------------------------------------------------------
#
# One query per object kind, each filtered on the wanted schemas, all sent at once in a
# pipeline: one round trip, which matters with a distant server. The relations query alone
# leaves out extension members; rows of the other queries that belong to a relation it did
# not keep are dropped here.
# Key column names of indexes and constraints are resolved from the columns read.
# Defaults go through pg_get_expr(adbin, 0): a default holds no column reference, and with
# no relation given PostgreSQL 15 does not open (and build a cache entry for) every table.
