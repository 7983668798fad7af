"""``dbctl check-indexes``: statements and a catalog in, index advice out.

The one library function of the command. Statements come from SQL files and stdin, capture
logs, and pg_stat_statements; the catalog from DDL files (``--schema``), the live database
(with its statistics), or the SQLAlchemy models: the catalog ``verify-schema`` compares
with (``drift.models_catalog``), laid out by PostgreSQL on the sandbox's database (the
project's throwaway server, started if needed), so that expression, partial and operator
class indexes read as PostgreSQL itself prints them. Analysis (``dbctl.access``) and
advice (``dbctl.advise.advisor``) take data; only the edges here open a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dbctl.access.model import AccessPattern, Statement
from dbctl.access.sources import Collected, from_files, from_log
from dbctl.advise.model import Advice, AdviceOptions
from dbctl.errors import ConfigError
from dbctl.report import Finding, Severity
from dbctl.rules.context import RuleContext

if TYPE_CHECKING:
    import psycopg

    from dbctl.config import Settings
    from dbctl.pg.stats import Statistics
    from dbctl.schema.catalog import Catalog

Notify = Callable[[str], None]


@dataclass(frozen=True)
class CheckRequest:
    paths: tuple[str, ...] = ()  # SQL files; "-" for stdin
    logs: tuple[str, ...] = ()  # JSON-lines capture logs
    from_stats: bool = False
    stats_limit: int = 100
    schema_files: tuple[str, ...] = ()
    validate: bool | None = None  # None: on a live database, when HypoPG can be had
    min_savings: float = 0.30
    write_migration: bool = False
    options: AdviceOptions = field(default_factory=AdviceOptions)


@dataclass
class CheckResult:
    findings: list[Finding]
    summary: dict[str, Any]
    data: dict[str, Any]
    migration: Path | None = None
    model_lines: list[str] = field(default_factory=list)


def _note(rule: str, message: str) -> Finding:
    return Finding(rule=rule, severity=Severity.info, message=message)


def _from_stats(conn: psycopg.Connection[Any], limit: int, collected: Collected) -> float:
    """The top statements by total time into ``collected``; the seconds their counters
    cover (since pg_stat_statements' reset, else the server's start)."""
    from dbctl.stats.statements import read_statements

    read = read_statements(conn, limit=limit, sort="total")
    row = conn.execute(
        "SELECT extract(epoch FROM now() - coalesce(%s::timestamptz, pg_postmaster_start_time()))"
        "::float8",
        [read.stats_reset],
    ).fetchone()
    window = float(row[0]) if row is not None and row[0] is not None else 0.0
    for row in read.rows:
        if not row.query.strip():
            collected.skip("statements whose text pg_stat_statements no longer has")
            continue
        collected.statements.append(
            Statement(
                row.query,
                "pg_stat_statements",
                queryid=row.queryid,
                calls=row.calls,
                total_time_ms=row.total_ms,
                share=read.share(row),
            )
        )
    if read.hidden:
        collected.skip("statements of other roles (grant pg_read_all_stats)", read.hidden)
    return window


def _models_on_a_server(
    settings: Settings, *, notify: Notify | None = None
) -> tuple[Catalog, RuleContext]:
    """The models' catalog as verify-schema builds it, and what the catalog rules know from
    the models (where their classes are). Laid out on a database of a running server:
    ``--database-url`` when given, else the sandbox (started if needed; ``notify`` says so).
    """
    from dbctl.lifecycle import drift
    from dbctl.pg.connect import resolve_database_url

    models = drift.load_models(settings)
    url = resolve_database_url(settings, notify=notify)
    return drift.models_catalog(models, url), models.rule_context()


def _schema_catalog(paths: Sequence[str]) -> tuple[Catalog, int]:
    """The ``--schema`` files' catalog (``ddl.schema_catalog``: the one reader of them)."""
    from dbctl.schema.ddl import schema_catalog

    return schema_catalog(paths)


def _collect(request: CheckRequest, stdin: TextIO | None) -> Collected:
    collected = from_files(request.paths, stdin) if request.paths else Collected()
    for log in request.logs:
        more = from_log(log, stdin)
        collected.statements += more.statements
        for reason, count in more.skipped.items():
            collected.skip(reason, count)
    return collected


@dataclass(frozen=True)
class _Source:
    """The catalog to advise against and what comes with it."""

    catalog: Catalog
    statistics: Statistics | None  # the live database's only
    name: str  # where it came from: schema, database, models
    context: RuleContext = field(default_factory=RuleContext)


