"""Every way two catalog snapshots differ, as data: ``diff_catalogs(expected, actual)``.

The same comparison serves drift (models against a database), idempotency (the schema
before and after a second upgrade) and round trips (before and after a down and up again),
so it is exact: a catalog compared with itself gives ``[]``, and any change to what a
snapshot holds (tables, views, columns, indexes, constraints, enums, sequences, extensions)
gives at least one ``Difference``. Column order, row estimates and sizes are not compared.

A registry of small comparers (``CATALOG_RULES`` over the two catalogs, ``TABLE_RULES``
over each table found on both sides) yields ``Change``\\ s; ``diff_catalogs`` words them
with the labels of the two sides. Indexes and constraints are matched by name first; an
unmatched pair with the same definition apart from the name is one ``index-name``
(``foreign-key-name``, ``check-name``) rather than a missing and an extra one.

A primary key or unique constraint always has an index of its own name (PostgreSQL sees to
it). The index comparer reports how a unique constraint's columns and options differ, and
its renaming; the unique comparer only whether the constraint is there, and its
deferrability. The primary key's index is compared with the primary key (``primary-key``),
not as an index; a primary key that differs only in its name (its index's with it) is
``primary-key-name``.

Tables to leave out (``alembic_version``...) are left out when loading, not here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Generic, NamedTuple, Protocol, TypeVar

from dbctl.schema.catalog import Catalog, Check, ForeignKey, Index, PrimaryKey, Table, Unique

_KINDS = """
    missing-table extra-table table-kind table-partition table-comment
    missing-view extra-view view-definition
    missing-column extra-column column-type column-nullable column-default column-identity
    column-generated column-collation column-comment
    primary-key primary-key-name
    missing-index extra-index index-definition index-name index-validity
    missing-unique extra-unique unique-definition
    missing-foreign-key extra-foreign-key foreign-key-definition foreign-key-name
    missing-check extra-check check-definition check-name
    missing-enum extra-enum enum-values missing-sequence extra-sequence sequence-definition
    missing-extension extra-extension extension-version
"""
KINDS: tuple[str, ...] = tuple(_KINDS.split())
"""Every ``Difference.kind``: stable strings that ignore patterns and reports rely on."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference. ``object`` is qualified: ``public.orders`` (a table, view, enum or
    sequence), ``public.orders.customer_id`` (a column, or a constraint: its name is unique
    in its table), ``public.ix_orders_customer_id`` (an index: unique in its schema), or
    an extension's name. ``expected`` and ``actual`` are short forms, None when absent."""

    kind: str
    object: str
    table: str | None
    message: str
    expected: str | None = None
    actual: str | None = None


class Change(NamedTuple):
    """What a comparer finds. ``what`` names the object (one side lacks it, or it was
    renamed) or the attribute that differs; ``expected`` / ``actual`` is None where absent."""

    kind: str
    object: str
    table: str | None
    what: str
    expected: str | None
    actual: str | None


_MESSAGES = {
    "missing": "{object}: {what} is in {E} but not in {A}",
    "extra": "{object}: {what} is in {A} but not in {E}",
    "changed": "{object}: {what} is {actual} in {A}, {expected} in {E}",
    "renamed": "{object}: {what} {expected} in {E} is named {actual} in {A}",
    "column-nullable": "{object}: {actual} in {A}, {expected} in {E}",
}

CatalogRule = Callable[[Catalog, Catalog], Iterable[Change]]
TableRule = Callable[[Table, Table], Iterable[Change]]


def diff_catalogs(
    expected: Catalog,
    actual: Catalog,
    *,
    ignore: Collection[str] = (),
    expected_label: str = "expected",
    actual_label: str = "actual",
) -> list[Difference]:
    """The differences from ``expected`` to ``actual``, ordered by table, kind and object.

    ``ignore``: fnmatch patterns matched against each difference's ``object`` and against
    ``kind:object``, e.g. ``public.legacy_*`` or ``column-default:public.orders.created_at``.
    The labels name the two sides in messages ("the models", "the database").
    """
    found = []
    for rule in CATALOG_RULES:
        for change in rule(expected, actual):
            keys = (change.object, f"{change.kind}:{change.object}")
            if not any(fnmatch.fnmatchcase(key, pattern) for pattern in ignore for key in keys):
                found.append(_word(change, expected_label, actual_label))
    return sorted(found, key=lambda d: (d.table or "", d.kind, d.object))


