"""One function per command, in the manner of Alembic's ``command.py``: settings and the
command's own options in, a ``Report`` out (findings, summary, data, the command's text
lines and its notes). Nothing here prints, parses a command line or exits: ``dbctl.cli``
parses, calls one of these, renders the report (``dbctl.render``, by command) and exits
with its code. Tests and scripts call the same functions.

``notify`` receives progress lines as they happen (a sandbox started, a revision applied);
the report's ``notes`` are the ones said at the end (what was skipped, left out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from dbctl.lifecycle.user_code import progress_off
from dbctl.report import FailOn, Report

if TYPE_CHECKING:
    from dbctl.advise.check import CheckRequest
    from dbctl.budget.endpoints import BudgetRules, TimeWindow
    from dbctl.config import Settings
    from dbctl.lint.lint import LintRequest, LintResult
    from dbctl.stats.top import TopOptions

Notify = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default ``notify``: progress goes nowhere."""


def _check_project(settings: Settings) -> None:
    from dbctl.lifecycle.alembic_project import check_project

    check_project(settings)


def _database(settings: Settings, notify: Notify) -> str:
    from dbctl.pg.connect import resolve_database_url

    return resolve_database_url(settings, notify=notify)


# -- sandbox ------------------------------------------------------------------------------


def sandbox_start(settings: Settings, *, notify: Notify = _quiet) -> Report:
    from dbctl.pg.sandbox import Sandbox

    status = Sandbox(settings.state_path).start(notify=notify)
    verb = "started" if status.started else "already running"
    text = (f"sandbox {verb}: {status.url}", f"data: {status.data_dir}")
    return Report.of("sandbox start", (), data=status.as_dict(), text=text)


def sandbox_stop(settings: Settings, *, destroy: bool = False) -> Report:
    from dbctl.pg.sandbox import Sandbox

    was_running = Sandbox(settings.state_path).stop(destroy=destroy)
    text = ["sandbox stopped" if was_running else "sandbox was not running"]
    if destroy:
        text.append("sandbox data deleted")
    return Report.of("sandbox stop", (), data={"was_running": was_running}, text=text)


def sandbox_status(settings: Settings) -> Report:
    from dbctl.pg.sandbox import Sandbox

    status = Sandbox(settings.state_path).status()
    text = [f"running:    {'yes' if status.running else 'no'}"]
    if status.running:
        extensions = ", ".join(f"{n} {v}" for n, v in sorted(status.extensions.items()))
        text += [
            f"url:        {status.url}",
            f"version:    {status.version}",
            f"pid:        {status.pid}",
            f"extensions: {extensions}",
        ]
    text += [
        f"data:       {status.data_dir}",
        f"log:        {status.log_file}",
        f"state:      {status.state_dir}",
    ]
    return Report.of("sandbox status", (), data=status.as_dict(), text=text)


def sandbox_url(settings: Settings) -> Report:
    from dbctl.errors import SandboxError
    from dbctl.pg.sandbox import Sandbox

    url = Sandbox(settings.state_path).url()
    if url is None:
        raise SandboxError("the sandbox is not running: start it with 'dbctl sandbox start'")
    return Report.of("sandbox url", (), data={"url": url}, text=(url,))


# -- migrate ------------------------------------------------------------------------------


def migrate(settings: Settings, *, revision: str = "head", notify: Notify = _quiet) -> Report:
    """Upgrade to ``revision``: the project is checked before any sandbox is started."""
    from dbctl.lifecycle.migrate import upgrade
    from dbctl.pg.url import redact

    _check_project(settings)
    url = _database(settings, notify)
    result = upgrade(settings, url, revision=revision, notify=notify)
    where = ", ".join(result.after) or "base"
    if result.applied:
        line = f"migrated {redact(url)} to {where} ({len(result.applied)} applied)"
    else:
        line = f"{redact(url)} is already at {where}"
    data = {"applied": list(result.applied), "at": list(result.after)}
    return Report.of("migrate", (), data=data, text=(line,))