def _catalog(
    settings: Settings,
    request: CheckRequest,
    conn: psycopg.Connection[Any] | None,
    notify: Notify | None,
) -> _Source:
    """The catalog to advise against, its statistics (live only), and where it came from."""
    if request.schema_files:
        catalog, _ = _schema_catalog(request.schema_files)  # skipped: SET, functions...
        return _Source(catalog, None, "schema")
    if conn is not None:
        from dbctl.pg.catalog_loader import load_catalog
        from dbctl.pg.stats import load_statistics

        catalog = load_catalog(conn)
        return _Source(catalog, load_statistics(conn, list(catalog.tables)), "database")
    if settings.models:
        catalog, context = _models_on_a_server(settings, notify=notify)
        return _Source(catalog, None, "models", context)
    raise ConfigError(
        "nothing to check the statements against: give --database-url, "
        "--models module:attr or --schema FILE"
    )


def check_indexes(
    settings: Settings,
    request: CheckRequest,
    *,
    stdin: TextIO | None = None,
    notify: Notify | None = None,
) -> CheckResult:
    """Analyse the statements against the catalog; advise; validate; write the migration."""
    from dbctl.access.analyze import analyze_iter
    from dbctl.advise.advisor import advise

    collected = _collect(request, stdin)
    uses_database = settings.database_url is not None and not request.schema_files
    conn = None
    if request.from_stats or request.validate is True or uses_database:
        from dbctl.pg.connect import connect, resolve_database_url

        conn = connect(resolve_database_url(settings, notify=notify))
    try:
        source = _catalog(settings, request, conn, notify)
        catalog = source.catalog
        window: float | None = None
        if request.from_stats and conn is not None:
            window = _from_stats(conn, request.stats_limit, collected) or None
        fingerprints: set[str] = set()

        def patterns() -> Iterator[AccessPattern]:
            # advise() consumes the patterns as the workers produce them.
            for pattern in analyze_iter(collected.statements, catalog):
                fingerprints.add(pattern.statement.fingerprint)
                yield pattern

        auto = request.validate is None and source.name == "database"
        validating = conn is not None and (request.validate is True or auto)
        options = replace(request.options, alternatives=validating)
        advice: Advice = advise(
            patterns(),
            catalog,
            statistics=source.statistics,
            options=options,
            context=source.context,
        )
        if validating:
            from dbctl.advise.whatif import validate

            assert conn is not None
            advice = validate(
                advice,
                conn,
                min_savings=request.min_savings,
                max_indexes=options.max_indexes,
                max_size=options.max_size,
                window_seconds=window,
            )
    finally:
        if conn is not None:
            conn.close()

    findings = advice.findings()
    if not collected.statements:
        findings.append(_note("no-statements", "the input holds no statements to analyse"))
    for reason, count in collected.skipped.items():
        findings.append(_note("skipped-input", f"{count} skipped: {reason}"))
    result = CheckResult(
        findings=findings,
        summary={
            "statements": len(collected.statements),
            "distinct": len(fingerprints),
            "suggestions": len(advice.suggestions),
        },
        data={"catalog": source.name, **advice.data()},
    )
    if request.write_migration and advice.suggestions:
        from dbctl.advise.migration import model_indexes, write_migration

        result.migration = write_migration(advice, settings)
        result.model_lines = [f"{m.table}: {m.code}" for m in model_indexes(advice)]
    return result


def statement_advisor(
    settings: Settings, url: str
) -> Callable[[list[Any]], dict[int, list[Finding]]]:
    """The ``--advise`` hook of top-queries: each listed statement's index findings.

    Takes pg_stat_statements rows (``queryid``, ``query``); analyses them against the live
    catalog and its statistics, and maps every ``missing-index`` and ``unservable-predicate``
    finding back to the statements it concerns; a statement it cannot analyse gets its
    ``parse-error`` as an info note (the listing is the point of the command, not the advice).
    """

    def advise_rows(rows: list[Any]) -> dict[int, list[Finding]]:
        from dbctl.access.analyze import analyze
        from dbctl.advise.advisor import advise
        from dbctl.advise.model import missing_index
        from dbctl.pg.catalog_loader import load_catalog
        from dbctl.pg.connect import connect
        from dbctl.pg.stats import load_statistics

        statements = [
            Statement(row.query, "pg_stat_statements", queryid=row.queryid)
            for row in rows
            if row.queryid is not None and row.query
        ]
        with connect(url) as conn:
            catalog = load_catalog(conn)
            statistics = load_statistics(conn, list(catalog.tables))
        advice = advise(analyze(statements, catalog), catalog, statistics=statistics)
        found: dict[int, list[Finding]] = {}
        for suggestion in advice.suggestions:
            finding = missing_index(suggestion)
            for statement in suggestion.statements:
                if statement.queryid is not None:
                    found.setdefault(statement.queryid, []).append(finding)
        for note in advice.notes:
            if note.queryid is None:
                continue
            if note.rule == "unservable-predicate":
                found.setdefault(note.queryid, []).append(note)
            elif note.rule == "parse-error":
                # The listing stands without the advice: said, not a failure of the gate.
                found.setdefault(note.queryid, []).append(replace(note, severity=Severity.info))
        return found

    return advise_rows


__all__ = [
    "CheckRequest",
    "CheckResult",
    "check_indexes",
    "statement_advisor",
]