def _word(change: Change, expected_label: str, actual_label: str) -> Difference:
    if change.kind in _MESSAGES:
        form = change.kind
    elif change.kind.endswith("-name"):
        form = "renamed"
    elif change.actual is None:
        form = "missing"
    elif change.expected is None:
        form = "extra"
    else:
        form = "changed"
    message = _MESSAGES[form].format(**change._asdict(), E=expected_label, A=actual_label)
    return Difference(*change[:3], message, change.expected, change.actual)


def _text(value: str | None) -> str:
    return "none" if value is None else value


def _keyed(
    kind: str, what: str, expected: dict[str, str], actual: dict[str, str], table: str | None
) -> Iterator[Change]:
    """``missing-X``, ``extra-X`` and then ``kind`` for objects keyed by qualified name."""
    noun = kind.split("-", 1)[0]
    for name in sorted(expected.keys() - actual.keys()):
        yield Change(f"missing-{noun}", name, table, noun, expected[name], None)
    for name in sorted(actual.keys() - expected.keys()):
        yield Change(f"extra-{noun}", name, table, noun, None, actual[name])
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            yield Change(kind, name, table, what, expected[name], actual[name])


# --- catalog-wide comparers ----------------------------------------------------------


def _tables(expected: Catalog, actual: Catalog) -> Iterator[Change]:
    for name in sorted(expected.tables.keys() - actual.tables.keys()):
        table = expected.tables[name]
        kind = "missing-view" if table.is_view else "missing-table"
        yield Change(kind, name, name, table.kind, table.kind, None)
    for name in sorted(actual.tables.keys() - expected.tables.keys()):
        table = actual.tables[name]
        kind = "extra-view" if table.is_view else "extra-table"
        yield Change(kind, name, name, table.kind, None, table.kind)
    for name in sorted(expected.tables.keys() & actual.tables.keys()):
        for rule in TABLE_RULES:
            yield from rule(expected.tables[name], actual.tables[name])


def _enums(expected: Catalog, actual: Catalog) -> Iterator[Change]:
    def shown(catalog: Catalog) -> dict[str, str]:
        return {
            name: "(" + ", ".join(f"'{value}'" for value in enum.values) + ")"
            for name, enum in catalog.enums.items()
        }

    yield from _keyed("enum-values", "values", shown(expected), shown(actual), None)


def _sequences(expected: Catalog, actual: Catalog) -> Iterator[Change]:
    # A sequence owned by a table that one side lacks goes with that table's difference.
    one_sided = set(expected.tables) ^ set(actual.tables)

    def shown(catalog: Catalog) -> dict[str, str]:
        return {
            name: f"{s.data_type} START {s.start} INCREMENT {s.increment} MINVALUE {s.min_value}"
            f" MAXVALUE {s.max_value}{' CYCLE' if s.cycle else ''}"
            + (f" OWNED BY {s.owned_by}" if s.owned_by else "")
            for name, s in catalog.sequences.items()
            if not (s.owned_by and s.owned_by.rsplit(".", 1)[0] in one_sided)
        }

    yield from _keyed("sequence-definition", "definition", shown(expected), shown(actual), None)


def _extensions(expected: Catalog, actual: Catalog) -> Iterator[Change]:
    before, after = dict(expected.extensions), dict(actual.extensions)
    yield from _keyed("extension-version", "version", before, after, None)


# --- per-table comparers -------------------------------------------------------------


def _partitioning(table: Table) -> str:
    parts = []
    if table.partition_key:
        parts.append(f"PARTITION BY {table.partition_key}")
    if table.partition_of:
        parts.append(f"PARTITION OF {table.partition_of} {_text(table.partition_bound)}")
    return "; ".join(parts) or "not partitioned"


def _table_shape(expected: Table, actual: Table) -> Iterator[Change]:
    name = expected.qualified_name
    pairs = (
        ("table-kind", "kind", expected.kind, actual.kind),
        ("table-partition", "partitioning", _partitioning(expected), _partitioning(actual)),
        ("view-definition", "definition", expected.view_definition, actual.view_definition),
        ("table-comment", "comment", expected.comment, actual.comment),
    )
    for kind, what, before, after in pairs:
        if before != after:
            yield Change(kind, name, name, what, _text(before), _text(after))


