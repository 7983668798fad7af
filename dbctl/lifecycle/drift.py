"""``schema-drift``: the SQLAlchemy models against a migrated (or live) database.

The models' side is the catalog ``load_catalog`` would read after ``metadata.create_all``,
built by ``model_catalog.catalog_from_metadata`` on the compared database itself, in a
transaction that is rolled back: PostgreSQL normalises what only it can (types, defaults,
checks, expression and partial indexes) in a few temporary objects, and the rest is
rendered in Python exactly as PostgreSQL prints it. Both sides are then compared object by
object (``dbctl.schema.diff``). This catches what Alembic's ``compare_metadata`` reports
and what it misses: server defaults, index column order, sort options, expression and
partial indexes, check constraints, enum values, identity columns. Models only a real
database can lay out (DDL event listeners, domains, partitioned tables...) are created with
``create_all`` in a scratch database of the same server instead.

Views and materialized views are not in SQLAlchemy models: like Alembic, drift leaves them
out (the round trip and idempotency checks still cover them).

Names: a constraint or index the models leave unnamed gets a name PostgreSQL makes up
(``t_pkey``, ``t_a_fkey``...) or one from SQLAlchemy's default ``ix`` convention, and
migrations written by hand or with another convention name it otherwise. Such a difference
in name alone (``index-name``, ``foreign-key-name``, ``check-name``, ``primary-key-name``;
a unique constraint's shows as its index's) is not drift unless ``drift_strict_names``.
Which names the models decide (spelled out, or made by the project's own convention) is
read from the MetaData itself (``model_names``) and matched with the models' side of the
difference: it holds whichever way the models' catalog was built, and catalogs stay plain
data compared with ``==``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dbctl.errors import DbctlError, ModelsFailed
from dbctl.lifecycle.models import create_schema, load_metadata, model_locations
from dbctl.lifecycle.readback import INTERNAL_TABLES, snapshot
from dbctl.report import Finding, Location, Severity
from dbctl.rules.context import RuleContext

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from dbctl.config import Settings
    from dbctl.lifecycle.model_names import ModelNames
    from dbctl.schema.catalog import Catalog
    from dbctl.schema.diff import Difference

# Models declare neither views nor extensions: like Alembic, drift leaves them out.
_NOT_IN_MODELS = {
    "missing-view",
    "extra-view",
    "view-definition",
    "missing-extension",
    "extra-extension",
    "extension-version",
}
# Differences in name alone: ignored for objects whose name the models leave to others.
NAME_ONLY = frozenset({"index-name", "foreign-key-name", "check-name", "primary-key-name"})


@dataclass(frozen=True)
class Models:
    metadata: MetaData
    locations: Mapping[str, Location] = field(default_factory=dict)
    naming_convention: Mapping[str, str] = field(default_factory=dict)

    @functools.cached_property
    def names(self) -> ModelNames:
        """The constraint and index names the models spell out, and those they decide."""
        from dbctl.lifecycle.model_names import model_names

        return model_names(self.metadata)

    def rule_context(self) -> RuleContext:
        """What the schema rules know from the models: locations, the naming convention,
        the names they give explicitly."""
        return RuleContext(
            locations=self.locations,
            naming_convention=self.naming_convention,
            explicit_names=self.names.explicit,
        )


def load_models(settings: Settings) -> Models:
    from dbctl.lifecycle.model_names import SQLALCHEMY_DEFAULT_CONVENTION

    metadata = load_metadata(settings)
    convention = {
        key: value
        for key, value in metadata.naming_convention.items()
        if isinstance(key, str) and isinstance(value, str)
    }
    if convention == SQLALCHEMY_DEFAULT_CONVENTION:  # says nothing of the project's choices
        convention = {}
    return Models(metadata, model_locations(metadata, settings.project_root), convention)


def models_catalog(models: Models, url: str) -> Catalog:
    """The models as ``load_catalog`` would read them after ``create_all``.

    Built on the database at ``url`` (the shadow or live database: its extensions are
    there), which is left as it was; for models that need a real database, ``create_all``
    in a scratch database of the same server.
    """
    from dbctl.lifecycle.model_catalog import ModelsNeedDatabase, catalog_from_metadata
    from dbctl.pg.connect import connect

    try:
        with connect(url) as conn:
            catalog = catalog_from_metadata(models.metadata, conn)
    except ModelsNeedDatabase:  # what PostgreSQL says when it creates them is clearest
        return created_catalog(models, url)
    internal = [key for key, table in catalog.tables.items() if table.name in INTERNAL_TABLES]
    if not internal:
        return catalog
    owned = {f"{key}." for key in internal}
    return replace(
        catalog,
        tables={k: v for k, v in catalog.tables.items() if k not in internal},
        sequences={
            k: v
            for k, v in catalog.sequences.items()
            if not any((v.owned_by or "").startswith(prefix) for prefix in owned)
        },
    )


def created_catalog(models: Models, url: str) -> Catalog:
    """``create_all`` in a scratch database on the server of ``url``, snapshotted. The
    scratch database gets the extensions of the database at ``url`` first (an operator
    class or a type of the models may need one)."""
    from psycopg import sql

    from dbctl.pg.connect import connect, create_engine
    from dbctl.pg.shadow import temporary_database

    with connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")
        extensions = [str(row[0]) for row in rows]
    with temporary_database(url, purpose="models") as scratch:
        with connect(scratch, autocommit=True) as conn:
            for name in extensions:
                try:
                    conn.execute(
                        sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name))
                    )
                except psycopg_errors():  # not installed here: the models may not need it
                    continue
        engine = create_engine(scratch)
        try:
            with engine.begin() as connection:
                create_schema(connection, models.metadata)
        finally:
            engine.dispose()
        return snapshot(scratch)


def psycopg_errors() -> type[Exception]:
    import psycopg

    return psycopg.Error


def _column(difference: Difference) -> tuple[str, ...]:
    if difference.table and difference.object.startswith(difference.table + "."):
        rest = difference.object[len(difference.table) + 1 :]
        if difference.kind.startswith("column-") or difference.kind.endswith("-column"):
            return (rest,)
    return ()


def _name_left_to_others(settings: Settings, models: Models, difference: Difference) -> bool:
    """A name-only difference of an object the models leave unnamed (not strict)."""
    if settings.drift_strict_names or difference.kind not in NAME_ONLY:
        return False
    return not models.names.is_chosen(difference.table, difference.expected)


def compare(
    settings: Settings, models: Models, expected: Catalog, actual: Catalog
) -> list[Finding]:
    """Findings for each difference between the models' catalog and the database's.

    A difference in name alone of a constraint or index whose name the models leave to
    others is none, unless ``settings.drift_strict_names``.
    """
    from dbctl.schema.diff import diff_catalogs

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
        if _name_left_to_others(settings, models, difference):
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


def drift_findings(settings: Settings, models: Models, actual: Catalog, url: str) -> list[Finding]:
    """Drift of the database at ``url`` (snapshotted as ``actual``) from the models.

    The models are the project's code: what it raises while they are laid out (a
    ``TypeDecorator`` that needs the app's config...) is ``ModelsFailed``, naming its line."""
    from dbctl.lifecycle.user_code import frames, raised, user_frame, where

    try:
        expected = models_catalog(models, url)
    except DbctlError:
        raise
    except (Exception, SystemExit) as exc:
        root = settings.project_root
        frame = user_frame(frames(exc), root)
        if frame is None:  # nothing of the project's in the traceback: dbctl's own failure
            raise
        raise ModelsFailed(f"the models ({where(frame, root)}) raised {raised(exc)}") from None
    return compare(settings, models, expected, actual)
