"""A sample of the live database's rows in the shadow, before the first linted revision.

An empty shadow passes revisions the real data fails (``SET NOT NULL`` on a column with
NULLs, a CHECK or a unique index the rows break, a type cast a value refuses) and takes
no time to rewrite. So when the live database is at the revision the shadow has reached,
up to ``rows`` rows of each of its tables are copied in (on large tables, whole pages at
random, ``TABLESAMPLE SYSTEM ... REPEATABLE``, half as many again as asked for, and of those the
rows asked for in an order that does not follow the pages: neither the first rows nor the
first pages, and the same sample again for the same table), with ``COPY ... (FORMAT binary)`` from a
read-only transaction on the live database, through a staging table (rows the revisions
seeded stay, a key both sides hold is kept once), then ANALYZE, and the sequences set
where the live ones stand. Only tables whose columns and types are the same on both sides
are copied (their stored columns: generated ones are computed again), and not the tables
with a foreign key, or that a linted revision gives one (sampled apart from their
parents, their rows would break a VALIDATE CONSTRAINT or an ADD FOREIGN KEY that the real
data passes); triggers are not fired in the shadow
(``session_replication_role = replica``, which needs a superuser there: the sandbox is
one; otherwise no sample, and a note says so). Partitioned tables are not copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbctl.pg.identifiers import quote_ident

if TYPE_CHECKING:
    import psycopg

DEFAULT_ROWS = 10_000
MACHINERY = frozenset({"alembic_version", "dbctl_migrations"})
_SEED = 20260  # TABLESAMPLE's: the same pages of an unchanged table, run after run

_TABLES = """
SELECT n.nspname, c.relname, greatest(c.reltuples, 0)::float8,
    string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
               ORDER BY a.attnum),
    string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
    EXISTS (SELECT FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attgenerated = ''
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND left(n.nspname, 3) <> 'pg_' AND NOT c.relispartition
GROUP BY c.oid, 1, 2, 3
"""


@dataclass
class Sampled:
    tables: int = 0
    rows: int = 0
    present: int = 0  # rows read that the shadow held already (the revisions seeded them)
    skipped: list[str] = field(default_factory=list)  # "schema.table: why"
    note: str | None = None  # why no sample at all

    def said(self) -> str:
        if self.note is not None:
            return f"no sample of the live rows in the shadow: {self.note}"
        text = (
            f"a sample of the live database in the shadow before the first linted revision: "
            f"{self.rows + self.present:,} rows read from {self.tables} table(s), "
            f"{self.rows:,} copied"
        )
        if self.present:
            text += f", {self.present:,} there already (the revisions insert them)"
        if self.skipped:
            text += f" ({len(self.skipped)} left out: {'; '.join(self.skipped[:3])})"
        return text


_SEQUENCES = """
SELECT schemaname, sequencename, last_value FROM pg_sequences WHERE last_value IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class _Table:
    tuples: float
    signature: str  # the columns and their types: the same on both sides, or not copied
    columns: str  # the stored columns, quoted (generated ones are computed again)
    references: bool  # it has a foreign key


def _tables(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], _Table]:
    rows = conn.execute(_TABLES).fetchall()
    return {
        (r[0], r[1]): _Table(float(r[2]), str(r[3]), str(r[4]), bool(r[5]))
        for r in rows
        if r[1] not in MACHINERY
    }


def _sequences(live: psycopg.Connection[Any], shadow: psycopg.Connection[Any]) -> None:
    """The shadow's sequences where the live ones stand: a revision that inserts gets the
    next id, not 1 again (a duplicate key the real database would not raise)."""
    import psycopg

    for schema, name, value in live.execute(_SEQUENCES).fetchall():
        target = f"{quote_ident(schema)}.{quote_ident(name)}"
        try:
            shadow.execute("SELECT setval(%s::regclass, %s)", (target, value))
        except psycopg.Error:
            continue  # not in the shadow (yet), or another type


def _copy(
    live: psycopg.Connection[Any],
    shadow: psycopg.Connection[Any],
    query: str,
    target: str,
    columns: str,
) -> tuple[int, int]:
    """The rows of ``query`` into ``target`` through a staging table, so that the rows the
    revisions seeded stay and a key both sides hold is kept once: the rows read, and the
    rows added."""
    shadow.execute(
        f"CREATE TEMP TABLE dbctl_sample ON COMMIT DROP AS SELECT {columns} FROM {target} "
        "WITH NO DATA"
    )
    into = shadow.cursor()
    with (
        live.cursor().copy(query + " (FORMAT binary)") as source,
        into.copy("COPY dbctl_sample FROM STDIN (FORMAT binary)") as sink,
    ):
        for data in source:
            sink.write(data)
    read = max(into.rowcount, 0)
    added = shadow.execute(
        f"INSERT INTO {target} ({columns}) SELECT * FROM dbctl_sample ON CONFLICT DO NOTHING"
    )
    return read, max(added.rowcount, 0)


def copy_sample(
    live_url: str,
    shadow_url: str,
    *,
    rows: int = DEFAULT_ROWS,
    leave_out: Mapping[tuple[str, str], str] | None = None,
) -> Sampled:
    """Up to ``rows`` rows of each table the two databases share, live -> shadow, but the
    tables of ``leave_out`` ((schema, name) -> why)."""
    import psycopg

    from dbctl.pg.connect import connect

    found = Sampled()
    with connect(live_url) as live, connect(shadow_url, autocommit=True) as shadow:
        live.execute("SET TRANSACTION READ ONLY")
        try:
            shadow.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            found.note = "copying without firing foreign keys needs a superuser on the shadow"
            return found
        theirs, ours = _tables(live), _tables(shadow)
        for (schema, name), table in sorted(theirs.items()):
            mine = ours.get((schema, name))
            if mine is None or mine.signature != table.signature:
                continue  # not there, or not the same columns: not the same table
            if mine.references:  # sampled on its own, its rows would miss their parents
                found.skipped.append(f"{schema}.{name}: has foreign keys")
                continue
            if (schema, name) in (leave_out or {}):
                found.skipped.append(f"{schema}.{name}: {(leave_out or {})[(schema, name)]}")
                continue
            target = f"{quote_ident(schema)}.{quote_ident(name)}"
            sampled = order = ""
            if table.tuples > rows:
                share = min(100.0, 100.0 * rows * 1.5 / table.tuples)
                sampled = f" TABLESAMPLE SYSTEM ({share:.4f}) REPEATABLE ({_SEED})"
                order = " ORDER BY md5(ctid::text)"  # not the pages' order: no end left out
            query = (
                f"COPY (SELECT {table.columns} FROM ONLY {target}{sampled}{order} "
                f"LIMIT {int(rows)}) TO STDOUT"
            )
            try:
                with shadow.transaction():
                    read, copied = _copy(live, shadow, query, target, table.columns)
                shadow.execute(f"ANALYZE {target}")
            except psycopg.Error as exc:  # rows the revisions seeded, a value that will not go
                found.skipped.append(f"{schema}.{name}: {str(exc).splitlines()[0]}")
                if live.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                    live.rollback()
                    live.execute("SET TRANSACTION READ ONLY")
                continue
            found.tables += 1
            found.rows += copied
            found.present += read - copied
        _sequences(live, shadow)
    return found
