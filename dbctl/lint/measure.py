"""The locks and rewrites a revision really takes, measured on a shadow database.

Each revision is applied in a shadow database (the schema at the revision before it, built
by the revisions themselves): before its transaction commits, ``pg_locks`` gives every lock
the session holds on a relation that existed before the revision, and ``pg_class`` every
relation whose ``relfilenode`` changed (a rewrite: a new file written while the table is
locked). The migration session is migrate's own (lock, handoff, timeouts, ledger), so the
project's env.py runs as it does in a deploy, on the shadow only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dbctl.lint.proofs import NotNullProofs

if TYPE_CHECKING:
    from alembic.script import Script
    from sqlalchemy import Connection

    from dbctl.config import Settings

Notify = Callable[[str], None]

# What each table lock mode blocks of the application's traffic (PostgreSQL's conflict
# table, "Table-Level Lock Modes"), the strongest first.
BLOCKS = {
    "AccessExclusiveLock": "reads and writes",
    "ExclusiveLock": "writes (reads go on)",
    "ShareRowExclusiveLock": "writes",
    "ShareLock": "writes",
    "ShareUpdateExclusiveLock": "",  # other schema changes, VACUUM and ANALYZE only
    "RowExclusiveLock": "",
    "RowShareLock": "",
    "AccessShareLock": "",
}
STRENGTH = {mode: rank for rank, mode in enumerate(reversed(list(BLOCKS)))}
# Tables of the migration machinery, never the project's data.
MACHINERY = frozenset({"alembic_version", "dbctl_migrations"})

_RELATIONS = """
SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, c.relfilenode::int8,
    coalesce(i.indrelid, 0)::int8,
    CASE WHEN EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = c.oid)
         THEN pg_get_indexdef(c.oid) END,
    CASE WHEN c.relispartition
         THEN (SELECT inhparent::int8 FROM pg_inherits WHERE inhrelid = c.oid LIMIT 1) END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'i', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND left(n.nspname, 3) <> 'pg_'
"""
_LOCKS = """
SELECT relation::int8, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted AND relation IS NOT NULL
"""
# Columns a SET NOT NULL would not scan (PostgreSQL 12+): NOT NULL already (no check), and
# the CHECK (col IS NOT NULL) constraints, validated or not, by name.
_PROVEN = """
SELECT n.nspname, c.relname, a.attname, NULL, true
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'
UNION ALL
SELECT n.nspname, c.relname, a.attname, k.conname, k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND k.conkey = ARRAY[a.attnum]
WHERE k.contype = 'c'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'
  AND pg_get_constraintdef(k.oid)
      IN (format('CHECK ((%s IS NOT NULL))', quote_ident(a.attname)),
          format('CHECK ((%s IS NOT NULL)) NOT VALID', quote_ident(a.attname)))
