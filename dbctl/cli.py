"""The dbctl command line: thin commands over the library functions.

Each command parses its options, resolves the settings, calls one library function,
renders the result and chooses the exit code. Heavy libraries (SQLAlchemy, Alembic,
sqlglot, psycopg) are imported inside the commands, so ``dbctl --help`` starts fast.
Errors are handled in one place, ``_Group.invoke``: a ``DbctlError`` prints
``error: <message>`` on stderr and exits with the error's code.
"""

from __future__ import annotations

import os
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from dbctl import __version__
from dbctl.errors import DbctlError
from dbctl.pg.url import redact, scrub
from dbctl.render import Format, render
from dbctl.render.escape import printable
from dbctl.report import FailOn, Report


class _Group(TyperGroup):
    """The root group: the one place that turns a ``DbctlError`` into its exit code, and
    anything unforeseen into one line and exit 2 (never 1: a gate would read findings)."""

    def main(self, args: Any = None, *rest: Any, **options: Any) -> Any:
        """``--traceback`` is a root option, but errors say "run again with --traceback"
        and users add it at the end: taken from anywhere before a ``--``."""
        arguments = list(sys.argv[1:] if args is None else args)
        end = arguments.index("--") if "--" in arguments else len(arguments)
        if "--traceback" in arguments[:end]:
            arguments.remove("--traceback")
            arguments.insert(0, "--traceback")
        _metavars(self)
        return super().main(arguments, *rest, **options)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        from typer.exceptions import Abort, Exit, TyperException

        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _closed_output()
        except DbctlError as exc:
            if ctx.params.get("traceback"):
                traceback.print_exc()  # the trace, and the same exit code as without it
            else:
                typer.echo(f"error: {printable(scrub(str(exc)))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if _usage_error(exc):  # click's: it quotes stray arguments (a URL) as given
                exc.message = scrub(exc.message)  # type: ignore[attr-defined]
                raise
            if isinstance(exc, (TyperException, Exit, Abort)):  # --help, exits: typer's own
                raise
            if ctx.params.get("traceback"):
                traceback.print_exc()
                raise typer.Exit(2) from None
            detail = printable(scrub(" ".join(str(exc).split()))) or "no detail"
            typer.echo(
                f"error: unexpected {type(exc).__name__}: {detail} (a dbctl bug: run again "
                "with --traceback and report it)",
                err=True,
            )
            raise typer.Exit(2) from None


# The value each option takes, as --help shows it (typer would print Python's type names:
# <str>, <list[Path]>, <bool> for a flag).
_VALUES = {
    "database_url": "URL", "migrations": "DIR", "baseline": "MODULE:ATTR", "to": "REV",
    "lock_wait": "SECONDS", "lock_timeout": "DURATION", "statement_timeout": "DURATION",
    "schema": "DDL_FILE", "from_log": "LOG", "min_savings": "FRACTION", "output": "FORMAT",
    "fail_on": "LEVEL", "dir": "DIR", "port": "PORT", "slo_ms": "MS", "latency_slo_ms": "MS",
    "revision": "REV", "paths": "SQL_FILE",
}  # fmt: skip


def _metavars(command: Any) -> None:
    """Plain names for every option's value (``URL``, ``N``, ``PATH``...), none for a flag
    (``--help`` too), an argument's name without a type, on ``command`` and its
    subcommands."""
    from typing import get_args

    for param in command.params:
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # its name says it all
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
            continue
        desc = param.type_descriptor
        inner = [a for a in get_args(desc.annotation) if a is not type(None)]
        base = inner[0] if inner else desc.annotation
        base = (get_args(base) or (base,))[0] if desc.is_list else base
        if desc.is_choice and desc.choices:
            name = "|".join(str(getattr(c, "value", c)) for c in desc.choices)
        elif param.name in _VALUES:
            name = _VALUES[param.name]
        elif base is int:
            name = "N"
        elif base is float:
            name = "NUMBER"
        elif desc.is_path:
            name = "PATH"
        else:
            name = (param.name or "value").upper()
        param.metavar = name  # an argument's "..." is added by the usage line
    if not hasattr(command, "_dbctl_help"):  # --help, made per context: a flag, no value
        made = command.get_help_option

        def help_option(ctx: Any, made: Any = made) -> Any:
            option = made(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = help_option
        command._dbctl_help = True
    for sub in getattr(command, "commands", {}).values():
        if sub.short_help is None and sub.help:  # the list of commands: one paragraph, joined
            sub.short_help = " ".join(sub.help.split("\n\n")[0].split())
        _metavars(sub)


CLOSED_OUTPUT = 141  # 128 + SIGPIPE: what a Unix tool's exit looks like after `| head`


def _closed_output() -> NoReturn:
    """The reader went away (``dbctl top-queries | head``): stop quietly, as SIGPIPE would
    stop a Unix tool, with nothing more written to the closed pipe (nor at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(CLOSED_OUTPUT)


def _table_rows(values: list[str]) -> dict[str, int]:
    """``--rows TABLE=N`` (repeatable) as a mapping; a bad one is a usage error (exit 2)."""
    from dbctl.config import parse_table_rows

    try:
        return dict(parse_table_rows(",".join(values))) if values else {}
    except (ValueError, TypeError):
        raise typer.BadParameter(
            f"expected TABLE=N with N a whole number >= 0, got {', '.join(values)!r}",
            param_hint="--rows",
        ) from None


def _size(value: str | None) -> int | None:
    """``--max-size 500MB`` in bytes; a bad one is a usage error (exit 2)."""
    from dbctl.config import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected a size such as 500MB, 2GB or 100kB, got {value!r}", param_hint="--max-size"
        ) from None


def _usage_error(exc: BaseException) -> bool:
    """A click ``ClickException`` (typer may vendor click: matched by class name)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "ClickException" in names and isinstance(getattr(exc, "message", None), str)


app = typer.Typer(
    cls=_Group,
    help="dbctl: migrate, verify and tune the PostgreSQL database behind a Python service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
sandbox_app = typer.Typer(
    help="A throwaway local PostgreSQL that dbctl starts itself.", no_args_is_help=True
)
migrate_app = typer.Typer(
    help="Alembic migrations under dbctl's session settings.\n\n"
    "Example: dbctl migrate --database-url postgresql://app@db/app",
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(migrate_app, name="migrate")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


# Bounds of numeric options: a number past them is a typo, and a usage error (exit 2).
MAX_BUDGET = 1_000_000  # statements per request: --max and --route-budget
MAX_LIMIT = 1_000_000  # statements listed or read from pg_stat_statements (--limit)
MAX_SLO_MS = 86_400_000.0  # one day

# Reusable option types, defined once.
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DBCTL_DATABASE_URL",
        help="PostgreSQL URL or libpq keyword string (else DATABASE_URL, else the sandbox).",
        show_default=False,
    ),
]
MigrationsDir = Annotated[
    Path | None,
    typer.Option("--migrations", help="Folder of the Alembic env.py and versions/."),
]
Baseline = Annotated[
    str | None,
    typer.Option(
        "--baseline",
        metavar="MODULE:ATTR",
        help="What creates the schema the first revision starts from (a function taking a "
        "SQLAlchemy Connection, or a MetaData), run on an empty database only.",
        show_default=False,
    ),
]
StateDir = Annotated[
    Path | None,
    typer.Option("--dir", help="State directory of the sandbox (default: .dbctl/ in the project)."),
]
Format_ = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


def _settings(**overrides: Any) -> Any:
    from dbctl.config import load_settings

    return load_settings(overrides)


def _note(message: str) -> None:
    typer.echo(printable(message), err=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dbctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the traceback of an error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """dbctl: migrate, verify and tune the PostgreSQL database behind a Python service."""


# -- sandbox ------------------------------------------------------------------------------


@sandbox_app.command("start")
def sandbox_start(state_dir: StateDir = None) -> None:
    """Start the sandbox (creating it on first use); report it if it already runs.

    Example: dbctl sandbox start && export DATABASE_URL=$(dbctl sandbox url)
    """
    from dbctl import commands

    _finish(commands.sandbox_start(_settings(state_dir=state_dir), notify=_note))


@sandbox_app.command("stop")
def sandbox_stop(
    state_dir: StateDir = None,
    destroy: Annotated[bool, typer.Option("--destroy", help="Also delete its data.")] = False,
) -> None:
    """Stop the sandbox. Example: dbctl sandbox stop --destroy"""
    from dbctl import commands

    _finish(commands.sandbox_stop(_settings(state_dir=state_dir), destroy=destroy))


@sandbox_app.command("status")
def sandbox_status(state_dir: StateDir = None, output: Format_ = OutputFormat.text) -> None:
    """Whether the sandbox runs, where its data lives, which extensions are on.

    Example: dbctl sandbox status --format json
    """
    from dbctl import commands

    _finish(commands.sandbox_status(_settings(state_dir=state_dir)), Format(output.value))


@sandbox_app.command("url")
def sandbox_url(state_dir: StateDir = None) -> None:
    """Print the SQLAlchemy/psycopg URL of the running sandbox.

    Example: export DATABASE_URL=$(dbctl sandbox url)
    """
    from dbctl import commands

    _finish(commands.sandbox_url(_settings(state_dir=state_dir)))


# -- migrate ------------------------------------------------------------------------------


class Pooler(StrEnum):
    none = "none"
    transaction = "transaction"


LockWait = Annotated[
    float | None,
    typer.Option("--lock-wait", help="Seconds to wait for another migration's lock.", min=0),
]
LockTimeout = Annotated[
    str | None,
    typer.Option("--lock-timeout", help="lock_timeout of migration statements (default 5s)."),
]
StatementTimeout = Annotated[
    str | None,
    typer.Option("--statement-timeout", help="statement_timeout of migration statements."),
]
FailOnOption = Annotated[
    FailOn, typer.Option("--fail-on", help="Lowest severity that fails the gate.")
]
ReportFormat = Annotated[Format, typer.Option("--format", help="Output format.")]


def _finish(report: Report, output: Format = Format.text) -> NoReturn:
    """The one place a command's report is rendered (by command and format: ``render``)
    and its exit code given: its notes on stderr, the report on stdout."""
    for note in report.notes:
        _note(note)
    render(report, output, sys.stdout)
    raise typer.Exit(report.exit_code)


@migrate_app.callback(invoke_without_command=True)
def migrate(
    ctx: typer.Context,
    database_url: DatabaseUrl = None,
    migrations: MigrationsDir = None,
    to: Annotated[str, typer.Option("--to", help="Target revision.")] = "head",
    lock_wait: LockWait = None,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    baseline: Baseline = None,
    pooler: Annotated[
        Pooler | None,
        typer.Option(
            "--pooler",
            help="transaction: through a transaction-mode pooler (PgBouncer), a lock and "
            "the timeouts per revision's transaction.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Upgrade the database to head (or --to REV), one revision per transaction, under an
    advisory lock and with lock and statement timeouts.

    Behind a transaction-mode pooler the session's lock would not hold: migrate says so
    and stops, unless --pooler transaction.

    Example: dbctl migrate --database-url postgresql://app@localhost/app --lock-wait 120
    """
    ctx.obj = {
        "database_url": database_url,
        "migrations": migrations,
        "pooler": pooler.value if pooler is not None else None,
    }
    if ctx.invoked_subcommand is not None:
        return
    from dbctl import commands

    settings = _settings(
        database_url=database_url,
        migrations=migrations,
        lock_wait=lock_wait,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        baseline=baseline,
        pooler=pooler.value if pooler is not None else None,
    )
    _finish(commands.migrate(settings, revision=to, notify=_note))


def _parent_settings(ctx: typer.Context, **overrides: Any) -> Any:
    inherited = {k: v for k, v in (ctx.obj or {}).items() if v is not None}
    return _settings(**{**inherited, **{k: v for k, v in overrides.items() if v is not None}})


@migrate_app.command("status")
def migrate_status(
    ctx: typer.Context,
    database_url: DatabaseUrl = None,
    migrations: MigrationsDir = None,
    output: ReportFormat = Format.text,
    fail_on: FailOnOption = FailOn.error,
) -> None:
    """Current and head revisions, pending revisions, checksum mismatches, INVALID indexes.

    Example: dbctl migrate status --format json --fail-on warning
    """
    from dbctl import commands

    settings = _parent_settings(ctx, database_url=database_url, migrations=migrations)
    _finish(commands.migrate_status(settings, fail_on=fail_on, notify=_note), output)


@migrate_app.command("history")
def migrate_history(
    ctx: typer.Context,
    migrations: MigrationsDir = None,
    output: Format_ = OutputFormat.text,
) -> None:
    """The revision graph, newest first; needs no database.

    Example: dbctl migrate history --format json
    """
    from dbctl import commands

    settings = _parent_settings(ctx, migrations=migrations)
    _finish(commands.migrate_history(settings), Format(output.value))


@migrate_app.command("down")
def migrate_down(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="Target revision, or 'base'.")],
    database_url: DatabaseUrl = None,
    migrations: MigrationsDir = None,
    lock_wait: LockWait = None,
) -> None:
    """Downgrade the database to --to REV (or base), under the migration lock.

    Example: dbctl migrate down --to 0001
    """
    from dbctl import commands

    settings = _parent_settings(
        ctx, database_url=database_url, migrations=migrations, lock_wait=lock_wait
    )
    _finish(commands.migrate_down(settings, revision=to, notify=_note))


@migrate_app.command("sql")
def migrate_sql(
    ctx: typer.Context,
    migrations: MigrationsDir = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start revision (default: base).")
    ] = None,
    end: Annotated[str, typer.Option("--to", help="End revision.")] = "head",
) -> None:
    """Print the SQL of an upgrade without a database (Alembic's offline mode).

    Example: dbctl migrate sql --from 0001 --to head > upgrade.sql
    """
    from dbctl import commands

    settings = _parent_settings(ctx, migrations=migrations)
    _finish(commands.migrate_sql(settings, start=start, end=end))


ModelsOption = Annotated[
    str | None,
    typer.Option("--models", help="SQLAlchemy MetaData of the models, as module:attr."),
]


@app.command("verify-schema")
def verify_schema(
    database_url: DatabaseUrl = None,
    migrations: MigrationsDir = None,
    models: ModelsOption = None,
    live: Annotated[
        bool, typer.Option("--live", help="Check the database at --database-url, read-only.")
    ] = False,
    baseline: Baseline = None,
    strict_names: Annotated[
        bool | None,
        typer.Option(
            "--strict-names",
            help="Also report name-only drift of constraints and indexes the models leave unnamed.",
            show_default=False,
        ),
    ] = None,
    output: ReportFormat = Format.text,
    fail_on: FailOnOption = FailOn.error,
) -> None:
    """Migrations from empty, idempotent, round trip; drift from the models; schema rules.

    Runs on a temporary shadow database (on the sandbox, or on the server of
    --database-url, dropped afterwards). With --live, checks that database itself instead.

    Example: dbctl verify-schema --format sarif > verify.sarif
    """
    from dbctl import commands

    settings = _settings(
        database_url=database_url,
        migrations=migrations,
        models=models,
        baseline=baseline,
        drift_strict_names=strict_names,
    )
    _finish(commands.verify_schema(settings, live=live, fail_on=fail_on, notify=_note), output)


@app.command("lint-migrations")
def lint_migrations(
    database_url: DatabaseUrl = None,
    migrations: MigrationsDir = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Lint the revisions after REV (as Alembic's REV:).", metavar="REV"
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Lint up to REV (default: head).", metavar="REV"),
    ] = None,
    git_base: Annotated[
        str | None,
        typer.Option(
            "--git-base",
            help="Lint the revisions whose files changed against this git revision.",
            metavar="REV",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Rules only: no database, locks and rewrites not measured."),
    ] = False,
    sample_rows: Annotated[
        int,
        typer.Option(
            "--sample-rows",
            help="Rows per table copied from --database-url into the shadow (0: none).",
            min=0,
            metavar="N",
        ),
    ] = 10_000,
    baseline: Baseline = None,
    output: ReportFormat = Format.text,
    fail_on: FailOnOption = FailOn.error,
) -> None:
    """The locks and rewrites each revision takes, measured, and its SQL's hazards.

    Lints --from/--to, else the revisions changed against --git-base, else
    those --database-url has not applied, else all; each applied in a shadow
    database (on the server of --database-url, or the sandbox) after the
    revisions before it.

    To accept a finding, in the revision: # dbctl: ignore\\[rule] reason

    Example: dbctl lint-migrations --database-url "$DATABASE_URL" --format github
    """
    from dbctl import commands
    from dbctl.lint.lint import LintRequest

    settings = _settings(database_url=database_url, migrations=migrations, baseline=baseline)
    request = LintRequest(
        start=start, end=end, git_base=git_base, offline=offline, sample_rows=sample_rows
    )
    _finish(commands.lint_migrations(settings, request, fail_on=fail_on, notify=_note), output)


@app.command("check-indexes")
def check_indexes(
    paths: Annotated[
        list[str] | None, typer.Argument(help="SQL files of statements; - reads stdin.")
    ] = None,
    database_url: DatabaseUrl = None,
    models: ModelsOption = None,
    schema: Annotated[
        list[Path] | None, typer.Option("--schema", help="DDL file(s) of the schema.")
    ] = None,
    from_stats: Annotated[
        bool, typer.Option("--from-stats", help="The top statements of pg_stat_statements.")
    ] = False,
    stats_limit: Annotated[
        int,
        typer.Option(
            "--limit",
            min=1,
            max=MAX_LIMIT,
            help="With --from-stats: the N costliest statements (total time), as top-queries.",
        ),
    ] = 100,
    from_log: Annotated[
        list[str] | None, typer.Option("--from-log", help="A JSON-lines capture log.")
    ] = None,
    validate: Annotated[
        bool | None,
        typer.Option(
            "--validate/--no-validate",
            help="Price the advice with HypoPG (default: on a live database that has it).",
        ),
    ] = None,
    min_savings: Annotated[
        float, typer.Option("--min-savings", min=0, max=1, help="Least cost cut to keep one.")
    ] = 0.30,
    write_migration: Annotated[
        bool, typer.Option("--write-migration", help="Write an Alembic revision.")
    ] = False,
    max_columns: Annotated[
        int, typer.Option("--max-columns", min=1, max=32, help="Widest index suggested.")
    ] = 3,
    min_rows: Annotated[
        int, typer.Option("--min-rows", min=0, help="Tables with fewer rows get no index.")
    ] = 1000,
    rows: Annotated[
        list[str] | None,
        typer.Option(
            "--rows",
            metavar="TABLE=N",
            help="A table's row count, where no statistics say it (repeatable).",
        ),
    ] = None,
    max_indexes: Annotated[
        int | None,
        typer.Option(
            "--max-indexes", min=1, help="With --validate: suggest at most this many indexes."
        ),
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option(
            "--max-size",
            metavar="SIZE",
            help="With --validate: new indexes' total size at most this (500MB, 2GB).",
        ),
    ] = None,
    output: ReportFormat = Format.text,
    fail_on: FailOnOption = FailOn.error,
) -> None:
    """Joins, filters and sorts of real statements that no index serves, with the index
    that would (missing-index), from SQL files, pg_stat_statements or a capture log.

    Example: dbctl check-indexes queries/*.sql --database-url $DATABASE_URL --validate
    """
    from dbctl import commands
    from dbctl.advise.check import CheckRequest
    from dbctl.advise.model import AdviceOptions

    settings = _settings(database_url=database_url, models=models)
    request = CheckRequest(
        paths=tuple(paths or ()),
        logs=tuple(from_log or ()),
        from_stats=from_stats,
        stats_limit=stats_limit,
        schema_files=tuple(str(p) for p in schema or ()),
        validate=validate,
        min_savings=min_savings,
        write_migration=write_migration,
        options=AdviceOptions(
            max_columns=max_columns,
            min_rows=min_rows,
            table_rows={**settings.table_rows, **_table_rows(rows or [])},
            max_indexes=max_indexes,
            max_size=_size(max_size),
        ),
    )
    report = commands.check_indexes(
        settings, request, fail_on=fail_on, stdin=sys.stdin, notify=_note
    )
    _finish(report, output)


@app.command("top-queries")
def top_queries(
    database_url: DatabaseUrl = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            metavar="total|mean|calls|rows|io",
            help="Order by total time, mean time, calls, rows or I/O time.",
        ),
    ] = "total",
    limit: Annotated[
        int,
        typer.Option(
            "--limit", min=1, max=MAX_LIMIT, help="The N costliest statements to list (by --sort)."
        ),
    ] = 20,
    min_calls: Annotated[
        int, typer.Option("--min-calls", min=0, help="Leave out statements called less.")
    ] = 0,
    all_levels: Annotated[
        bool, typer.Option("--all-levels", help="Include statements nested in functions.")
    ] = False,
    slo_ms: Annotated[
        float | None, typer.Option("--slo-ms", help="The DB objective, in ms (default 3).")
    ] = None,
    save: Annotated[
        str | None, typer.Option("--save", metavar="NAME", help="Save a snapshot.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="NAME|WHEN",
            help="The window since that snapshot, or since the newest one saved by then "
            "(ISO 8601, or 30m, 2h, 1d ago).",
        ),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Then reset this database's statistics.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Reset without asking.")] = False,
    advise: Annotated[
        bool, typer.Option("--advise", help="Show each statement's index advice.")
    ] = False,
    output: ReportFormat = Format.text,
    fail_on: FailOnOption = FailOn.error,
) -> None:
    """The costliest statements from pg_stat_statements, held to the DB objective: a mean
    above --slo-ms is an slo-breach error. --save NAME and --since NAME give the window
    since a snapshot, without resetting anything.

    Example: dbctl top-queries --sort mean --limit 10 --since deploy --fail-on error
    """
    from dbctl import commands
    from dbctl.errors import ConfigError
    from dbctl.stats.top import TopOptions

    settings = _settings(database_url=database_url, slo_ms=slo_ms)
    # The options hold before a sandbox is started (--sort bogus is exit 2 with nothing run)
    options = TopOptions(sort, limit, min_calls, all_levels, save, since, reset)

    def confirm(url: str) -> None:
        if yes:
            return
        try:
            typer.confirm(f"Reset pg_stat_statements of {redact(url)}?", abort=True, err=True)
        except typer.Abort:
            raise ConfigError("--reset not confirmed: nothing was done (or pass --yes)") from None

    report = commands.top_queries(
        settings, options, advise=advise, fail_on=fail_on, confirm_reset=confirm, notify=_note
    )
    _finish(report, output)


def _route_budgets(values: list[str]) -> dict[str, int]:
    from dbctl.errors import ConfigError

    budgets: dict[str, int] = {}
    for value in values:
        route, _, number = value.rpartition("=")
        number = number.strip()
        if not route.strip() or not (number.isascii() and number.isdigit()):
            raise ConfigError(
                f"--route-budget {value!r}: give ROUTE=N, e.g. '/reports/{{year}}=8' or "
                "'GET /orders=2'"
            )
        if len(number) > 7 or int(number) > MAX_BUDGET:
            raise ConfigError(f"--route-budget {route!r}: at most {MAX_BUDGET:,} statements")
        words = route.split()
        if len(words) == 2:  # "get /orders": methods are upper case in the log
            words[0] = words[0].upper()
        budgets[" ".join(words)] = int(number)
    return budgets


@app.command("query-budget")
def query_budget(
    logs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="LOG",
            help="JSON-lines capture logs (dbctl.budget.install(log_path=...)); .gz is read; "
            "- or none reads stdin.",
            show_default=False,
        ),
    ] = None,
    max_queries: Annotated[
        int | None,
        typer.Option(
            "--max",
            min=0,
            max=MAX_BUDGET,
            help="Statements allowed per request (default: the budget the app logged, "
            "else [tool.dbctl] query_budget, 3).",
            show_default=False,
        ),
    ] = None,
    route_budget: Annotated[
        list[str] | None,
        typer.Option(
            "--route-budget",
            metavar="ROUTE=N",
            help="A route's own budget ('/reports/{year}=8' or 'GET /orders=2'); repeatable.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN|NAME",
            help="Only requests from then: ISO 8601 (UTC unless it says), 30m, 2h, 1d ago, "
            "or the time a top-queries snapshot was saved (--since deploy).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="WHEN", help="Only requests before then.", show_default=False
        ),
    ] = None,
    latency_slo_ms: Annotated[
        float | None,
        typer.Option(
            "--latency-slo-ms",
            min=0,
            max=MAX_SLO_MS,
            help="The API objective: a p99 above it is an slo-breach warning (default 200).",
            show_default=False,
        ),
    ] = None,
    output: ReportFormat = Format.text,
    fail_on: FailOnOption = FailOn.error,
) -> None:
    """Queries per endpoint from a capture log of real requests: requests, queries per
    request (p50/p95/max), DB time, latency, looped statements. A request over its budget
    is query-budget-exceeded, a statement run 2+ times in one request looped-query.

    Example: dbctl query-budget requests.jsonl --max 3 --format sarif > budget.sarif
    """
    from dbctl import commands
    from dbctl.budget.endpoints import BudgetRules, TimeWindow
    from dbctl.errors import ConfigError
    from dbctl.when import parse_since, parse_when

    settings = _settings()
    paths = list(logs or [])
    if not paths:
        if sys.stdin is None or sys.stdin.isatty():
            raise ConfigError(
                "give the capture log: dbctl query-budget requests.jsonl (or pipe it on stdin)"
            )
        paths = ["-"]
    rules = BudgetRules(
        default=settings.query_budget,
        override=max_queries,
        routes=_route_budgets(route_budget or []),
        latency_slo_ms=settings.latency_slo_ms if latency_slo_ms is None else latency_slo_ms,
    )
    window = TimeWindow(
        parse_since(since, "--since", settings.state_path), parse_when(until, "--until")
    )
    stdin = getattr(sys.stdin, "buffer", None)
    report = commands.query_budget(
        settings, paths, rules, window=window, fail_on=fail_on, stdin=stdin
    )
    _finish(report, output)


def main() -> None:
    """Console entry point."""
    try:
        app()  # exits (SystemExit) with the command's code
    except BrokenPipeError:
        _closed_output()
    finally:
        try:
            sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        except BrokenPipeError:
            _closed_output()


if __name__ == "__main__":
    main()
