"""PostgreSQL normalises the units of the models, in temporary objects it then forgets.

Everything runs inside the caller's transaction, which is rolled back: the models' enums
(in ``pg_temp``), then a few wide temporary tables whose columns are the placeholders of
every distinct ``Unit`` (a type, a default, a check constraint, a generated column) and
the indexes PostgreSQL must build on them, all in one statement; then one pipelined read
through the same deparsers ``load_catalog`` uses. No relation per table of the models.

Deparsing a check or an index costs the square of its table's width in PostgreSQL 15
(``colname_is_unique``), so the wide tables are kept narrow (``WIDTH`` columns). A batch
that fails is split in two and retried until the failing units are found; each of their
uses then gets the slow, exact path (``Deparser.slow``): a temporary table with the real
table's name and columns, and the SQL as written.
"""

from __future__ import annotations

import re
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbctl.lifecycle.model_units import ColumnPlan, EnumPlan, TablePlan, Unit, Use
from dbctl.pg.connect import tag
from dbctl.pg.identifiers import Quoting, quote_literal
from dbctl.pg.sql_lexer import fill

if TYPE_CHECKING:
    import psycopg

WIDTH = 100
_TABLE = "\x01table\x01"  # where a wide table's name goes, once it is known

Ref = int | str  # a marker of the use (fast path) or a column name (slow path)

_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod),
    CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
    CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0)
         ELSE pg_get_expr(ad.adbin, ad.adrelid) END
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE c.relnamespace = pg_my_temp_schema() AND c.relname = ANY(%(tables)s)
    AND a.attname = ANY(%(columns)s)"""

_CHECKS_SQL = """
SELECT con.conname, pg_get_constraintdef(con.oid, true), ARRAY(
    SELECT a.attname::text FROM unnest(con.conkey) AS k(n)
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
WHERE c.relnamespace = pg_my_temp_schema() AND c.relname = ANY(%(tables)s)
    AND con.contype = 'c'"""

_INDEXES_SQL = """
SELECT ic.relname, am.amname, pg_get_indexdef(i.indexrelid), pg_get_expr(i.indpred, i.indrelid),
    i.indnkeyatts, ARRAY(
        SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o)
        LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),
    i.indoption::int2[], ARRAY(
        SELECT CASE WHEN o.opcdefault THEN NULL ELSE o.opcname::text END
        FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS k(oid, n)
        JOIN pg_opclass o ON o.oid = k.oid ORDER BY k.n),
    CASE WHEN i.indexprs IS NOT NULL THEN ARRAY(
        SELECT pg_get_indexdef(i.indexrelid, k, true)
        FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) END
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE ic.relnamespace = pg_my_temp_schema() AND ic.relname = ANY(%(indexes)s)"""


@dataclass(frozen=True)
class IndexShape:
    """An index as load_catalog reads it; texts are templates over the use's markers."""

    method: str
    tail: str  # pg_get_indexdef() from "USING"
    keys: tuple[Ref | str, ...]  # a column, or an expression key's text (see ``expressions``)
    expressions: tuple[bool, ...]
    descending: tuple[bool, ...]
    nulls_first: tuple[bool, ...]
    opclasses: tuple[str | None, ...]
    include: tuple[Ref, ...]
    predicate: str | None


@dataclass(frozen=True)
class Deparsed:
    """What PostgreSQL made of a unit: texts are templates over its markers."""

    type: str = ""
    collation: str | None = None
    text: str | None = None  # a default, a generated expression, a check's definition
    refs: tuple[Ref, ...] = ()  # the columns a check reads (conkey)
    index: IndexShape | None = None


@dataclass
class _Layout:
    statements: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    columns: dict[str, tuple[Unit, int]] = field(default_factory=dict)  # wide column
    checks: dict[str, Unit] = field(default_factory=dict)
    indexes: dict[str, Unit] = field(default_factory=dict)
    owners: dict[Unit, list[str]] = field(default_factory=dict)  # unit -> its wide columns