def migrate_status(
    settings: Settings, *, fail_on: FailOn = FailOn.error, notify: Notify = _quiet
) -> Report:
    from dbctl.lifecycle.status import migration_status

    _check_project(settings)
    status = migration_status(settings, _database(settings, notify))
    text = (
        f"current: {', '.join(status.current) or 'base (empty)'}",
        f"heads:   {', '.join(status.heads) or 'none'}",
        f"pending: {', '.join(status.pending) or 'none'}",
    )
    return Report.of(
        "migrate status", status.findings, fail_on=fail_on, data=status.as_data(), text=text
    )


def migrate_history(settings: Settings) -> Report:
    from dbctl.lifecycle.status import revision_history

    revisions = revision_history(settings)
    text = []
    for rev in revisions:
        down = ", ".join(rev.down_revisions) or "<base>"
        marks = [
            mark
            for mark, on in (
                ("head", rev.is_head),
                ("merge", rev.is_merge),
                ("branchpoint", rev.is_branch_point),
                ("autocommit", rev.autocommit),
            )
            if on
        ]
        suffix = f" ({', '.join(marks)})" if marks else ""
        text.append(f"{down} -> {rev.revision}{suffix}, {rev.message}")
    data = {"revisions": [rev.as_dict() for rev in revisions]}
    return Report.of("migrate history", (), data=data, text=text)


def migrate_down(settings: Settings, *, revision: str, notify: Notify = _quiet) -> Report:
    from dbctl.lifecycle.migrate import downgrade
    from dbctl.pg.url import redact

    _check_project(settings)
    url = _database(settings, notify)
    result = downgrade(settings, url, revision=revision, notify=notify)
    where = ", ".join(result.after) or "base"
    line = f"downgraded {redact(url)} to {where} ({len(result.applied)} reverted)"
    data = {"reverted": list(result.applied), "at": list(result.after)}
    return Report.of("migrate down", (), data=data, text=(line,))


def migrate_sql(settings: Settings, *, start: str | None = None, end: str = "head") -> Report:
    from dbctl.lifecycle.migrate import offline_sql

    sql = offline_sql(settings, start=start, end=end)
    return Report.of("migrate sql", (), data={"sql": sql}, text=(sql,))


# -- verify-schema ------------------------------------------------------------------------


def verify_schema(
    settings: Settings,
    *,
    live: bool = False,
    fail_on: FailOn = FailOn.error,
    notify: Notify = _quiet,
) -> Report:
    from dbctl.lifecycle import verify

    _check_project(settings)
    url = _database(settings, notify)
    check = verify.verify_live if live else verify.verify_schema
    with progress_off():
        result = check(settings, url, notify=notify)
    command = "verify-schema --live" if live else "verify-schema"
    return Report.of(command, result.findings, fail_on=fail_on, data=result.data())


def lint_migrations(
    settings: Settings,
    request: LintRequest,
    *,
    fail_on: FailOn = FailOn.error,
    notify: Notify = _quiet,
) -> Report:
    from dbctl.lint.lint import lint_migrations as run

    _check_project(settings)
    with progress_off():
        result = run(settings, request, notify=notify)
    notes = list(result.notes)
    if request.offline and result.revisions:  # else a note of lint says why, if unmeasured
        notes.append("rules only (--offline): locks and rewrites not measured")
        narrowed = request.start or request.git_base or settings.lint_from
        if settings.database_url and not narrowed:
            notes.append(
                "--offline reads no database, so not which revisions it has applied: every "
                "revision linted (lint_from, --from or --git-base narrow it)"
            )
    if result.ignored:
        notes.append(f"{len(result.ignored)} finding(s) ignored by # dbctl: ignore[...]")
    return Report.of(
        "lint-migrations",
        result.findings,
        fail_on=fail_on,
        summary=result.summary(),
        data=result.data(),
        text=_lint_lines(result) if result.measured else (),
        notes=notes,
    )