_IDENTITY = {"": "none", "always": "GENERATED ALWAYS", "by default": "GENERATED BY DEFAULT"}
_NULLABLE = {True: "nullable", False: "NOT NULL"}


def _columns(expected: Table, actual: Table) -> Iterator[Change]:
    table = expected.qualified_name
    types = [{f"{table}.{c.name}": c.type for c in side.columns} for side in (expected, actual)]
    yield from _keyed("column-type", "type", types[0], types[1], table)
    found = {column.name: column for column in actual.columns}
    for e in expected.columns:
        a = found.get(e.name)
        if a is None:
            continue
        pairs = (
            ("column-nullable", "nullability", _NULLABLE[e.nullable], _NULLABLE[a.nullable]),
            ("column-default", "default", e.default, a.default),
            ("column-identity", "identity", _IDENTITY[e.identity], _IDENTITY[a.identity]),
            ("column-generated", "generated expression", e.generated, a.generated),
            ("column-collation", "collation", e.collation, a.collation),
            ("column-comment", "comment", e.comment, a.comment),
        )
        for kind, what, old, new in pairs:
            if old != new:
                yield Change(kind, f"{table}.{e.name}", table, what, _text(old), _text(new))


def _index_text(index: Index) -> str:
    """The definition PostgreSQL gave, or one made up for a catalog built by hand."""
    if index.definition:
        return index.definition
    parts = [
        column
        + (f" {opclass}" if opclass else "")
        + (" DESC" if desc else "")
        + ((" NULLS FIRST" if first else " NULLS LAST") if first != desc else "")
        for column, desc, first, opclass in zip(
            index.columns, index.descending, index.nulls_first, index.opclasses, strict=True
        )
    ]
    text = f"{'UNIQUE ' if index.unique else ''}INDEX {index.name} USING {index.method}"
    text += f" ({', '.join(parts)})"
    text += f" INCLUDE ({', '.join(index.include)})" if index.include else ""
    return text + (f" WHERE {index.predicate}" if index.predicate else "")


def _deferrable(key: PrimaryKey | Unique | ForeignKey) -> str:
    if not key.deferrable:
        return ""
    return " DEFERRABLE INITIALLY DEFERRED" if key.initially_deferred else " DEFERRABLE"


def _primary_key(expected: Table, actual: Table) -> Iterator[Change]:
    table = expected.qualified_name
    indexes = [next((i for i in t.indexes if i.primary), None) for t in (expected, actual)]
    same_index = (indexes[0] and indexes[0].signature) == (indexes[1] and indexes[1].signature)
    if expected.primary_key == actual.primary_key and same_index:
        return
    before, after = expected.primary_key, actual.primary_key
    if before and after and same_index and replace(before, name=after.name) == after:
        obj = f"{table}.{before.name}"
        yield Change("primary-key-name", obj, table, "primary key", before.name, after.name)
        return

    def shown(key: PrimaryKey | None, index: Index | None) -> str | None:
        if key is None:
            return None
        text = f"{key.name} ({', '.join(key.columns)}){_deferrable(key)}"
        return text if same_index or index is None else _index_text(index)

    key = expected.primary_key or actual.primary_key
    obj = f"{table}.{key.name}" if key else table
    old, new = shown(expected.primary_key, indexes[0]), shown(actual.primary_key, indexes[1])
    yield Change("primary-key", obj, table, "primary key", old, new)


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_HasName)


