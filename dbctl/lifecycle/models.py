"""The SQLAlchemy models side of drift: load the MetaData, locate its classes, lay it out.

Drift builds the models' catalog without creating them (``model_catalog``);
``create_schema`` (``create_all`` in one round trip) remains for the models only a real
database can lay out, and for tests that compare the two.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConfigError, ModelsFailed
from dbctl.lifecycle.user_code import import_object
from dbctl.pg.connect import TAG
from dbctl.report import Location

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings


def load_metadata(settings: Settings) -> MetaData:
    """Import ``settings.models`` (``module:attr.path``) from the project and check its type."""
    from sqlalchemy import MetaData

    spec = settings.models
    if not spec:
        raise ConfigError(
            "no models configured: set --models module:attr, DBCTL_MODELS or "
            '[tool.dbctl] models (e.g. "app.db:Base.metadata")'
        )
    target: Any = import_object(spec, settings.project_root, "models")
    if not isinstance(target, MetaData):
        target = getattr(target, "metadata", target)  # a declarative Base is fine too
    if not isinstance(target, MetaData):
        raise ConfigError(f"models {spec!r} is a {type(target).__name__}, not a MetaData")
    return target


def model_locations(metadata: MetaData, project_root: Path) -> dict[str, Location]:
    """Where the model class of each table is defined, for the locations of findings.

    Tables declared without a class (``Table(...)``) have no location.
    """
    from sqlalchemy.orm import mapperlib

    # SQLAlchemy keeps every registry in mapperlib; it has no public accessor for them.
    all_registries = getattr(mapperlib, "_all_registries", set)
    locations: dict[str, Location] = {}
    for registry in all_registries():
        for mapper in registry.mappers:
            table: Any = mapper.local_table
            if getattr(table, "metadata", None) is not metadata:
                continue
            key = f"{table.schema or 'public'}.{table.name}"
            try:
                path = Path(inspect.getsourcefile(mapper.class_) or "")
                line = inspect.getsourcelines(mapper.class_)[1]
            except (OSError, TypeError):
                continue
            try:
                shown = str(path.resolve().relative_to(project_root))
            except ValueError:
                shown = str(path)
            locations[key] = Location(shown, line)
    return locations


def create_schema(connection: Connection, metadata: MetaData) -> None:
    """Create the models' schema on ``connection`` in one round trip of DDL.

    A statement PostgreSQL refuses is ``ModelsFailed`` naming it (found from the error's
    position in the script); the transaction of ``connection`` is then aborted."""
    import sqlalchemy.exc
    from sqlalchemy import create_mock_engine

    statements: list[str] = []
    dialect = connection.dialect

    def collect(sql: Any, *_: Any, **__: Any) -> None:
        statements.append(str(sql.compile(dialect=dialect)).strip())

    mock = create_mock_engine(connection.engine.url, collect)
    metadata.create_all(mock, checkfirst=False)
    schemas = sorted({t.schema for t in metadata.tables.values() if t.schema})
    prelude = [f'CREATE SCHEMA IF NOT EXISTS "{schema}"' for schema in schemas]
    # Each statement tagged here (pg_stat_statements records a script's statements apart),
    # so that the error's position is known in the text sent.
    script = [f"{TAG} {statement}" for statement in prelude + statements]
    try:
        connection.exec_driver_sql(";\n".join(script))
    except sqlalchemy.exc.DBAPIError as exc:
        if dialect.paramstyle in ("format", "pyformat"):  # the driver sends "%%" as "%"
            script = [statement.replace("%%", "%") for statement in script]
        raise _refused(exc, script, skip=0) from None


def _refused(exc: Any, script: list[str], *, skip: int) -> ModelsFailed:
    """PostgreSQL's first line and the statement it refused (``script`` as the server
    received it, after ``skip`` characters), on one line."""
    from dbctl.lifecycle.user_code import first_line
    from dbctl.report import one_line

    reason = first_line(exc)
    position = getattr(getattr(exc.orig, "diag", None), "statement_position", None)
    if position:
        offset = int(position) - skip
        for statement in script:
            if offset <= len(statement) + 2:  # the statement and its ";\n"
                shown = statement.removeprefix(f"{TAG} ")
                reason += f"; statement: {one_line(shown, 200)}"
                break
            offset -= len(statement) + 2
    return ModelsFailed(f"the models cannot be created in PostgreSQL: {reason}")
