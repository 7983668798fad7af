"""``dbctl migrate status`` and ``history``: where the database stands, read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbctl.lifecycle import ledger
from dbctl.lifecycle.alembic_project import alembic_config, project_relative, script_directory
from dbctl.lifecycle.migrate import migration_session
from dbctl.lifecycle.readback import current_heads, invalid_indexes
from dbctl.lifecycle.revisions import RevisionInfo, describe, history, lineage, upgrade_path
from dbctl.report import Finding, Location, Severity

if TYPE_CHECKING:
    from dbctl.config import Settings


@dataclass(frozen=True)
class MigrationStatus:
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...]
    findings: tuple[Finding, ...]

    def as_data(self) -> dict[str, Any]:
        return {
            "current": list(self.current),
            "heads": list(self.heads),
            "pending": list(self.pending),
        }


def head_findings(
    settings: Settings, heads: tuple[str, ...], paths: Mapping[str, str]
) -> list[Finding]:
    """``multiple-heads`` when the revision graph has more than one head."""
    if len(heads) <= 1:
        return []
    return [
        Finding(
            rule="multiple-heads",
            severity=Severity.error,
            message=f"the migrations have {len(heads)} heads ({', '.join(heads)}): "
            "merge them with 'alembic merge heads'",
            location=Location(project_relative(settings, paths[heads[0]]), 1),
            evidence={"heads": list(heads)},
        )
    ]


def migration_status(settings: Settings, url: str) -> MigrationStatus:
    """Current and head revisions, pending revisions, checksum mismatches, invalid indexes."""
    with migration_session(settings, url, notify=None, lock=False) as session:
        connection = session.connection
        directory = session.directory
        current = current_heads(connection)
        recorded = ledger.read(connection)
        invalid = invalid_indexes(connection)
    infos = {rev.revision: rev for rev in history(directory)}
    heads = tuple(sorted(directory.get_heads()))
    findings = head_findings(settings, heads, {k: v.path for k, v in infos.items()})
    unknown = [rev for rev in current if rev not in infos]
    for rev in unknown:
        findings.append(
            Finding(
                rule="unknown-revision",
                severity=Severity.error,
                message=f"the database is at revision {rev}, which no migration file defines",
            )
        )
    pending: list[str] = []
    if not unknown:
        target = "heads" if len(heads) > 1 else "head"
        pending = [s.revision for s in upgrade_path(directory, current, target)]
    for rev in pending:
        info = infos[rev]
        findings.append(
            Finding(
                rule="pending-migration",
                severity=Severity.warning,
                message=f"revision {rev} ({info.message or 'no message'}) is not applied",
                location=Location(project_relative(settings, info.path), 1),
            )
        )
    applied = lineage(directory, current) if not unknown else []
    for rev in applied:
        entry = recorded.get(rev)
        if entry is not None and entry.checksum != infos[rev].checksum:
            findings.append(
                Finding(
                    rule="checksum-mismatch",
                    severity=Severity.error,
                    message=f"revision {rev} was changed after it was applied "
                    f"on {entry.applied_at:%Y-%m-%d %H:%M}: its file no longer matches",
                    location=Location(project_relative(settings, infos[rev].path), 1),
                    evidence={"recorded": entry.checksum, "file": infos[rev].checksum},
                )
            )
    for name in invalid:
        findings.append(
            Finding(
                rule="invalid-index",
                severity=Severity.error,
                message=f"index {name} is INVALID (a failed CREATE INDEX CONCURRENTLY): "
                "drop it and build it again",
                suggestion=f"DROP INDEX CONCURRENTLY {name};",
            )
        )
    return MigrationStatus(current, heads, tuple(pending), tuple(findings))


def revision_history(settings: Settings) -> list[RevisionInfo]:
    """The revision graph, newest first; needs no database."""
    return history(script_directory(alembic_config(settings), settings.project_root))


__all__ = ["MigrationStatus", "describe", "migration_status", "revision_history"]
