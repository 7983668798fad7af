"""The plan of the models: what ``metadata.create_all`` would ask PostgreSQL to create.

``model_plan`` fills it from a MetaData; ``model_deparse`` has PostgreSQL normalise its
``Unit``\\ s; ``model_assemble`` names and renders the rest in Python.

A ``Unit`` is what only PostgreSQL can normalise (a type, a server default, a check, a
generated column, an index it must build), with the columns it reads replaced by markers,
so that the same unit over other columns of the same types (``qty > 0`` in 500 tables) is
deparsed once. A ``Use`` is a unit in one table: the real columns behind its markers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbctl.errors import DbctlError


class ModelsNeedDatabase(DbctlError):
    """The models use something only ``create_all`` in a real database can lay out."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing for PostgreSQL to normalise, whatever table it belongs to.

    ``kind``: ``type`` (a column's type), ``default`` (a column with a default),
    ``check``, ``generated`` (the last column is generated from the others), ``index``, or
    ``fk`` (a foreign key from the second column to a key on the first, checked only).
    ``types``: the SQL type of each placeholder column; ``text``: the SQL with marker
    ``n`` for placeholder ``n``; ``suffix``: what follows a check or generated column, or
    ``UNIQUE `` for an index.
    """

    kind: str
    types: tuple[str, ...]
    text: str = ""
    suffix: str = ""
    fast: bool = True  # False: its SQL could not be followed; only the real names will do


@dataclass(frozen=True, slots=True)
class Use:
    """A unit in one table: the columns its markers stand for, and the SQL as written."""

    unit: Unit
    refs: tuple[str, ...]
    original: str


@dataclass(frozen=True, slots=True)
class EnumPlan:
    schema: str
    name: str
    labels: tuple[str, ...]
    temp: str  # its name in pg_temp: its own when PostgreSQL prints it bare, else made up
    shown: str  # format_type() of it, as load_catalog prints it


@dataclass(frozen=True, slots=True)
class SequencePlan:
    schema: str
    name: str
    data_type: str
    start: int
    increment: int
    min_value: int
    max_value: int
    cycle: bool


@dataclass
class ColumnPlan:
    name: str
    type_sql: str
    type_unit: Unit | None  # None for a serial column (its type is known)
    serial: str | None = None  # integer, bigint or smallint for SERIAL, BIGSERIAL...
    nullable: bool = True
    default: Unit | None = None
    identity: str = ""
    generated: Use | None = None
    comment: str | None = None


@dataclass(frozen=True)
class KeyPlan:
    """A primary key or unique constraint (the index PostgreSQL builds for it)."""

    name: str | None
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    deferrable: bool = False
    deferred: bool = False
    nulls_not_distinct: bool = False

    def same_index(self, other: KeyPlan) -> bool:
        """transformIndexConstraints(): two key constraints that make one index."""
        return (self.columns, self.include, self.nulls_not_distinct, self.deferrable) == (
            other.columns,
            other.include,
            other.nulls_not_distinct,
            other.deferrable,
        ) and self.deferred == other.deferred


@dataclass(frozen=True)
class ForeignKeyPlan:
    name: str | None
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str = "NO ACTION"
    on_delete: str = "NO ACTION"
    match: str = "SIMPLE"
    deferrable: bool = False
    deferred: bool = False
    not_valid: bool = False


@dataclass(frozen=True)
class IndexPlan:
    """An index; ``use`` when PostgreSQL must build it, else a plain btree on columns."""

    name: str
    unique: bool
    columns: tuple[str, ...] = ()
    descending: tuple[bool, ...] = ()
    nulls_first: tuple[bool, ...] = ()
    include: tuple[str, ...] = ()
    nulls_not_distinct: bool = False
    use: Use | None = None


@dataclass
class TablePlan:
    schema: str
    name: str
    columns: list[ColumnPlan] = field(default_factory=list)
    checks: list[tuple[str | None, Use]] = field(default_factory=list)
    primary_key: KeyPlan | None = None
    uniques: list[KeyPlan] = field(default_factory=list)
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)
    indexes: list[IndexPlan] = field(default_factory=list)
    sequences: list[SequencePlan] = field(default_factory=list)  # Sequence() column defaults
    comment: str | None = None
    types: dict[str, str] = field(default_factory=dict)  # column name -> SQL type


@dataclass
class ModelsPlan:
    enums: list[EnumPlan]
    sequences: list[SequencePlan]  # standalone ones, created first
    tables: list[TablePlan]
    late_foreign_keys: list[tuple[TablePlan, ForeignKeyPlan]]  # use_alter, cycles: last

    def units(self) -> list[Unit]:
        """Every distinct unit, in a stable order."""
        seen: dict[int, Unit] = {}  # by identity first: column units are shared objects
        for table in self.tables:
            for column in table.columns:
                for unit in (column.type_unit, column.default):
                    if unit is not None:
                        seen[id(unit)] = unit
                if column.generated is not None:
                    seen[id(column.generated.unit)] = column.generated.unit
            for _, use in table.checks:
                seen[id(use.unit)] = use.unit
            for index in table.indexes:
                if index.use is not None:
                    seen[id(index.use.unit)] = index.use.unit
        return list(dict.fromkeys(seen.values()))

    def probes(self) -> list[Unit]:
        """btree indexes over each type a key or plain index uses: that each has a default
        operator class (a primary key on a json column fails in create_all too)."""
        types: dict[str, None] = {}
        for table in self.tables:
            wanted = table.types
            keys = [k for k in [table.primary_key, *table.uniques] if k is not None]
            columns = [c for key in keys for c in key.columns]
            columns += [c for i in table.indexes if i.use is None for c in i.columns]
            types.update((wanted[column], None) for column in columns)
        listed = list(types)
        probes = [
            Unit(
                "index",
                tuple(chunk),
                "USING btree (" + ", ".join(f"\x00{n}\x00" for n in range(len(chunk))) + ")",
            )
            for chunk in (listed[i : i + 32] for i in range(0, len(listed), 32))
        ]
        return probes + self.foreign_key_probes()

    def foreign_key_probes(self) -> list[Unit]:
        """A foreign key between columns of each pair of different types: that PostgreSQL
        can compare them (integer to bigint can be, integer to text cannot)."""
        tables = {(table.schema, table.name): table for table in self.tables}
        keys = [(t, k) for t in self.tables for k in t.foreign_keys] + self.late_foreign_keys
        pairs: dict[tuple[str, str], None] = {}
        for table, key in keys:
            target = tables.get((key.ref_schema, key.ref_table))
            for column, ref in zip(key.columns, key.ref_columns, strict=True):
                pair = (target.types.get(ref) if target else None, table.types.get(column))
                if pair[0] is not None and pair[1] is not None and pair[0] != pair[1]:
                    pairs[pair[0], pair[1]] = None
        return [Unit("fk", pair) for pair in pairs]