class Deparser:
    """Creates the temporary objects and reads them back; see the module docstring."""

    def __init__(
        self, pg: psycopg.Connection[Any], tag: str, quoting: Quoting, search_path: str
    ) -> None:
        self.pg = pg
        self.search_path = search_path  # the session's: the models' SQL is read with it
        self.prefix = f"dbctl_{tag}_"
        self.quoting = quoting
        self.count = 0
        self.done = _Layout()
        self.errors: dict[Unit, str] = {}
        self.enums: dict[str, str] = {}  # made-up pg_temp name -> as load_catalog prints it
        self.pattern = re.compile(f'("?){self.prefix}(e?)(\\d+)\\1')

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}{kind}{self.count}"

    def create_types(self, enums: list[EnumPlan], sequences: list[str]) -> str | None:
        """The models' enums in pg_temp (and the sequences their SQL names); an error."""
        q = self.quoting.ident
        statements = [
            f"CREATE TYPE pg_temp.{q(e.temp)} AS ENUM ("
            + ", ".join(quote_literal(label) for label in e.labels)
            + ")"
            for e in enums
        ]
        statements += [f"CREATE SEQUENCE pg_temp.{q(name)}" for name in sequences]
        self.enums = {e.temp: e.shown for e in enums if e.temp != e.name}
        return self.attempt(statements)

    def attempt(self, statements: list[str]) -> str | None:
        """Run ``statements`` under a savepoint: None, or the error (rolled back)."""
        import psycopg

        if not statements:
            return None
        try:
            # Each statement of the batch tagged: pg_stat_statements records them apart
            self.pg.execute(";\n".join(tag(s) for s in ["SAVEPOINT dbctl_batch", *statements]))
        except psycopg.Error as exc:
            self.pg.execute("ROLLBACK TO SAVEPOINT dbctl_batch")
            return (exc.diag.message_primary or str(exc)).strip()
        return None

    def create(self, units: list[Unit]) -> None:
        """Lay out ``units`` and create them; on failure, split and retry."""
        if not units:
            return
        layout = self.layout(units)
        error = self.attempt(layout.statements)
        if error is None:
            self.done.tables += layout.tables
            self.done.columns.update(layout.columns)
            self.done.checks.update(layout.checks)
            self.done.indexes.update(layout.indexes)
            self.done.owners.update(layout.owners)
        elif len(units) == 1:
            self.errors[units[0]] = error
        else:
            middle = len(units) // 2
            self.create(units[:middle])
            self.create(units[middle:])

    def layout(self, units: list[Unit]) -> _Layout:
        layout = _Layout()
        rows: list[str] = []
        constraints: list[str] = []
        indexes: list[str] = []

        def flush() -> None:
            if rows or constraints:
                table = self.name("t")
                layout.tables.append(table)
                body = ",\n    ".join(rows + constraints)
                layout.statements.append(
                    f"CREATE TEMP TABLE {table} (\n    {body})".replace(_TABLE, table)
                )
                layout.statements += [sql.replace(_TABLE, table) for sql in indexes]
            rows.clear()
            constraints.clear()
            indexes.clear()

        for unit in units:
            if len(rows) + len(unit.types) > WIDTH:
                flush()
            names = [self.name("") for _ in unit.types]
            layout.owners[unit] = names
            layout.columns.update((n, (unit, i)) for i, n in enumerate(names))
            text = fill(unit.text, names)
            defs = [f"{n} {type_}" for n, type_ in zip(names, unit.types, strict=True)]
            if unit.kind == "default":
                defs[0] += f" DEFAULT {text}"
            elif unit.kind == "generated":
                defs[-1] += f" GENERATED ALWAYS AS ({text}){unit.suffix}"
            elif unit.kind == "check":
                check = self.name("k")
                layout.checks[check] = unit
                constraints.append(f"CONSTRAINT {check} CHECK ({text}){unit.suffix}")
            elif unit.kind == "index":
                index = self.name("i")
                layout.indexes[index] = unit
                indexes.append(f"CREATE {unit.suffix}INDEX {index} ON pg_temp.{_TABLE} {text}")
            elif unit.kind == "fk":  # a key on the first column, referenced by the second
                constraints.append(f"UNIQUE ({names[0]})")
                constraints.append(
                    f"FOREIGN KEY ({names[1]}) REFERENCES pg_temp.{_TABLE} ({names[0]})"
                )
            rows += defs
        flush()
        return layout

    def read(self, layout: _Layout, markers: dict[str, Ref], columns: list[str]) -> dict[str, Any]:
        """The rows of the three reads, keyed by object name (one round trip)."""
        import psycopg
        from psycopg.rows import tuple_row

        params = {
            "tables": layout.tables,
            "columns": columns,
            "indexes": list(layout.indexes),
            "path": self.search_path,
        }
        queries = [  # names qualified as load_catalog qualifies them; the SQL's own path back
            "SELECT set_config('search_path', 'public', true)",
            _COLUMNS_SQL,
            _CHECKS_SQL,
            _INDEXES_SQL,
            "SELECT set_config('search_path', %(path)s, true)",
        ]
        pipeline = self.pg.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()
        with pipeline, ExitStack() as stack:
            cursors = [stack.enter_context(self.pg.cursor(row_factory=tuple_row)) for _ in queries]
            for cursor, sql in zip(cursors, queries, strict=True):
                cursor.execute(sql, params if "%(" in sql else None)
            rows = [cursor.fetchall() for cursor in cursors]
        found: dict[str, Any] = {}
        for name, type_, collation, expression in rows[1]:
            text = None if expression is None else self.demangle(expression, markers)
            found[name] = (self.demangle(type_, markers), collation, text)
        for name, text, conkey in rows[2]:
            found[name] = (self.demangle(text, markers), tuple(markers[n] for n in conkey))
        for row in rows[3]:
            found[row[0]] = self.index_shape(row, markers)
        return found

    def demangle(self, text: str | None, markers: dict[str, Ref]) -> str:
        """PostgreSQL's text with our made-up names turned back: columns into markers (or
        names), enums into their real names."""

        def back(match: re.Match[str]) -> str:
            if match.group(2):
                return self.enums[f"{self.prefix}e{match.group(3)}"]
            ref = markers[f"{self.prefix}{match.group(3)}"]
            return f"\x00{ref}\x00" if isinstance(ref, int) else self.quoting.ident(ref)

        return "" if text is None else self.pattern.sub(back, text)

    def index_shape(self, row: Any, markers: dict[str, Ref]) -> IndexShape:
        _, method, text, predicate, key_count, columns, options, opclasses, texts = row
        keys: list[Ref | str] = []
        for k, column in enumerate(columns[:key_count]):
            keys.append(self.demangle(texts[k], markers) if column is None else markers[column])
        return IndexShape(
            method=method,
            tail=self.demangle(text[text.index(" USING ") + 1 :], markers),
            keys=tuple(keys),
            expressions=tuple(column is None for column in columns[:key_count]),
            descending=tuple(option & 1 == 1 for option in options),
            nulls_first=tuple(option & 2 == 2 for option in options),
            opclasses=tuple(opclasses),
            include=tuple(markers[column] for column in columns[key_count:]),
            predicate=None if predicate is None else self.demangle(predicate, markers),
        )

    def results(self) -> dict[Unit, Deparsed]:
        """Every unit created so far, deparsed."""
        layout = self.done
        markers: dict[str, Ref] = {name: i for name, (_, i) in layout.columns.items()}
        kinds = ("type", "default", "generated")
        wanted = [names[-1] for unit, names in layout.owners.items() if unit.kind in kinds]
        found = self.read(layout, markers, wanted)
        results: dict[Unit, Deparsed] = {}
        for unit, names in layout.owners.items():
            if unit.kind in kinds:
                type_, collation, expression = found[names[-1]]
                results[unit] = Deparsed(type_, collation, expression)
        for check, unit in layout.checks.items():
            text, refs = found[check]
            results[unit] = Deparsed(text=text, refs=refs)
        for index, unit in layout.indexes.items():
            results[unit] = Deparsed(index=found[index])
        return results

    def slow(self, table: TablePlan, use: Use, target: ColumnPlan | None = None) -> Deparsed:
        """The exact path for one use: a temporary table named and shaped like the real one
        (its columns all plain), the SQL as written. Raises psycopg.Error."""
        q = self.quoting.ident
        name = f"pg_temp.{q(table.name)}"
        defs = []
        for column in table.columns:
            spec = f"{q(column.name)} {column.type_sql}"
            if column is target:
                spec += f" GENERATED ALWAYS AS ({use.original}){use.unit.suffix}"
            defs.append(spec)
        layout = _Layout(tables=[table.name])
        check = self.name("k")
        index = self.name("i")
        if use.unit.kind == "check":
            defs.append(f"CONSTRAINT {check} CHECK ({use.original}){use.unit.suffix}")
        statements = [f"CREATE TEMP TABLE {name} ({', '.join(defs)})"]
        if use.unit.kind == "index":
            layout.indexes[index] = use.unit
            statements.append(f"CREATE {use.unit.suffix}INDEX {index} ON {name} {use.original}")
        self.pg.execute("SAVEPOINT dbctl_slow")
        try:
            self.pg.execute(";\n".join(tag(s) for s in statements))
            markers: dict[str, Ref] = {c.name: c.name for c in table.columns}
            found = self.read(layout, markers, [target.name] if target else [])
        finally:
            self.pg.execute("ROLLBACK TO SAVEPOINT dbctl_slow")
        if use.unit.kind == "check":
            text, refs = found[check]
            return Deparsed(text=text, refs=refs)
        if use.unit.kind == "index":
            return Deparsed(index=found[index])
        assert target is not None
        type_, collation, expression = found[target.name]
        return Deparsed(type_, collation, expression)