"""
_CONSTRAINT_INDEXES = """
SELECT n.nspname, c.relname, k.conrelid::int8, pg_get_indexdef(c.oid), c.relfilenode::int8
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conindid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.conindid <> 0 AND k.contype IN ('p', 'u', 'x')
"""
_FILES = "SELECT oid::int8, relfilenode::int8 FROM pg_class WHERE oid::int8 = ANY(:oids)"


@dataclass(frozen=True, slots=True)
class Relation:
    schema: str
    name: str
    kind: str  # r, p (partitioned), i (index), m (materialized view)
    filenode: int
    table: int  # an index's table (oid), else 0
    definition: str | None = None  # a constraint's index: pg_get_indexdef
    parent: int | None = None  # a partition's partitioned table (oid)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class TableLock:
    table: str  # schema.name
    mode: str  # pg_locks' name: AccessExclusiveLock
    blocks: str  # "reads and writes", "writes", "" (nothing of the application's traffic)
    root: str | None = None  # a partition's partitioned table at the top (schema.name)


@dataclass(frozen=True, slots=True)
class Rewrite:
    table: str  # the table (for an index, its table)
    relations: tuple[str, ...]  # what got a new file: the table and/or its indexes
    table_rewritten: bool  # the table's own file (else only indexes were rebuilt)


@dataclass
class Measured:
    """What one revision took, on the relations that existed before it."""

    revision: str
    locks: list[TableLock] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)
    in_transaction: bool = True  # False: it ran outside one (autocommit): not measured
    seconds: float = 0.0
    # whether its transaction was seen before its commit (not when env.py migrated on a
    # connection of its own): without it, nothing was measured
    seen: bool = False
    unread: int = 0  # commits of other connections that could not be read
    partitioned: frozenset[str] = frozenset()  # partitioned tables (their partitions rewrite)
    # the columns a SET NOT NULL would not scan, in the catalog before the revision
    proofs: NotNullProofs = field(default_factory=NotNullProofs)
    # each index before the revision, by lower-cased name: its table (schema, name)
    indexes: dict[str, tuple[str, str]] = field(default_factory=dict)


def _relations(conn: Any) -> dict[int, Relation]:
    from sqlalchemy import text

    rows = conn.execute(text(_RELATIONS)).fetchall()
    return {
        row[0]: Relation(row[1], row[2], row[3], row[4], row[5], row[6], row[7]) for row in rows
    }


def _proofs(conn: Any) -> NotNullProofs:
    from sqlalchemy import text

    rows = conn.execute(text(_PROVEN)).fetchall()
    return NotNullProofs.from_catalog(
        (str(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]), bool(r[4]))
        for r in rows
    )


def _table_of(oid: int, before: dict[int, Relation]) -> Relation | None:
    found = before.get(oid)
    if found is not None and found.kind == "i":
        found = before.get(found.table)
    return found


def read_locks(conn: Any, before: dict[int, Relation]) -> list[TableLock]:
    """The strongest lock held on each table (an index's lock counted as its table's) that
    existed before; the machinery's tables left out."""
    strongest: dict[str, str] = {}
    from sqlalchemy import text

    for oid, mode in conn.execute(text(_LOCKS)).fetchall():
        table = _table_of(oid, before)
        if table is None or table.name in MACHINERY:
            continue
        held = strongest.get(table.qualified)
        if held is None or STRENGTH.get(mode, 0) > STRENGTH.get(held, 0):
            strongest[table.qualified] = mode
    roots = {r.qualified: _root(r, before) for r in before.values() if r.parent}
    return [
        TableLock(t, mode, BLOCKS.get(mode, ""), roots.get(t))
        for t, mode in sorted(strongest.items())
    ]


def _root(relation: Relation, before: dict[int, Relation]) -> str | None:
    """The partitioned table at the top of a partition's tree."""
    top, seen = None, set()
    while relation.parent and relation.parent not in seen:
        seen.add(relation.parent)
        parent = before.get(relation.parent)
        if parent is None:
            break
        top, relation = parent.qualified, parent
    return top


def read_rewrites(conn: Any, before: dict[int, Relation]) -> list[Rewrite]:
    """The tables whose file, or whose indexes' files, the revision replaced."""
    oids = list(before)
    from sqlalchemy import text

    rows = conn.execute(text(_FILES), {"oids": oids}).fetchall() if oids else []
    files = {int(oid): int(filenode) for oid, filenode in rows}
    gone = [oid for oid in oids if oid not in files and before[oid].kind == "i"]
    if gone:  # a constraint's index made again under a new oid (after a type change)
        now = {
            (str(r[0]), str(r[1]), int(r[2]), str(r[3])): int(r[4])
            for r in conn.execute(text(_CONSTRAINT_INDEXES)).fetchall()
        }
        for oid in gone:  # the same definition on the same table (still there): a rebuild
            old = before[oid]
            made = now.get((old.schema, old.name, old.table, old.definition or ""))
            if made is not None and old.table in files:
                files[oid] = made  # its file: a new one, or the old kept (no rebuild)
    changed: dict[str, list[Relation]] = {}
    for oid, filenode in files.items():
        old = before[oid]
        if filenode == old.filenode or old.kind == "p":
            continue
        table = _table_of(oid, before)
        if table is None or table.name in MACHINERY:
            continue
        changed.setdefault(table.qualified, []).append(old)
    return [
        Rewrite(
            table,
            tuple(r.qualified for r in relations),
            any(r.kind in ("r", "m") for r in relations),
        )
        for table, relations in sorted(changed.items())
    ]


@contextmanager
def shadow(
    settings: Settings,
    server_url: str,
    *,
    notify: Notify | None = None,
    before_first: Callable[[str], None] | None = None,
    timezone: str | None = None,
) -> Iterator[Callable[[Sequence[Script], set[str]], list[Measured]]]:
    """A temporary database on the server of ``server_url``; yields ``run(path, measured)``,
    which applies ``path`` in order (from the empty database, after the baseline) and
    measures the revisions in ``measured``. ``before_first`` gets the shadow's URL just
    before the first measured revision (a sample of the live rows goes in there).
    ``timezone``: the live database's TimeZone, the shadow's too (whether ``timestamp`` to
    ``timestamptz`` rewrites the table depends on it: not in UTC)."""
    from dbctl.lifecycle.handoff import handed_over
    from dbctl.pg.shadow import temporary_database

    settings = replace(settings, pooler="none")  # the shadow is reached directly, never pooled
    with temporary_database(server_url, purpose="lint", notify=notify) as url:
        if timezone is not None:
            _set_timezone(url, timezone)
        with handed_over(settings, url):

            def run(path: Sequence[Script], measured: set[str]) -> list[Measured]:
                return _apply(settings, url, path, measured, before_first)

            yield run


