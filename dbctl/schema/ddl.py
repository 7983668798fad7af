"""A ``Catalog`` from DDL text (``--schema FILE``), parsed with sqlglot (postgres dialect).

Understands CREATE TABLE (columns, NOT NULL, PRIMARY KEY, UNIQUE, REFERENCES / FOREIGN KEY,
PARTITION BY, PARTITION OF), CREATE [UNIQUE] INDEX (method, key order, expressions,
INCLUDE, WHERE), ALTER TABLE ... ADD [CONSTRAINT] PRIMARY KEY / UNIQUE / FOREIGN KEY, and
CREATE [MATERIALIZED] VIEW. Types are kept as written (lower case); a DDL file carries no
statistics, so advice from it is structural. Statements it does not understand are
skipped and counted.

The text may be pg_dump's output as it is: a byte order mark is dropped, psql meta-commands
(lines that start with a backslash: ``\\restrict KEY`` and ``\\unrestrict KEY`` of
PostgreSQL 15.14+, ``\\connect``...) and the data of ``COPY ... FROM stdin;`` up to its
``\\.`` are left out (their lines kept empty, so that line numbers hold). A line inside a
quoted string or a function body that starts with a backslash is taken for a meta-command
too (psql would not): rare in a schema, and that statement is then skipped. Each statement
is parsed on its own: one that sqlglot cannot parse, or nested too deep for it (a
``RecursionError``), is skipped and counted, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlglot import exp

from dbctl.errors import ConfigError
from dbctl.schema.catalog import Catalog, Column, ForeignKey, Index, PrimaryKey, Table, Unique


@dataclass
class _Draft:
    schema: str
    name: str
    kind: str = "table"
    columns: list[Column] = field(default_factory=list)
    primary_key: PrimaryKey | None = None
    uniques: list[Unique] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    partition_of: str | None = None
    view_definition: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def table(self) -> Table:
        indexes = list(self.indexes)
        if self.primary_key is not None:
            pk = self.primary_key
            indexes.insert(
                0, Index(pk.name, pk.columns, unique=True, primary=True, constraint=pk.name)
            )
        for unique in self.uniques:
            indexes.append(Index(unique.name, unique.columns, unique=True, constraint=unique.name))
        return Table(
            schema=self.schema,
            name=self.name,
            kind=self.kind,
            columns=tuple(self.columns),
            primary_key=self.primary_key,
            indexes=tuple(indexes),
            foreign_keys=tuple(self.foreign_keys),
            uniques=tuple(self.uniques),
            partition_of=self.partition_of,
            view_definition=self.view_definition,
        )


def _names(nodes: list[exp.Expr]) -> tuple[str, ...]:
    return tuple(node.name for node in nodes)


def _qualified(table: exp.Table, default_schema: str) -> tuple[str, str]:
    return (table.db or default_schema), table.name


class _Builder:
    def __init__(self, default_schema: str) -> None:
        self.default_schema = default_schema
        self.tables: dict[str, _Draft] = {}
        self.skipped = 0

    def draft(self, table: exp.Table) -> _Draft:
        schema, name = _qualified(table, self.default_schema)
        key = f"{schema}.{name}"
        if key not in self.tables:
            self.tables[key] = _Draft(schema, name)
        return self.tables[key]

    def statement(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Create):
            kind = str(node.args.get("kind") or "").upper()
            if kind == "TABLE":
                self.create_table(node)
                return
            if kind == "INDEX":
                self.create_index(node)
                return
            if kind == "VIEW" and isinstance(node.this, exp.Table):
                draft = self.draft(node.this)
                materialized = any(
                    isinstance(p, exp.MaterializedProperty)
                    for p in (node.args.get("properties") or exp.Properties()).expressions
                )
                draft.kind = "materialized view" if materialized else "view"
                query = node.expression
                draft.view_definition = query.sql(dialect="postgres") if query else None
                return
        if isinstance(node, exp.Alter) and isinstance(node.this, exp.Table):
            draft = self.draft(node.this)
            for action in node.args.get("actions") or []:
                for constraint in action.find_all(exp.Constraint, exp.PrimaryKey, exp.ForeignKey):
                    self.table_constraint(draft, constraint)
            return
        self.skipped += 1

    def create_table(self, node: exp.Create) -> None:
        schema_node = node.this
        table = schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
        if not isinstance(table, exp.Table):
            self.skipped += 1
            return
        draft = self.draft(table)
        properties = node.args.get("properties")
        if properties is not None:
            for prop in properties.expressions:
                if isinstance(prop, exp.PartitionedByProperty):
                    draft.kind = "partitioned table"
                if isinstance(prop, exp.PartitionedOfProperty) and isinstance(prop.this, exp.Table):
                    parent = _qualified(prop.this, self.default_schema)
                    draft.partition_of = ".".join(parent)
        if not isinstance(schema_node, exp.Schema):
            return
        for item in schema_node.expressions:
            if isinstance(item, exp.ColumnDef):
                self.column(draft, item)
            else:
                self.table_constraint(draft, item)

    def column(self, draft: _Draft, node: exp.ColumnDef) -> None:
        name = node.name
        kind = node.args.get("kind")
        nullable, default, identity = True, None, ""
        for constraint in node.args.get("constraints") or []:
            kind_node = constraint.args.get("kind")
            if isinstance(kind_node, exp.NotNullColumnConstraint) and not kind_node.args.get(
                "allow_null"
            ):
                nullable = False
            elif isinstance(kind_node, exp.PrimaryKeyColumnConstraint):
                nullable = False
                draft.primary_key = PrimaryKey(f"{draft.name}_pkey", (name,))
            elif isinstance(kind_node, exp.UniqueColumnConstraint):
                draft.uniques.append(Unique(f"{draft.name}_{name}_key", (name,)))
            elif isinstance(kind_node, exp.Reference):
                self.reference(draft, (name,), kind_node, None)
            elif isinstance(kind_node, exp.DefaultColumnConstraint):
                default = kind_node.this.sql(dialect="postgres")
            elif isinstance(kind_node, exp.GeneratedAsIdentityColumnConstraint):
                identity = "by default" if kind_node.this is False else "always"
                nullable = False
        type_text = kind.sql(dialect="postgres").lower() if kind is not None else "unknown"
        draft.columns.append(Column(name, type_text, nullable, default, identity))

    def reference(
        self, draft: _Draft, columns: tuple[str, ...], node: exp.Reference, name: str | None
    ) -> None:
        target = node.this
        ref_table = target.this if isinstance(target, exp.Schema) else target
        if not isinstance(ref_table, exp.Table):
            return
        ref_schema, ref_name = _qualified(ref_table, self.default_schema)
        ref_columns = _names(target.expressions) if isinstance(target, exp.Schema) else ("id",)
        fk_name = name or f"{draft.name}_{'_'.join(columns)}_fkey"
        draft.foreign_keys.append(ForeignKey(fk_name, columns, ref_schema, ref_name, ref_columns))

    def table_constraint(self, draft: _Draft, node: exp.Expr) -> None:
        name = None
        items: list[exp.Expr] = [node]
        if isinstance(node, exp.Constraint):
            name = node.name
            items = list(node.expressions)
        for item in items:
            if isinstance(item, exp.PrimaryKey):
                columns = _names(item.expressions)
                draft.primary_key = PrimaryKey(name or f"{draft.name}_pkey", columns)
                draft.columns = [
                    replace(c, nullable=False) if c.name in columns else c for c in draft.columns
                ]
            elif isinstance(item, exp.UniqueColumnConstraint):
                target = item.this
                columns = _names(target.expressions) if isinstance(target, exp.Schema) else ()
                if columns:
                    unique_name = name or f"{draft.name}_{'_'.join(columns)}_key"
                    draft.uniques.append(Unique(unique_name, columns))
            elif isinstance(item, exp.ForeignKey):
                reference = item.args.get("reference")
                if isinstance(reference, exp.Reference):
                    self.reference(draft, _names(item.expressions), reference, name)

    def create_index(self, node: exp.Create) -> None:
        index = node.this
        if not isinstance(index, exp.Index) or not isinstance(index.args.get("table"), exp.Table):
            self.skipped += 1
            return
        draft = self.draft(index.args["table"])
        params = index.args.get("params") or exp.IndexParameters()
        columns, expressions, descending, nulls_first = [], [], [], []
        for ordered in params.args.get("columns") or []:
            key = ordered.this if isinstance(ordered, exp.Ordered) else ordered
            is_column = isinstance(key, exp.Column)
            columns.append(key.name if is_column else key.sql(dialect="postgres"))
            expressions.append(not is_column)
            desc = bool(isinstance(ordered, exp.Ordered) and ordered.args.get("desc"))
            descending.append(desc)
            nf = ordered.args.get("nulls_first") if isinstance(ordered, exp.Ordered) else None
            nulls_first.append(desc if nf is None else bool(nf))
        using = params.args.get("using")
        where = params.args.get("where")
        draft.indexes.append(
            Index(
                name=index.name or f"{draft.name}_{'_'.join(columns)}_idx",
                columns=tuple(columns),
                unique=bool(node.args.get("unique")),
                method=using.name.lower() if using is not None else "btree",
                predicate=where.this.sql(dialect="postgres") if where is not None else None,
                include=_names(params.args.get("include") or []),
                expressions=tuple(expressions),
                descending=tuple(descending),
                nulls_first=tuple(nulls_first),
            )
        )


_META_COMMAND = re.compile(r"[ \t]*\\")
_COPY_FROM_STDIN = re.compile(r"\s*COPY\b.*\bFROM\s+stdin\b.*;\s*$", re.IGNORECASE)


def without_psql(sql: str) -> str:
    """``sql`` without byte order marks, psql meta-command lines and inline COPY data; the
    lines left out are kept empty."""
    lines = sql.split("\n")
    copying = False
    for number, raw in enumerate(lines):
        if copying:
            copying = raw.rstrip("\r") != "\\."
            lines[number] = ""
            continue
        line = raw.lstrip("\ufeff")
        if _META_COMMAND.match(line):
            line = ""
        elif _COPY_FROM_STDIN.match(line):
            copying, line = True, ""
        lines[number] = line
    return "\n".join(lines)


def catalog_from_ddl(sql: str, *, default_schema: str = "public") -> tuple[Catalog, int]:
    """The catalog the DDL in ``sql`` describes, and how many statements were skipped.

    Raises ``sqlglot.errors.ParseError`` when no statement of the text parses at all.
    """
    import logging

    import sqlglot
    from sqlglot.errors import ParseError, SqlglotError

    from dbctl.access.lexer import split_statements

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # a warning per bare command
    builder = _Builder(default_schema)
    parsed, failure = 0, None
    for text, line in split_statements(without_psql(sql)):
        try:
            nodes = sqlglot.parse(text, read="postgres")
        except SqlglotError as exc:
            failure = failure or exc
            builder.skipped += 1
            continue
        except RecursionError:
            failure = failure or ParseError(f"the statement of line {line} is nested too deep")
            builder.skipped += 1
            continue
        parsed += 1
        for node in nodes:
            if node is None:
                continue
            try:
                builder.statement(node)
            except RecursionError:
                builder.skipped += 1
    if not parsed and failure is not None:
        raise failure
    tables = [draft.table() for draft in builder.tables.values()]
    return Catalog.build(tables), builder.skipped


def schema_catalog(paths: Sequence[str]) -> tuple[Catalog, int]:
    """The catalog of the ``--schema`` files, and how many statements were skipped.

    A file that cannot be read or is not UTF-8, or text where no statement parses, is a
    ``ConfigError`` (one line, exit 2).
    """
    from sqlglot.errors import SqlglotError

    from dbctl.access.sources import read_text

    text = "\n;\n".join(read_text(path) for path in paths)
    try:
        return catalog_from_ddl(text)
    except SqlglotError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = lines[0] if lines else "syntax error"
        raise ConfigError(f"--schema {', '.join(paths)} does not parse: {first}") from None
