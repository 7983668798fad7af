"""The models' catalog from their plan and what PostgreSQL made of their units.

Objects are named in the order ``create_all`` creates them, by PostgreSQL's rules
(``identifiers.NameSpace``): the standalone sequences; then for each table its sequences,
its serial columns' sequences, the table, its check constraints, its primary key and unique
constraints (merged as ``transformIndexConstraints`` merges them), its foreign keys and its
indexes; last, the foreign keys added by ALTER TABLE. Texts are rendered as
``pg_get_indexdef`` and ``pg_get_constraintdef`` print them, names qualified when they are
not visible under ``search_path = public`` (how ``load_catalog`` reads).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dbctl.lifecycle.model_indexes import definition, head, key_options
from dbctl.lifecycle.model_units import (
    ColumnPlan,
    ForeignKeyPlan,
    IndexPlan,
    KeyPlan,
    ModelsNeedDatabase,
    ModelsPlan,
    SequencePlan,
    TablePlan,
    Use,
)
from dbctl.pg.identifiers import NameSpace, Quoting, name_addition, quote_literal
from dbctl.pg.sql_lexer import fill
from dbctl.schema.catalog import (
    Catalog,
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Sequence,
    Table,
    Unique,
)

if TYPE_CHECKING:
    from dbctl.lifecycle.model_deparse import Deparsed, Deparser, Ref

_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


@dataclass
class _Parts:
    """A table's objects, gathered as they are named."""

    columns: list[Column] = field(default_factory=list)
    primary_key: PrimaryKey | None = None
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    uniques: list[Unique] = field(default_factory=list)


