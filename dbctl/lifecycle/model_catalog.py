"""The models' ``Catalog`` without creating their tables: ``catalog_from_metadata``.

``catalog_from_metadata(metadata, connection)`` gives, string for string, the catalog
``load_catalog`` would read from a database where ``metadata.create_all`` had just run,
but creates no relation per table. In one transaction that is rolled back:

* PostgreSQL normalises what needs its parser and deparser, once per distinct shape, in a
  few temporary objects (``model_deparse``): ``format_type`` and collation of each type,
  server defaults, check constraints and the columns they read, generated columns,
  expression and partial indexes, operator classes, other access methods; it also
  checks that key columns have a btree operator class and that foreign keys compare.
* The rest is rendered in Python as PostgreSQL renders it (``model_assemble``): names
  (naming conventions, 63-byte truncation, the names PostgreSQL makes up: ``t_pkey``,
  ``t_a_key``, ``t_a_check``, ``t_a_fkey``, ``t_id_seq``, numbered on a clash), SERIAL
  (type, ``nextval(...)`` default, owned sequence), identity, nullability, primary keys
  and unique constraints (merged as PostgreSQL merges them), plain btree indexes and
  their ``pg_get_indexdef`` text, foreign keys and their ``pg_get_constraintdef`` text,
  enums, sequences, comments, names qualified by visibility.

It sends a constant number of statements whatever the size of the models (six round trips
when nothing fails), needs no CREATEDB (temporary objects only) and leaves the database as
it was, so it runs on a scratch, shadow or live database. Models it cannot lay out exactly
(DDL event listeners, domains, partitioned tables, SQL that names objects only a real
database has) raise ``ModelsNeedDatabase``; ``drift`` then runs ``create_all`` in a
scratch database instead.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbctl.lifecycle.model_units import ModelsNeedDatabase
from dbctl.pg.catalog_loader import collector_paused, psycopg_connection
from dbctl.pg.identifiers import Quoting

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection as SAConnection

    from dbctl.schema.catalog import Catalog

__all__ = ["ModelsNeedDatabase", "catalog_from_metadata"]

_SERVER_SQL = [
    """SELECT current_setting('server_version_num')::int, coalesce(current_schema(), 'public'),
        current_setting('server_encoding'), current_setting('quote_all_identifiers') = 'on',
        current_setting('transaction_read_only') = 'on', current_setting('search_path')""",
    "SELECT word, catcode FROM pg_get_keywords() WHERE catcode <> 'U'",
    "SELECT relname::text FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace",
    "SELECT typname::text FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace",
    "SELECT extname, extversion FROM pg_extension ORDER BY extname",
]


@dataclass(frozen=True)
class _Server:
    """What the rendering depends on, read in one round trip."""

    version: int
    default_schema: str  # where CREATE TABLE puts a table without a schema
    encoding: str
    read_only: bool  # a standby, or default_transaction_read_only
    search_path: str
    quoting: Quoting
    reserved: frozenset[str]  # keywords that cannot name a column unquoted
    catalog_relations: frozenset[str]  # pg_catalog's names, which hide ours when equal
    catalog_types: frozenset[str]
    extensions: dict[str, str]

    @classmethod
    def read(cls, pg: psycopg.Connection[Any]) -> _Server:
        import psycopg
        from psycopg.rows import tuple_row

        pipeline = pg.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()
        with pipeline, ExitStack() as stack:
            cursors = [stack.enter_context(pg.cursor(row_factory=tuple_row)) for _ in _SERVER_SQL]
            for cursor, sql in zip(cursors, _SERVER_SQL, strict=True):
                cursor.execute(sql)
            rows = [cursor.fetchall() for cursor in cursors]
        settings, keywords, relations, types, extensions = rows
        version, schema, encoding, quote_all, read_only, search_path = settings[0]
        return cls(
            version,
            schema,
            encoding,
            read_only,
            search_path,
            Quoting(frozenset(word for word, _ in keywords), quote_all),
            frozenset(word for word, category in keywords if category in "RT"),
            frozenset(name for (name,) in relations),
            frozenset(name for (name,) in types),
            dict(extensions),
        )


def catalog_from_metadata(
    metadata: MetaData, connection: psycopg.Connection[Any] | SAConnection
) -> Catalog:
    """The catalog of ``metadata`` as ``load_catalog`` would read it after ``create_all``.

    ``connection``: a psycopg 3 connection, or a SQLAlchemy ``Connection`` on psycopg, to
    a database of the server where the models' extensions are installed (the compared
    database itself is best). Its work is rolled back (a savepoint inside an open
    transaction); the catalog's ``extensions`` are that database's. Raises
    ``ModelsNeedDatabase`` for models only ``create_all`` can lay out, or that PostgreSQL
    rejects (``create_all`` then says why), ``DbctlError`` for models SQLAlchemy cannot
    compile.
    """
    import sqlalchemy.exc

    from dbctl.errors import DbctlError
    from dbctl.lifecycle.model_assemble import Assembler
    from dbctl.lifecycle.model_deparse import Deparser
    from dbctl.lifecycle.model_plan import Planner

    pg = psycopg_connection(connection)
    with collector_paused(), pg.transaction(force_rollback=True):
        server = _Server.read(pg)
        if server.encoding != "UTF8":
            raise ModelsNeedDatabase(f"the database's encoding is {server.encoding}, not UTF8")
        if server.read_only:
            raise ModelsNeedDatabase("the database is read-only: no temporary tables there")
        tag = secrets.token_hex(4)  # in the names of our temporary objects
        planner = Planner(
            server.default_schema, server.quoting, server.reserved, server.catalog_types, tag
        )
        try:
            plan = planner.plan(metadata)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise DbctlError(f"the models cannot be compiled: {exc}") from None
        units, probes = plan.units(), plan.probes()
        texts = " ".join(unit.text for unit in units).lower()
        if f"dbctl_{tag}" in texts:
            raise ModelsNeedDatabase("the models' SQL uses dbctl's temporary names")
        deparser = Deparser(pg, tag, server.quoting, server.search_path)
        sequences = [  # named in some SQL: nextval('seq') must find it
            seq.name
            for seq in [*plan.sequences, *(s for t in plan.tables for s in t.sequences)]
            if seq.schema == "public" and seq.name.lower() in texts
        ]
        error = deparser.create_types(plan.enums, sequences)
        if error is not None:
            raise ModelsNeedDatabase(f"PostgreSQL rejects the models' types: {error}")
        deparser.create([unit for unit in [*units, *probes] if unit.fast])
        for unit, error in deparser.errors.items():
            if unit.kind in ("type", "default") or unit in probes:  # no slower path for them
                raise ModelsNeedDatabase(f"PostgreSQL rejects the models: {error}")
        assembler = Assembler(plan, server.quoting, server.catalog_relations, deparser)
        return assembler.catalog(server.version, server.extensions)