def _lint_lines(result: LintResult) -> list[str]:
    """What each revision held on the tables that existed before it, as measured: one
    line per lock mode, its tables, what it blocks, or why it was not measured; wrapped at
    80 columns."""
    import textwrap

    revisions, locks = result.revisions, result.locks
    unmeasured = len([r for r in revisions if r not in locks])
    lines = [
        f"{len(revisions)} revision(s), each applied in a shadow database; locks held:"
        if not unmeasured
        else f"{len(revisions)} revision(s), {len(revisions) - unmeasured} measured in a "
        "shadow database; locks held:"
    ]
    for revision in revisions:
        held = locks.get(revision)
        if revision in result.failed:
            lines.append(f"  {revision}: failed in the shadow (see its finding)")
            continue
        if held is None:
            why = result.unmeasured.get(revision, "")
            lines += textwrap.wrap(
                f"{revision}: not measured ({why})", 80, initial_indent="  ",
                subsequent_indent="      ", break_long_words=False, break_on_hyphens=False,
            )  # fmt: skip
            continue
        if not held:
            lines.append(f"  {revision}: none on a table that existed before it")
            continue
        lines.append(f"  {revision}:")
        by_mode: dict[str, list[dict[str, Any]]] = {}
        for lock in held:
            by_mode.setdefault(lock["mode"], []).append(lock)
        for mode, same in by_mode.items():
            blocks = same[0]["blocks"] or "no reads or writes"
            text = f"{mode} (blocks {blocks}) on {', '.join(lock['table'] for lock in same)}"
            lines += textwrap.wrap(
                text, 80, initial_indent="    ", subsequent_indent="      ",
                break_long_words=False, break_on_hyphens=False,
            )  # fmt: skip
    return lines


# -- check-indexes, top-queries, query-budget ---------------------------------------------


def check_indexes(
    settings: Settings,
    request: CheckRequest,
    *,
    fail_on: FailOn = FailOn.error,
    stdin: TextIO | None = None,
    notify: Notify = _quiet,
) -> Report:
    from dbctl.advise.check import check_indexes as run

    result = run(settings, request, stdin=stdin, notify=notify)
    notes = []
    if result.migration is not None:
        notes.append(f"wrote {result.migration}; declare the indexes in the models too:")
        notes += [f"  {line}" for line in result.model_lines]
    return Report.of(
        "check-indexes",
        result.findings,
        fail_on=fail_on,
        summary=result.summary,
        data=result.data,
        notes=notes,
    )


def top_queries(
    settings: Settings,
    options: TopOptions,
    *,
    advise: bool = False,
    fail_on: FailOn = FailOn.error,
    confirm_reset: Callable[[str], None] | None = None,
    notify: Notify = _quiet,
) -> Report:
    """``confirm_reset(url)`` is asked before ``options.reset`` resets the statistics (it
    raises to refuse)."""
    from dbctl.advise.check import statement_advisor
    from dbctl.stats.top import top_queries as run

    url = _database(settings, notify)
    if advise:
        options = replace(options, advise=statement_advisor(settings, url))
    if options.reset and confirm_reset is not None:
        confirm_reset(url)
    result = run(settings, url, options)
    report = result.report(fail_on)
    return replace(report, notes=tuple(f"note: {note}" for note in result.notes))


def query_budget(
    settings: Settings,
    paths: Sequence[str],
    rules: BudgetRules,
    *,
    window: TimeWindow | None = None,
    fail_on: FailOn = FailOn.error,
    stdin: BinaryIO | None = None,
) -> Report:
    from dbctl.budget.endpoints import query_budget as run
    from dbctl.budget.endpoints import unmatched_routes

    result, skipped, left = run(paths, rules, stdin=stdin, window=window)
    notes = [f"note: skipped {count} {reason}" for reason, count in skipped.items()]
    if left:
        notes.append("note: left out " + ", ".join(f"{n} {reason}" for reason, n in left.items()))
    notes += [
        f"note: --route-budget {key!r} matched no endpoint of the log"
        for key in unmatched_routes(result, rules)
    ]
    endpoints: list[dict[str, Any]] = [endpoint.as_dict() for endpoint in result.endpoints]
    summary = {
        "requests": result.requests,
        "endpoints": len(endpoints),
        "over_budget": sum(row["over_budget"] for row in endpoints),
        "looped": sum(len(row["looped"]) for row in endpoints),
        "skipped_lines": sum(skipped.values()),
        "outside_window": sum(left.values()),
        "latency_slo_ms": rules.latency_slo_ms,
    }
    return Report.of(
        "query-budget",
        result.findings,
        fail_on=fail_on,
        summary=summary,
        data={"endpoints": endpoints},
        notes=notes,
    )