def _set_timezone(url: str, timezone: str) -> None:
    """Every session of the shadow database in ``timezone`` (one the server accepts)."""
    from psycopg import sql

    from dbctl.pg.connect import connect

    with connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
        assert row is not None
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET TimeZone = {}").format(
                sql.Identifier(str(row[0])), sql.Literal(timezone)
            )
        )


@contextmanager
def measuring(
    session: Any, script: Script
) -> Iterator[tuple[Callable[[Connection], None], Measured]]:
    """``(inspect, measured)`` for applying ``script`` in ``session`` (migrate's): pass
    ``inspect`` as ``before_commit``. Every other SQLAlchemy connection that commits
    meanwhile is read too, just before its commit (an env.py migrating on a connection of
    its own: mlflow's takes a second one from the shared engine); what they hold is merged.
    ``measured`` holds it, and the seconds the block took."""
    import time

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from dbctl.lifecycle.revisions import describe

    measured = Measured(script.revision, in_transaction=not describe(script).autocommit)
    before = _relations(session.connection)
    measured.proofs = _proofs(session.connection)
    if session.connection.in_transaction():
        session.connection.commit()  # the apply begins the revision's own transaction

    measured.partitioned = frozenset(r.qualified for r in before.values() if r.kind == "p")
    measured.indexes = {
        r.name.lower(): (table.schema, table.name)
        for r in before.values()
        if r.kind == "i" and (table := before.get(r.table)) is not None
    }

    def inspect(conn: Connection) -> None:
        locks, rewrites = read_locks(conn, before), read_rewrites(conn, before)
        measured.seen = True
        measured.locks = _merged(measured.locks, locks)
        found = {r.table: r for r in [*measured.rewrites, *rewrites]}
        measured.rewrites = sorted(found.values(), key=lambda r: r.table)

    def on_commit(conn: Connection) -> None:
        if conn is session.connection:  # that one is read by before_commit
            return
        try:
            inspect(conn)
        except Exception:  # never the migration's failure: this commit is just not read
            measured.unread += 1

    started = time.perf_counter()
    event.listen(Engine, "commit", on_commit)
    try:
        yield inspect, measured
    finally:
        event.remove(Engine, "commit", on_commit)
    measured.seconds = time.perf_counter() - started
    if not measured.seen:  # outside a transaction: new files stay, read them now
        measured.rewrites = read_rewrites(session.connection, before)
        session.connection.commit()


def _merged(one: list[TableLock], other: list[TableLock]) -> list[TableLock]:
    """The strongest lock of each table in ``one`` and ``other``."""
    strongest: dict[str, TableLock] = {}
    for lock in [*one, *other]:
        held = strongest.get(lock.table)
        if held is None or STRENGTH.get(lock.mode, 0) > STRENGTH.get(held.mode, 0):
            strongest[lock.table] = lock
    return sorted(strongest.values(), key=lambda lock: lock.table)


def _apply(
    settings: Settings,
    url: str,
    path: Sequence[Script],
    wanted: set[str],
    before_first: Callable[[str], None] | None = None,
) -> list[Measured]:
    from dbctl.errors import MigrationFailed
    from dbctl.lifecycle.migrate import migration_session

    found: list[Measured] = []
    with migration_session(settings, url, notify=None) as session:
        session.run_baseline((), None)
        for script in path:
            try:
                if script.revision not in wanted:
                    session.apply(script, None)
                    continue
                if before_first is not None and not found:
                    before_first(url)
                with measuring(session, script) as (inspect, measured):
                    session.apply(script, None, before_commit=inspect)
            except MigrationFailed as exc:  # what was measured before it stands
                raise ShadowFailed(script.revision, str(exc), found, exc.sqlstate) from None
            found.append(measured)
    return found


class ShadowFailed(Exception):
    """A revision failed in the shadow: which, why, and what was measured before it."""

    def __init__(
        self, revision: str, why: str, measured: list[Measured], sqlstate: str | None = None
    ) -> None:
        super().__init__(why)
        self.revision, self.why, self.measured = revision, why, measured
        self.sqlstate = sqlstate