class Assembler:
    def __init__(
        self,
        plan: ModelsPlan,
        quoting: Quoting,
        catalog_relations: frozenset[str],
        deparser: Deparser,
    ) -> None:
        self.plan = plan
        self.quoting = quoting
        self.catalog_relations = catalog_relations  # pg_catalog's, which hide ours
        self.deparser = deparser
        self.results = deparser.results()
        self.spaces: defaultdict[str, NameSpace] = defaultdict(NameSpace)
        self.sequences: list[Sequence] = []
        self.tables: dict[tuple[str, str], TablePlan] = {}
        self.parts: dict[int, _Parts] = {}
        self.enum_names = {(enum.schema, enum.name) for enum in plan.enums}

    def catalog(self, version: int, extensions: dict[str, str]) -> Catalog:
        for seq in self.plan.sequences:
            self.sequence(seq)
        for table in self.plan.tables:
            self.tables[table.schema, table.name] = table
            self.parts[id(table)] = _Parts()
            self.table(table)
        for table, key in self.plan.late_foreign_keys:
            self.foreign_key(table, key, late=True)
        return Catalog.build(
            sorted(
                (self.build(table) for table in self.plan.tables), key=lambda t: t.qualified_name
            ),
            [Enum(e.schema, e.name, e.labels) for e in self.plan.enums],
            self.sequences,
            server_version_num=version,
            extensions=extensions,
        )

    # --- helpers -------------------------------------------------------------------

    def deparsed(self, table: TablePlan, use: Use, target: ColumnPlan | None = None) -> Deparsed:
        """What PostgreSQL made of the use's unit; for a unit that failed, the slow path."""
        import psycopg

        found = self.results.get(use.unit)
        if found is not None:
            return found
        try:
            return self.deparser.slow(table, use, target)
        except psycopg.Error as exc:
            reason = (exc.diag.message_primary or str(exc)).strip()
            raise ModelsNeedDatabase(
                f"PostgreSQL rejects {use.original!r} of table {table.name}: {reason}"
            ) from None

    def text(self, use: Use, template: str) -> str:
        """A deparsed template with the use's columns, quoted as PostgreSQL quotes them."""
        return fill(template, [self.quoting.ident(ref) for ref in use.refs])

    @staticmethod
    def name_of(use: Use, ref: Ref) -> str:
        return use.refs[ref] if isinstance(ref, int) else ref

    def relation_text(self, schema: str, name: str) -> str:
        """A relation as PostgreSQL names it: bare when visible under search_path = public."""
        visible = schema == "public" and name not in self.catalog_relations
        return self.quoting.ident(name) if visible else self.quoting.qualified(schema, name)

    def add_relation(self, schema: str, name: str) -> None:
        space = self.spaces[schema]
        if name in space.relations:
            raise ModelsNeedDatabase(f'relation "{name}" would be created twice in {schema}')
        space.relations.add(name)

    def sequence(self, plan: SequencePlan, owner: str | None = None) -> None:
        self.add_relation(plan.schema, plan.name)
        self.sequences.append(
            Sequence(plan.schema, plan.name, plan.data_type, owner, plan.start, plan.increment,
                     plan.min_value, plan.max_value, plan.cycle)
        )  # fmt: skip

    # --- a table, in the order PostgreSQL creates its parts -------------------------

    def table(self, table: TablePlan) -> None:
        space = self.spaces[table.schema]
        for seq in table.sequences:
            self.sequence(seq)
        serials = {  # transformColumnDefinition(): named before any of them is created
            c.name: space.choose_relation(table.name, c.name, "seq", False)
            for c in table.columns
            if c.serial
        }
        for column, name in serials.items():
            kind = table.types[column]
            owner = f"{table.schema}.{table.name}.{column}"
            self.sequence(SequencePlan(table.schema, name, kind, 1, 1, 1, _MAX[kind], False), owner)
        self.add_relation(table.schema, table.name)
        if (table.schema, table.name) in self.enum_names:  # a table's row type takes its name
            raise ModelsNeedDatabase(f'type "{table.name}" would be created twice')
        parts = self.parts[id(table)]
        parts.columns = [self.column(table, c, serials.get(c.name)) for c in table.columns]
        self.checks(table, parts)
        merged: list[KeyPlan] = []
        for key in [k for k in [table.primary_key, *table.uniques] if k is not None]:
            twin = next((m for m in merged if m.same_index(key)), None)
            if twin is None:
                merged.append(key)
            elif twin.name is None and key.name is not None:  # the twin takes the name
                merged[merged.index(twin)] = replace(twin, name=key.name)
        for number, key in enumerate(merged):
            self.key(table, key, primary=number == 0 and table.primary_key is not None)
        for fk in table.foreign_keys:
            self.foreign_key(table, fk, late=False)
        for index in table.indexes:
            self.add_relation(table.schema, index.name)
            parts.indexes.append(self.index(table, index))

    def column(self, table: TablePlan, column: ColumnPlan, sequence: str | None) -> Column:
        type_, collation, default = column.type_sql, None, None
        if column.type_unit is not None:
            found = self.results[column.type_unit]
            type_, collation = found.type, found.collation
        if sequence is not None:
            regclass = self.relation_text(table.schema, sequence)
            default = f"nextval({quote_literal(regclass)}::regclass)"
        elif column.default is not None:
            default = self.results[column.default].text
        generated = None
        if column.generated is not None:
            found = self.deparsed(table, column.generated, column)
            generated = self.text(column.generated, found.text or "")
        return Column(column.name, type_, column.nullable, default, column.identity, generated,
                      collation, column.comment)  # fmt: skip

    def checks(self, table: TablePlan, parts: _Parts) -> None:
        """AddRelationNewConstraints(): ``t_col_check`` when it reads one column."""
        space = self.spaces[table.schema]
        names: list[str] = []
        for explicit, use in table.checks:
            found = self.deparsed(table, use)
            if explicit is not None and explicit in names:
                raise ModelsNeedDatabase(f'check constraint "{explicit}" is defined twice')
            read = {self.name_of(use, ref) for ref in found.refs}
            column = next(iter(read)) if len(read) == 1 else None
            name = explicit or space.choose_constraint(table.name, column, "check", names)
            names.append(name)
            parts.checks.append(Check(name, self.text(use, found.text or "")))
        space.constraints.update(names)

    def key(self, table: TablePlan, key: KeyPlan, primary: bool) -> None:
        """A primary key or unique constraint and its index (ChooseIndexName())."""
        space = self.spaces[table.schema]
        if key.name is not None:
            name = key.name
        elif primary:
            name = space.choose_relation(table.name, None, "pkey", True)
        else:  # ChooseIndexColumnNames(): the INCLUDE columns count too
            addition = name_addition(key.columns + key.include)
            name = space.choose_relation(table.name, addition, "key", True)
        self.add_relation(table.schema, name)
        space.constraints.add(name)
        parts = self.parts[id(table)]
        text = definition(
            self.quoting,
            table,
            name,
            unique=True,
            keys=self.quoting.idents(key.columns),
            include=key.include,
            nulls_not_distinct=key.nulls_not_distinct,
        )
        flags = (False,) * len(key.columns)
        parts.indexes.append(
            Index(name, key.columns, True, primary, "btree", None, text, True, key.include,
                  flags, flags, flags, (None,) * len(key.columns), name)
        )  # fmt: skip
        if primary:
            parts.primary_key = PrimaryKey(name, key.columns, key.deferrable, key.deferred)
        else:
            parts.uniques.append(Unique(name, key.columns, key.deferrable, key.deferred))

    def foreign_key(self, table: TablePlan, key: ForeignKeyPlan, late: bool) -> None:
        parts = self.parts[id(table)]
        if key.name is not None and key.name in {fk.name for fk in parts.foreign_keys}:
            raise ModelsNeedDatabase(f'foreign key "{key.name}" is defined twice')
        self.check_target(table, key, late)
        space = self.spaces[table.schema]
        name = key.name or space.choose_constraint(table.name, name_addition(key.columns), "fkey")
        space.constraints.add(name)
        q = self.quoting
        target = self.relation_text(key.ref_schema, key.ref_table)
        text = f"FOREIGN KEY ({q.idents(key.columns)}) REFERENCES {target}"
        text += f"({q.idents(key.ref_columns)})"
        text += " MATCH FULL" if key.match == "FULL" else ""
        text += f" ON UPDATE {key.on_update}" if key.on_update != "NO ACTION" else ""
        text += f" ON DELETE {key.on_delete}" if key.on_delete != "NO ACTION" else ""
        text += " DEFERRABLE" * key.deferrable + " INITIALLY DEFERRED" * key.deferred
        text += " NOT VALID" * key.not_valid
        parts.foreign_keys.append(
            ForeignKey(name, key.columns, key.ref_schema, key.ref_table, key.ref_columns,
                       key.on_update, key.on_delete, key.deferrable, text, key.deferred, key.match)
        )  # fmt: skip

    def check_target(self, table: TablePlan, key: ForeignKeyPlan, late: bool) -> None:
        """transformFkeyCheckAttrs(): the referenced columns are a key of the target (its
        own CREATE INDEX statements come after a table's foreign keys)."""
        target = self.tables.get((key.ref_schema, key.ref_table))
        if target is None:
            raise ModelsNeedDatabase(f"foreign key to {key.ref_schema}.{key.ref_table}")
        keys = [k for k in [target.primary_key, *target.uniques] if k and not k.deferrable]
        found = [set(k.columns) for k in keys]
        if late or target is not table:
            found += [set(i.columns) for i in target.indexes if i.unique and i.use is None]
        if set(key.ref_columns) not in found:
            raise ModelsNeedDatabase(
                f"foreign key of {table.name}: no unique key of {target.name} "
                f"on ({', '.join(key.ref_columns)})"
            )

    def index(self, table: TablePlan, index: IndexPlan) -> Index:
        count = len(index.columns)
        if index.use is None:
            keys = ", ".join(
                self.quoting.ident(c) + key_options(d, n)
                for c, d, n in zip(index.columns, index.descending, index.nulls_first, strict=True)
            )
            text = definition(
                self.quoting,
                table,
                index.name,
                unique=index.unique,
                keys=keys,
                include=index.include,
                nulls_not_distinct=index.nulls_not_distinct,
            )
            return Index(index.name, index.columns, index.unique, False, "btree", None, text, True,
                         index.include, (False,) * count, index.descending, index.nulls_first,
                         (None,) * count)  # fmt: skip
        use = index.use
        shape = self.deparsed(table, use).index
        assert shape is not None
        columns = tuple(
            self.text(use, str(key)) if expression else self.name_of(use, key)
            for key, expression in zip(shape.keys, shape.expressions, strict=True)
        )
        predicate = None if shape.predicate is None else self.text(use, shape.predicate)
        text = head(self.quoting, table, index.name, index.unique) + self.text(use, shape.tail)
        include = tuple(self.name_of(use, ref) for ref in shape.include)
        return Index(index.name, columns, index.unique, False, shape.method, predicate, text,
                     True, include, shape.expressions, shape.descending, shape.nulls_first,
                     shape.opclasses)  # fmt: skip

    def build(self, table: TablePlan) -> Table:
        parts = self.parts[id(table)]
        return Table(
            schema=table.schema,
            name=table.name,
            columns=tuple(parts.columns),
            primary_key=parts.primary_key,
            indexes=tuple(sorted(parts.indexes, key=lambda index: index.name)),
            foreign_keys=tuple(sorted(parts.foreign_keys, key=lambda key: key.name)),
            checks=tuple(sorted(parts.checks, key=lambda check: check.name)),
            uniques=tuple(sorted(parts.uniques, key=lambda unique: unique.name)),
            comment=table.comment,
        )
