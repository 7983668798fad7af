"""``schema-drift``: the SQLAlchemy models against a migrated (or live) database.

The models are created in a scratch database on the same server and both sides are
snapshotted by the same catalog loader, so PostgreSQL itself normalises every type, default,
index and constraint definition; the two catalogs are then compared object by object
(``dbctl.lifecycle.diff``). This catches what Alembic's ``compare_metadata`` reports and
what it misses: server defaults, index column order, sort options, expression and partial
indexes, check constraints, enum values, identity columns.

Views and materialized views are not in SQLAlchemy models: like Alembic, drift leaves them
out (the round trip and idempotency checks still cover them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dbctl.errors import DbctlError
from dbctl.lifecycle.models import create_schema, load_metadata, model_locations
from dbctl.report import Finding, Location, Severity

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from dbctl.config import Settings
    from dbctl.lifecycle.diff import Difference
    from dbctl.pg.catalog import Catalog

# Models declare neither views nor extensions: like Alembic, drift leaves them out.
_NOT_IN_MODELS = {
    "missing-view",
    "extra-view",
    "view-definition",
    "missing-extension",
    "extra-extension",
    "extension-version",
}
# SQLAlchemy's own default convention, which says nothing about the project's choices.
_SQLALCHEMY_DEFAULT_CONVENTION = {"ix": "ix_%(column_0_label)s"}


@dataclass(frozen=True)
class Models:
    metadata: MetaData
    locations: Mapping[str, Location] = field(default_factory=dict)
    naming_convention: Mapping[str, str] = field(default_factory=dict)


def load_models(settings: Settings) -> Models:
    metadata = load_metadata(settings)
    convention = {
        key: value
        for key, value in metadata.naming_convention.items()
        if isinstance(key, str) and isinstance(value, str)
    }
    if convention == _SQLALCHEMY_DEFAULT_CONVENTION:
        convention = {}
    return Models(metadata, model_locations(metadata, settings.project_root), convention)


def models_catalog(models: Models, server_url: str) -> Catalog:
    """The models laid out by PostgreSQL: ``create_all`` in a scratch database, snapshotted."""
    import sqlalchemy.exc

    from dbctl.lifecycle.verify import snapshot
    from dbctl.pg.connect import create_engine
    from dbctl.pg.shadow import temporary_database

    with temporary_database(server_url, purpose="models") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                create_schema(connection, models.metadata)
        except sqlalchemy.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise DbctlError(f"the models cannot be created in PostgreSQL: {reason}") from None
        finally:
            engine.dispose()
        return snapshot(url)


def _column(difference: Difference) -> tuple[str, ...]:
    if difference.table and difference.object.startswith(difference.table + "."):
        rest = difference.object[len(difference.table) + 1 :]
        if difference.kind.startswith("column-") or difference.kind.endswith("-column"):
            return (rest,)
    return ()


def compare(
    settings: Settings, models: Models, expected: Catalog, actual: Catalog
) -> list[Finding]:
    """Findings for each difference between the models' catalog and the database's."""
    from dbctl.lifecycle.diff import diff_catalogs

    differences = diff_catalogs(
        expected,
        actual,
        ignore=settings.drift_ignore,
        expected_label="the models",
        actual_label="the database",
    )
    findings = []
    for difference in differences:
        table = actual.tables.get(difference.table or "") or expected.tables.get(
            difference.table or ""
        )
        if difference.kind in _NOT_IN_MODELS or (table is not None and table.is_view):
            continue
        findings.append(
            Finding(
                rule="schema-drift",
                severity=Severity.error,
                message=difference.message,
                table=difference.table,
                columns=_column(difference),
                location=models.locations.get(difference.table or ""),
                evidence={
                    "kind": difference.kind,
                    "object": difference.object,
                    "models": difference.expected,
                    "database": difference.actual,
                },
            )
        )
    return findings


def drift_findings(
    settings: Settings, models: Models, actual: Catalog, server_url: str
) -> list[Finding]:
    return compare(settings, models, models_catalog(models, server_url), actual)
