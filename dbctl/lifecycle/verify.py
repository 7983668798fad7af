"""``dbctl verify-schema``: the migrations and the models, checked on a shadow database.

On a fresh temporary database (on the sandbox, or on the server of ``--database-url``):

1. single head (``multiple-heads``);
2. upgrade from empty to head, one revision at a time, snapshotting the catalog after each;
3. idempotency: a second upgrade applies nothing and changes nothing
   (``migration-not-idempotent``);
4. round trip: each revision, from the head down, is downgraded (the schema must equal the
   snapshot taken before it was applied) and upgraded again (the schema must equal the
   snapshot taken after it) (``downgrade-mismatch``);
5. drift: the models, as ``create_all`` would lay them out, against the migrated schema
   (``schema-drift``);
6. schema rules on the migrated schema (``dbctl.rules``).

``verify_live`` checks a running database instead, read-only: drift, rules, pending
revisions and checksum mismatches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbctl.errors import MigrationFailed
from dbctl.lifecycle import drift
from dbctl.lifecycle.ledger import TABLE as LEDGER_TABLE
from dbctl.lifecycle.migrate import (
    alembic_config,
    alembic_upgrade,
    current_heads,
    downgrade,
    migration_session,
    project_relative,
    script_directory,
    upgrade,
)
from dbctl.lifecycle.revisions import upgrade_path
from dbctl.lifecycle.status import head_findings, migration_status
from dbctl.pg.shadow import temporary_database
from dbctl.report import Finding, Location, Severity
from dbctl.rules import RuleContext, run_rules

if TYPE_CHECKING:
    from alembic.script import Script

    from dbctl.config import Settings
    from dbctl.pg.catalog import Catalog

Notify = Callable[[str], None]
INTERNAL_TABLES = ("alembic_version", LEDGER_TABLE)
MAX_DIFFERENCES_SHOWN = 3


@dataclass
class Verification:
    """Findings, and the checks that ran with their durations."""

    findings: list[Finding] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def check(self, name: str, notify: Notify | None) -> Iterator[None]:
        before = len(self.findings)
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = round(time.perf_counter() - started, 3)
            found = len(self.findings) - before
            self.checks.append({"check": name, "findings": found, "seconds": seconds})
            if notify is not None:
                notify(f"{name}: {'ok' if not found else f'{found} findings'} ({seconds:.2f}s)")

    def data(self) -> dict[str, Any]:
        return {"checks": self.checks}


def snapshot(url: str) -> Catalog:
    """The catalog of the database at ``url``, without Alembic's and dbctl's own tables."""
    from dbctl.pg.catalog_loader import load_catalog
    from dbctl.pg.connect import connect

    with connect(url) as conn:
        return load_catalog(conn, exclude_tables=INTERNAL_TABLES)


def _describe_differences(before: Catalog, after: Catalog) -> tuple[str, list[dict[str, str]]]:
    from dbctl.lifecycle.diff import diff_catalogs

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
    settings: Settings, url: str, steps: list[Script], result: Verification
) -> list[Catalog] | None:
    """Apply ``steps`` one by one; the snapshots before the first and after each step."""
    snapshots = [snapshot(url)]
    with migration_session(settings, url, notify=None) as session:
        for script in steps:
            try:
                session.apply(script, None)
            except MigrationFailed as exc:
                result.findings.append(
                    _revision_finding(settings, "migration-failed", script, str(exc))
                )
                return None
            snapshots.append(snapshot(url))
    return snapshots


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


def _round_trip(
    settings: Settings,
    url: str,
    steps: list[Script],
    snapshots: list[Catalog],
    result: Verification,
) -> None:
    """Down and up again for each revision, from the head; compare with the snapshots."""
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
    for index in range(len(steps) - 1, -1, -1):
        script = steps[index]
        parent = steps[index - 1].revision if index else "base"
        try:
            downgrade(settings, url, revision=parent)
        except MigrationFailed as exc:
            result.findings.append(
                _revision_finding(settings, "downgrade-mismatch", script, f"downgrade fails: {exc}")
            )
            return
        down = snapshot(url)
        if down != snapshots[index]:
            shown, evidence = _describe_differences(snapshots[index], down)
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
                    f"{script.revision} cannot be applied again after its downgrade: {exc}",
                )
            )
            return
        up = snapshot(url)
        if up != snapshots[index + 1]:
            shown, evidence = _describe_differences(snapshots[index + 1], up)
            result.findings.append(
                _revision_finding(
                    settings,
                    "downgrade-mismatch",
                    script,
                    f"down and up again, {script.revision} leaves another schema: {shown}",
                    differences=evidence,
                )
            )
        downgrade(settings, url, revision=parent)


def _rule_context(settings: Settings, models: drift.Models | None) -> RuleContext:
    return RuleContext() if models is None else models.rule_context()


def verify_schema(
    settings: Settings, server_url: str, *, notify: Notify | None = None
) -> Verification:
    """Every check of ``verify-schema`` on a temporary database of the server at ``server_url``."""
    result = Verification()
    directory = script_directory(alembic_config(settings))
    heads = tuple(sorted(directory.get_heads()))
    infos = {s.revision: s for s in directory.walk_revisions()}
    with result.check("single head", notify):
        result.findings += head_findings(settings, heads, {k: v.path for k, v in infos.items()})
    target = "heads" if len(heads) > 1 else "head"
    models = drift.load_models(settings) if settings.models else None
    with temporary_database(server_url, purpose="shadow") as url:
        steps = upgrade_path(directory, (), target)
        with result.check(f"upgrade from empty ({len(steps)} revisions)", notify):
            snapshots = _upgrade_stepwise(settings, url, steps, result)
        if snapshots is None:
            return result
        head = snapshots[-1]
        with result.check("idempotent upgrade", notify):
            _check_idempotent(settings, url, target, head, result)
        with result.check("round trip", notify):
            _round_trip(settings, url, steps, snapshots, result)
        _check_against_models_and_rules(settings, url, head, models, result, notify=notify)
    return result


def verify_live(settings: Settings, url: str, *, notify: Notify | None = None) -> Verification:
    """Read-only checks of the database at ``url``: migrations, drift, rules."""
    result = Verification()
    with result.check("migrations", notify):
        status = migration_status(settings, url)
        result.findings += status.findings
    live = snapshot(url)
    models = drift.load_models(settings) if settings.models else None
    _check_against_models_and_rules(settings, url, live, models, result, notify=notify)
    return result


def _check_against_models_and_rules(
    settings: Settings,
    url: str,
    catalog: Catalog,
    models: drift.Models | None,
    result: Verification,
    *,
    notify: Notify | None,
) -> None:
    """The last two checks of both modes: drift of ``catalog`` from the models, the rules."""
    if models is not None:
        with result.check("drift from the models", notify):
            result.findings += drift.drift_findings(settings, models, catalog, url)
    with result.check("schema rules", notify):
        result.findings += run_rules(catalog, _rule_context(settings, models))


__all__ = ["Verification", "current_heads", "snapshot", "verify_live", "verify_schema"]
