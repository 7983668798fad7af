"""``dbctl verify-schema``: the migrations and the models, checked on a shadow database.

On a fresh temporary database (on the sandbox, or on the server of ``--database-url``):

1. single head (``multiple-heads``);
2. upgrade from empty to head, one revision at a time, snapshotting the catalog after each;
3. idempotency: a second upgrade applies nothing and changes nothing
   (``migration-not-idempotent``);
4. drift: the models, as ``create_all`` would lay them out, against the migrated schema
   (``schema-drift``);
5. schema rules on the migrated schema (``dbctl.rules``);
6. round trip: each revision, from the head down, is downgraded (the schema must equal the
   snapshot taken before it was applied) and upgraded again (the schema must equal the
   snapshot taken after it) (``downgrade-mismatch``).

``verify_live`` checks a running database instead, read-only: drift, rules, pending
revisions and checksum mismatches.

Each check's findings stand on their own: a check that cannot run (models that do not
import or cannot be laid out...) is one ``verify-step-failed`` error naming the cause, and
the others still report. What dbctl cannot prove (``Unproven``: the project's code reached
another database, a revision did not land) stops the run at once, exit 2: the next steps
are destructive. The project's code runs under one handoff of the shadow database
(``lifecycle.handoff``), so that whatever env.py, the revisions or the models read, they
get the shadow; the round trip runs only on a database whose name says dbctl created it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dbctl.errors import DbctlError, MigrationFailed, Unproven
from dbctl.lifecycle import drift
from dbctl.lifecycle.alembic_project import (
    alembic_config,
    project_relative,
    require_revisions,
    script_directory,
)
from dbctl.lifecycle.handoff import handed_over
from dbctl.lifecycle.migrate import alembic_upgrade, downgrade, migration_session, upgrade
from dbctl.lifecycle.readback import snapshot
from dbctl.lifecycle.revisions import upgrade_path
from dbctl.lifecycle.status import head_findings, migration_status
from dbctl.pg.shadow import PREFIX as SHADOW_PREFIX
from dbctl.pg.shadow import temporary_database
from dbctl.pg.url import database_name
from dbctl.report import Finding, Location, Severity
from dbctl.rules import RuleContext, run_rules

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from dbctl.config import Settings
    from dbctl.lint.measure import Measured
    from dbctl.schema.catalog import Catalog

Notify = Callable[[str], None]
MAX_DIFFERENCES_SHOWN = 3


@dataclass
class Verification:
    """Findings, and the checks that ran with their durations."""

    findings: list[Finding] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def check(self, name: str, notify: Notify | None) -> Iterator[None]:
        """One check: its findings, its time; a ``DbctlError`` it raises becomes one
        ``verify-step-failed`` finding (``Unproven`` stops the run)."""
        before = len(self.findings)
        started = time.perf_counter()
        failed: DbctlError | None = None
        try:
            yield
        except Unproven:
            raise
        except DbctlError as exc:
            failed = exc
            self.findings.append(
                Finding(
                    rule="verify-step-failed",
                    severity=Severity.error,
                    message=f"{name} could not run: {exc}",
                    evidence={"check": name},
                )
            )
        seconds = round(time.perf_counter() - started, 3)
        found = len(self.findings) - before
        status = "failed" if failed else "findings" if found else "ok"
        self.checks.append({"check": name, "status": status, "findings": found, "seconds": seconds})
        if notify is not None:
            said = {"ok": "ok", "failed": "could not run", "findings": f"{found} findings"}
            notify(f"{name}: {said[status]} ({seconds:.2f}s)")

    def skip(self, names: list[str], reason: str, notify: Notify | None) -> None:
        for name in names:
            self.checks.append(
                {
                    "check": name,
                    "status": "skipped",
                    "findings": 0,
                    "seconds": 0.0,
                    "reason": reason,
                }
            )
            if notify is not None:
                notify(f"{name}: skipped ({reason})")

    def data(self) -> dict[str, Any]:
        return {"checks": self.checks}


def _describe_differences(before: Catalog, after: Catalog) -> tuple[str, list[dict[str, str]]]:
    from dbctl.schema.diff import diff_catalogs

    differences = diff_catalogs(before, after, expected_label="before", actual_label="after")
    shown = "; ".join(d.message for d in differences[:MAX_DIFFERENCES_SHOWN])
    if len(differences) > MAX_DIFFERENCES_SHOWN:
        shown += f"; and {len(differences) - MAX_DIFFERENCES_SHOWN} more"
    evidence = [{"kind": d.kind, "object": d.object, "message": d.message} for d in differences]
    return shown, evidence


def _revision_finding(
    settings: Settings, rule: str, script: Script, message: str, **evidence: Any
) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.error,
        message=message,
        location=Location(project_relative(settings, script.path), 1),
        evidence=evidence,
    )


def _upgrade_stepwise(
    settings: Settings,
    url: str,
    steps: list[Script],
    result: Verification,
    measured: dict[str, Measured] | None = None,
) -> list[Catalog] | None:
    """Apply ``steps`` one by one (after the baseline, if any); the snapshots before the
    first and after each step. ``measured`` gets the locks and rewrites of each step that
    runs in a transaction (lint-migrations' measurement, on the way)."""
    from dbctl.lint.measure import measuring

    with migration_session(settings, url, notify=None) as session:
        session.run_baseline((), None)
        snapshots = [snapshot(url)]
        for script in steps:
            try:
                with measuring(session, script) as (inspect, taken):
                    session.apply(script, None, before_commit=inspect)
                if measured is not None:
                    measured[script.revision] = taken
            except MigrationFailed as exc:
                found = _revision_finding(settings, "migration-failed", script, str(exc))
                if exc.location is not None:  # env.py, or the line of the revision at fault
                    found = replace(found, location=Location(*exc.location))
                result.findings.append(found)
                return None
            snapshots.append(snapshot(url))
    return snapshots


def _lint(
    settings: Settings,
    url: str,
    directory: ScriptDirectory,
    steps: list[Script],
    measured: dict[str, Measured],
) -> list[Finding]:
    """lint-migrations on the revisions after ``[tool.dbctl] lint_from`` (all without it),
    with the locks and rewrites measured during the upgrade from empty."""
    from dbctl.lint.lint import LintResult, after, review, server_version

    linted = after(directory, steps, settings.lint_from)
    found = LintResult(revisions=[s.revision for s in linted], measured=True)
    review(settings, linted, measured, found, version=server_version(url))
    return found.findings


def _check_idempotent(
    settings: Settings, url: str, target: str, head: Catalog, result: Verification
) -> None:
    again = alembic_upgrade(settings, url, revision=target)
    after = snapshot(url)
    if again.applied or after != head:
        shown, evidence = _describe_differences(head, after)
        applied = ", ".join(again.applied) or "nothing"
        result.findings.append(
            Finding(
                rule="migration-not-idempotent",
                severity=Severity.error,
                message=f"a second upgrade to {target} applied {applied} and "
                f"{'changed the schema: ' + shown if shown else 'left the schema as it was'}",
                evidence={"applied": list(again.applied), "differences": evidence},
            )
        )


def _is_linear(steps: list[Script]) -> bool:
    return all(not s.is_merge_point and not s.is_branch_point for s in steps)


def _new_differences(
    expected: Catalog, actual: Catalog, inherited: set[tuple[str | None, ...]]
) -> tuple[str, list[dict[str, str]]]:
    """``_describe_differences`` without those carried over from a revision above."""
    from dbctl.schema.diff import diff_catalogs

    differences = [
        d
        for d in diff_catalogs(expected, actual, expected_label="before", actual_label="after")
        if (d.kind, d.object, d.expected, d.actual) not in inherited
    ]
    shown = "; ".join(d.message for d in differences[:MAX_DIFFERENCES_SHOWN])
    if len(differences) > MAX_DIFFERENCES_SHOWN:
        shown += f"; and {len(differences) - MAX_DIFFERENCES_SHOWN} more"
    evidence = [{"kind": d.kind, "object": d.object, "message": d.message} for d in differences]
    return shown, evidence


def _carried(expected: Catalog, actual: Catalog) -> set[tuple[str | None, ...]]:
    from dbctl.schema.diff import diff_catalogs

    return {(d.kind, d.object, d.expected, d.actual) for d in diff_catalogs(expected, actual)}


def _round_trip(
    settings: Settings,
    url: str,
    steps: list[Script],
    snapshots: list[Catalog],
    result: Verification,
) -> None:
    """Down and up again for each revision, from the head; compare with the snapshots.

    What a lossy downgrade leaves behind is carried down to the revisions below it; it is
    blamed on the revision that left it, once, not on every revision under it.
    """
    if not _is_linear(steps):
        result.findings.append(
            Finding(
                rule="round-trip-skipped",
                severity=Severity.info,
                message="the revision history branches or merges: the round trip is checked "
                "on linear histories only",
            )
        )
        return
    if not database_name(url).startswith(SHADOW_PREFIX):  # never on a database it was given
        raise AssertionError(f"the round trip runs on a shadow database, not {database_name(url)}")
    inherited = _carried(snapshots[-1], snapshot(url))
    for index in range(len(steps) - 1, -1, -1):
        script = steps[index]
        parent = steps[index - 1].revision if index else "base"
        below = f"; the {index} revisions below it were not round-tripped" if index else ""
        try:
            downgrade(settings, url, revision=parent)
        except MigrationFailed as exc:
            result.findings.append(
                _revision_finding(
                    settings, "downgrade-mismatch", script, f"the downgrade fails: {exc}{below}"
                )
            )
            return
        shown, evidence = _new_differences(snapshots[index], snapshot(url), inherited)
        if evidence:
            result.findings.append(
                _revision_finding(
                    settings,
                    "downgrade-mismatch",
                    script,
                    f"the downgrade of {script.revision} does not restore the schema of "
                    f"{parent}: {shown}",
                    differences=evidence,
                )
            )
        try:
            upgrade(settings, url, revision=script.revision)
        except MigrationFailed as exc:
            result.findings.append(
                _revision_finding(
                    settings,
                    "downgrade-mismatch",
                    script,
                    f"{script.revision} cannot be applied again after its downgrade: {exc}{below}",
                )
            )
            return
        shown, evidence = _new_differences(snapshots[index + 1], snapshot(url), inherited)
        if evidence:
            result.findings.append(
                _revision_finding(
                    settings,
                    "downgrade-mismatch",
                    script,
                    f"down and up again, {script.revision} leaves another schema: {shown}",
                    differences=evidence,
                )
            )
        try:
            downgrade(settings, url, revision=parent)
        except MigrationFailed as exc:
            result.findings.append(
                _revision_finding(
                    settings,
                    "downgrade-mismatch",
                    script,
                    f"the second downgrade of {script.revision} fails: {exc}{below}",
                )
            )
            return
        inherited = _carried(snapshots[index], snapshot(url))


def _rule_context(settings: Settings, models: drift.Models | None) -> RuleContext:
    return RuleContext() if models is None else models.rule_context()


_LATER_CHECKS = [
    "migration locks",
    "idempotent upgrade",
    "drift from the models",
    "schema rules",
    "round trip",
]


def verify_schema(
    settings: Settings, server_url: str, *, notify: Notify | None = None
) -> Verification:
    """Every check of ``verify-schema`` on a temporary database of the server at ``server_url``."""
    settings = replace(settings, pooler="none")  # the shadow is reached directly, never pooled
    result = Verification()
    with (
        temporary_database(server_url, purpose="shadow", notify=notify) as url,
        handed_over(settings, url) as handoff,
    ):
        models = _Models(settings)
        handoff.check()  # the models' import connected elsewhere and swallowed the refusal
        directory = require_revisions(
            script_directory(alembic_config(settings), settings.project_root), settings
        )
        heads = tuple(sorted(directory.get_heads()))
        infos = {s.revision: s for s in directory.walk_revisions()}
        with result.check("single head", notify):
            result.findings += head_findings(settings, heads, {k: v.path for k, v in infos.items()})
        target = "heads" if len(heads) > 1 else "head"
        steps = upgrade_path(directory, (), target)
        snapshots: list[Catalog] | None = None
        measured: dict[str, Measured] = {}
        with result.check(f"upgrade from empty ({len(steps)} revisions)", notify):
            snapshots = _upgrade_stepwise(settings, url, steps, result, measured)
        if snapshots is None:
            result.skip(_LATER_CHECKS, "the upgrade from empty did not finish", notify)
            return result
        with result.check("migration locks", notify):
            result.findings += _lint(settings, url, directory, steps, measured)
        head = snapshots[-1]
        with result.check("idempotent upgrade", notify):
            _check_idempotent(settings, url, target, head, result)
        # Drift before the round trip: the models are laid out on the shadow while it is at
        # head, with the extensions the revisions created (the round trip ends at base).
        _check_against_models_and_rules(settings, url, head, models, result, notify=notify)
        with result.check("round trip", notify):
            _round_trip(settings, url, steps, snapshots, result)
    return result


def verify_live(settings: Settings, url: str, *, notify: Notify | None = None) -> Verification:
    """Checks of the database at ``url``: migrations, drift, rules. dbctl sends it reads
    only; the models are imported first, so that what their import does is in the
    snapshot (dbctl cannot stop import-time code from writing)."""
    result = Verification()
    with handed_over(settings, url) as handoff:
        models = _Models(settings)
        handoff.check()
        with result.check("migrations", notify):
            status = migration_status(settings, url)
            result.findings += status.findings
        live = snapshot(url)
        _check_against_models_and_rules(settings, url, live, models, result, notify=notify)
    return result


class _Models:
    """The project's models, imported once at the start; an import that fails is told in
    the drift check, not before."""

    def __init__(self, settings: Settings) -> None:
        self.loaded: drift.Models | None = None
        self.failed: DbctlError | None = None
        if settings.models:
            try:
                self.loaded = drift.load_models(settings)
            except Unproven:
                raise
            except DbctlError as exc:
                self.failed = exc

    def get(self) -> drift.Models:
        if self.failed is not None:
            raise self.failed
        assert self.loaded is not None
        return self.loaded


def _check_against_models_and_rules(
    settings: Settings,
    url: str,
    catalog: Catalog,
    models: _Models,
    result: Verification,
    *,
    notify: Notify | None,
) -> None:
    """The last two checks of both modes: drift of ``catalog`` from the models, the rules.

    Models that cannot be imported or laid out fail the drift check only; the rules then
    run without what the models would tell them (locations, naming convention)."""
    loaded: drift.Models | None = None
    if settings.models:
        with result.check("drift from the models", notify):
            loaded = models.get()
            result.findings += drift.drift_findings(settings, loaded, catalog, url)
    with result.check("schema rules", notify):
        result.findings += run_rules(catalog, _rule_context(settings, loaded))


__all__ = ["Verification", "snapshot", "verify_live", "verify_schema"]