@dataclass(frozen=True, slots=True)
class Named(Generic[N]):
    """How to compare one kind of named object of a table: indexes, constraints."""

    kind: str  # "index": missing-index, extra-index, index-definition, index-name
    noun: str
    signature: Callable[[N], Hashable]  # all but the name: equal means renamed
    shown: Callable[[N], str]
    in_schema: bool = False  # its name is unique in its schema (an index), not its table
    compared: Callable[[N], Hashable] | None = None  # what X-definition compares (signature)
    renames: bool = True  # report renames (else they are someone else's to report)

    def pair(
        self, expected: Sequence[N], actual: Sequence[N]
    ) -> tuple[list[tuple[N, N]], list[tuple[N, N]], list[N], list[N]]:
        """Pairs of the same name, pairs renamed (same signature), missing, extra."""
        found = {item.name: item for item in actual}
        known = {item.name for item in expected}
        same = [(item, found[item.name]) for item in expected if item.name in found]
        missing = sorted((i for i in expected if i.name not in found), key=lambda i: i.name)
        extra = sorted((i for i in actual if i.name not in known), key=lambda i: i.name)
        renamed = []
        for item in list(missing):
            twin = next((i for i in extra if self.signature(i) == self.signature(item)), None)
            if twin is not None:
                renamed.append((item, twin))
                missing.remove(item)
                extra.remove(twin)
        return same, renamed, missing, extra

    def compare(self, table: Table, expected: Sequence[N], actual: Sequence[N]) -> Iterator[Change]:
        owner = table.qualified_name
        where = table.schema if self.in_schema else owner
        same, renamed, missing, extra = self.pair(expected, actual)
        for item in missing:
            obj = f"{where}.{item.name}"
            yield Change(f"missing-{self.kind}", obj, owner, self.noun, self.shown(item), None)
        for item in extra:
            obj = f"{where}.{item.name}"
            yield Change(f"extra-{self.kind}", obj, owner, self.noun, None, self.shown(item))
        compared = self.compared or self.signature
        for old, new in same:
            if compared(old) != compared(new):
                obj, kind = f"{where}.{old.name}", f"{self.kind}-definition"
                yield Change(kind, obj, owner, "definition", self.shown(old), self.shown(new))
        for old, new in renamed if self.renames else ():
            obj = f"{where}.{old.name}"
            yield Change(f"{self.kind}-name", obj, owner, self.noun, old.name, new.name)


def _unique_text(key: Unique) -> str:
    return f"UNIQUE ({', '.join(key.columns)}){_deferrable(key)}"


def _foreign_key_text(key: ForeignKey) -> str:
    if key.definition:
        return key.definition
    return (
        f"FOREIGN KEY ({', '.join(key.columns)}) REFERENCES {key.ref_qualified_name}"
        f"({', '.join(key.ref_columns)}) ON UPDATE {key.on_update} ON DELETE {key.on_delete}"
        + _deferrable(key)
    )


_INDEX: Named[Index] = Named("index", "index", lambda i: i.signature, _index_text, in_schema=True)
_UNIQUE: Named[Unique] = Named(
    "unique",
    "unique constraint",
    lambda u: (u.columns, _deferrable(u)),
    _unique_text,
    compared=_deferrable,  # its columns are its index's
    renames=False,  # its index, renamed with it, says it
)
_FOREIGN_KEY: Named[ForeignKey] = Named(
    "foreign-key", "foreign key", lambda k: k.signature, _foreign_key_text
)
_CHECK: Named[Check] = Named(
    "check", "check constraint", lambda c: c.definition, lambda c: c.definition
)
_VALIDITY = {True: "valid", False: "INVALID"}


def _indexes(expected: Table, actual: Table) -> Iterator[Change]:
    before = [index for index in expected.indexes if not index.primary]
    after = [index for index in actual.indexes if not index.primary]
    yield from _INDEX.compare(expected, before, after)
    same, renamed, _, _ = _INDEX.pair(before, after)
    for old, new in same + renamed:
        if old.valid != new.valid:
            obj, validity = f"{expected.schema}.{old.name}", (old.valid, new.valid)
            shown = [_VALIDITY[valid] for valid in validity]
            yield Change("index-validity", obj, expected.qualified_name, "index", *shown)


def _uniques(expected: Table, actual: Table) -> Iterator[Change]:
    yield from _UNIQUE.compare(expected, expected.uniques, actual.uniques)


def _foreign_keys(expected: Table, actual: Table) -> Iterator[Change]:
    yield from _FOREIGN_KEY.compare(expected, expected.foreign_keys, actual.foreign_keys)


def _checks(expected: Table, actual: Table) -> Iterator[Change]:
    yield from _CHECK.compare(expected, expected.checks, actual.checks)


CATALOG_RULES: tuple[CatalogRule, ...] = (_tables, _enums, _sequences, _extensions)
TABLE_RULES: tuple[TableRule, ...] = (
    _table_shape,
    _columns,
    _primary_key,
    _indexes,
    _uniques,
    _foreign_keys,
    _checks,
)
