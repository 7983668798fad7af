"""lint-migrations' findings: a rule's hit with the lock measured on its table (and, for a
rewrite rule, what the shadow saw of the table's file), ``require-timeout-settings`` for an
ACCESS EXCLUSIVE lock held without a lock_timeout (measured, or from the rules offline),
``table-rewrite`` with the live size and an estimated duration."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dbctl.pg.identifiers import quote_ident
from dbctl.report import Finding, Location, Severity

if TYPE_CHECKING:
    from alembic.script import Script

    from dbctl.lint.measure import Measured
    from dbctl.lint.rules import Hit

# A rewrite's duration, estimated from the table's size with its indexes: measured on the
# bench machine (bench/lint_rewrite.py, 326 MB: TYPE bigint 120 MB/s, a volatile default
# 61 MB/s), on a server that is otherwise idle.
REWRITE_BYTES_PER_SECOND = 100 * 1024 * 1024

# Rules whose hazard is a rewrite the shadow can confirm or rule out.
REWRITING = frozenset(
    {"changing-column-type", "adding-field-with-default", "adding-stored-generated-column"}
)
_SEVERITY = {"error": Severity.error, "warning": Severity.warning, "info": Severity.info}


def finding(
    rule: str,
    severity: Severity,
    script: Script,
    where: str,
    message: str,
    *,
    table: str | None = None,
    suggestion: str | None = None,
    statement: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> Finding:
    return Finding(
        rule,
        severity,
        f"revision {script.revision} ({where}): {message}",
        table=table,
        suggestion=suggestion or None,
        statement=statement,
        location=Location(where, None),
        evidence={"revision": script.revision, **(evidence or {})},
    )


def from_hit(
    hit: Hit,
    statements: Sequence[str],
    script: Script,
    where: str,
    taken: Measured | None,
    *,
    mapped: Mapping[str, frozenset[str]] | None = None,
) -> Finding:
    """A rule's finding, with the locks measured on its table when there are some, and
    what the models (``mapped``: table -> columns, when configured) say of a drop or a
    rename."""
    message = hit.message
    bare = _name(hit.table or "")
    same = _matcher(hit.table or "", taken)
    held = [lock for lock in (taken.locks if taken else ()) if same(lock.table)]
    if held:
        shown = "; ".join(
            f"{mode_name(lock.mode)} on {lock.table}, blocking "
            f"{lock.blocks or 'no reads or writes'}"
            for lock in held
        )
        message += f" (the whole revision, measured: {shown})"
    severity = _SEVERITY.get(hit.severity, Severity.warning)
    if taken is not None and hit.rule in REWRITING:
        mine = [r for r in taken.rewrites if same(r.table) and r.table_rewritten]
        partitioned = any(same(t) for t in taken.partitioned)
        if not mine and not partitioned:  # the shadow says: no new file for the table
            message = f"read from the SQL: {message} {_NO_REWRITE}"
            # the brief lock is require-timeout-settings' matter; to timestamptz, a deploy
            # whose session is in another TimeZone than the shadow's rewrites: a warning
            severity = Severity.warning if hit.zone_dependent else Severity.info
        elif mine and severity is not Severity.error:  # the SQL left it open: it did
            message = (
                f"read from the SQL: {message} Measured in the shadow: it rewrote "
                f"{mine[0].table} (a new file), under ACCESS EXCLUSIVE."
            )
            severity = Severity.error
    fix = hit.fix
    partitioned = taken is not None and any(same(t) for t in taken.partitioned)
    if partitioned and hit.partitioned_fix:
        fix = hit.partitioned_fix
    if mapped is not None and hit.rule in _CODE_BREAKING:
        severity, message = _against_models(hit, bare, mapped, severity, message)
    return finding(
        hit.rule,
        severity,
        script,
        where,
        message,
        table=hit.table,
        suggestion=fix,
        statement=statements[hit.statement] if 0 <= hit.statement < len(statements) else None,
    )


_NO_REWRITE = (
    "Measured in the shadow: no rewrite (the table kept its file), so here only a brief "
    "ACCESS EXCLUSIVE lock. It does rewrite where PostgreSQL cannot convert in place: on "
    "another server version, or, for timestamp to timestamptz, in a session whose TimeZone "
    "is other than UTC (the shadow runs in --database-url's when one is given)."
)
_CODE_BREAKING = frozenset(
    {"ban-drop-column", "ban-drop-table", "renaming-column", "renaming-table"}
)


def _against_models(
    hit: Hit, bare: str, mapped: Mapping[str, frozenset[str]], severity: Severity, message: str
) -> tuple[Severity, str]:
    """A drop or rename of what the models still map is an error: the code shipped with
    this revision uses it too, not only the old release during the deploy."""
    table = hit.table or bare
    columns = mapped.get(bare)
    if hit.rule in ("ban-drop-table", "renaming-table"):
        if columns is None:
            return severity, message + " The models no longer map the table."
        return Severity.error, message + (
            f" The models still map {table}: the code this revision ships with uses it too."
        )
    column = hit.column or ""
    if columns is None or column not in columns:
        if columns is None:
            return severity, message
        return severity, message + (
            f" The models no longer map {table}.{quote_ident(column)}: the new code does not "
            "use it; the old release does until it is replaced."
        )
    return Severity.error, message + (
        f" The models still map {table}.{quote_ident(column)}: the code this revision ships "
        "with uses it too (SQLAlchemy selects every mapped column)."
    )


def static_timeout(exclusive: Sequence[str], script: Script, where: str) -> list[Finding]:
    """Offline (or not measured): the tables a statement takes ACCESS EXCLUSIVE on, read
    from the SQL, in a revision that sets no lock_timeout: an error each, as measured."""
    return [
        finding(
            "require-timeout-settings", Severity.error, script, where,
            f"it takes ACCESS EXCLUSIVE on {table} (read from its SQL, not measured), which "
            f"blocks reads and writes, and {_NO_TIMEOUT}, and every read and write of {table} "
            "queues behind it",
            table=None if table.startswith("the table of index ") else table,
            suggestion=_TIMEOUT_FIX,
            evidence={"mode": "ACCESS EXCLUSIVE", "blocks": "reads and writes"},
        )
        for table in exclusive
    ]  # fmt: skip


def static_rewrites(rewritten: Sequence[str], script: Script, where: str) -> list[Finding]:
    """Not measured: the tables a statement writes into a new file whatever their columns
    (CLUSTER, VACUUM FULL, SET LOGGED / UNLOGGED / ACCESS METHOD / TABLESPACE), read from
    the SQL, as ``table-rewrite`` errors."""
    return [
        finding(
            "table-rewrite", Severity.error, script, where,
            f"it rewrites {table} (read from its SQL, not measured: the statement writes the "
            "whole table and its indexes into new files) under ACCESS EXCLUSIVE",
            table=table,
        )
        for table in rewritten
    ]  # fmt: skip


def nesting(source: str, script: Script, where: str) -> list[Finding]:
    """The transactions upgrade() begins or ends itself (squawk's transaction-nesting)."""
    from dbctl.lint.source import transaction_control

    found = []
    for line, word in transaction_control(source):
        if word == "BEGIN":
            severity, message = (
                Severity.warning,
                "upgrade() runs BEGIN itself: inside the transaction Alembic runs the revision "
                "in, PostgreSQL ignores it with a warning, and a COMMIT of its own then splits "
                "the revision",
            )
        else:
            severity, message = (
                Severity.error,
                f"upgrade() runs {word} itself: it ends the transaction Alembic runs the "
                "revision in, so the revision is split: what ran before it stays "
                f"{'committed' if word != 'ROLLBACK' else 'undone'} whatever follows, and if "
                "what follows fails the database is left between two revisions, its version "
                "not recorded; the locks taken before it were released there, outside the "
                "measure",
            )
        item = finding(
            "transaction-nesting", severity, script, where, message, suggestion=_NESTING_FIX
        )
        found.append(replace(item, location=Location(where, line)))
    return found


_NESTING_FIX = """\
# what must run outside a transaction (ALTER TYPE ... ADD VALUE before PostgreSQL 12,
# CREATE INDEX CONCURRENTLY), in a block of its own; Alembic commits before it and
# begins again after it:
with op.get_context().autocommit_block():
    op.execute(...)"""
_NO_TIMEOUT = (
    "the revision sets no lock_timeout (or sets 0: wait for ever; dbctl migrate sets its "
    "own, [tool.dbctl] lock_timeout, but alembic upgrade and other runners none): behind "
    "a long-running query its lock request queues"
)
_TIMEOUT_FIX = "op.execute(\"SET lock_timeout = '2s'\")  # first, in upgrade(): fail fast, retry"


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def from_measure(
    measured: Measured | None,
    script: Script,
    where: str,
    sizes: dict[str, int],
    sets_lock_timeout: bool,
) -> list[Finding]:
    """``require-timeout-settings`` for each ACCESS EXCLUSIVE lock held without a
    lock_timeout, and ``table-rewrite`` for each table (or its indexes) rewritten."""
    if measured is None:
        return []
    found = []
    exclusive = [lock for lock in measured.locks if lock.mode == "AccessExclusiveLock"]
    held = {lock.table for lock in exclusive}
    partitions: dict[str, int] = {}  # a partitioned table's, held with it: said with it
    for lock in exclusive:
        if lock.root in held:
            partitions[lock.root] = partitions.get(lock.root, 0) + 1
    for lock in exclusive:
        if not sets_lock_timeout and lock.root not in held:
            mode = mode_name(lock.mode)
            count = partitions.get(lock.table, 0)
            also = f" and {count} of its partitions" if count else ""
            message = (
                f"it holds {mode} on {lock.table}{also} (measured), which blocks "
                f"{lock.blocks}, and {_NO_TIMEOUT}, and every read and write of {lock.table} "
                "queues behind it"
            )
            found.append(
                finding(
                    "require-timeout-settings", Severity.error, script, where, message,
                    table=lock.table, suggestion=_TIMEOUT_FIX,
                    evidence={"mode": mode, "blocks": lock.blocks},
                )
            )  # fmt: skip
    return found + rewrites(measured, script, where, sizes)


def rewrites(
    measured: Measured, script: Script, where: str, sizes: dict[str, int]
) -> list[Finding]:
    found = []
    for rewrite in measured.rewrites:
        size = sizes.get(rewrite.table)
        what = "rewrites" if rewrite.table_rewritten else "rebuilds the indexes of"
        message = (
            f"it {what} {rewrite.table} (measured: {', '.join(rewrite.relations)} got new files)"
        )
        evidence: dict[str, Any] = {"relations": list(rewrite.relations)}
        if size is not None:
            seconds = size / REWRITE_BYTES_PER_SECOND
            message += (
                f"; {_human(size)} in the live database: {_duration(seconds)} under ACCESS "
                "EXCLUSIVE"
            )
            evidence |= {"bytes": size, "seconds": round(seconds, 1)}
        found.append(
            finding(
                "table-rewrite", Severity.error, script, where, message,
                table=rewrite.table, evidence=evidence,
            )
        )  # fmt: skip
    return found


def mode_name(name: str) -> str:
    """pg_locks' AccessExclusiveLock as the documentation names it: ACCESS EXCLUSIVE."""
    words = re.findall(r"[A-Z][a-z]+", name.removesuffix("Lock"))
    return " ".join(words).upper()


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


_TRUNCATE = re.compile(r"\s*TRUNCATE\b", re.IGNORECASE)


def truncated(finding: Finding, statements: Sequence[str]) -> bool:
    """A ``table-rewrite`` of a table the revision truncates: a new empty file, not a
    rewrite of its rows."""
    if finding.rule != "table-rewrite" or not finding.table:
        return False
    bare = _name(finding.table, raw=True)
    return any(
        _TRUNCATE.match(statement) and bare in _truncated_names(statement)
        for statement in statements
    )


def _truncated_names(statement: str) -> set[str]:
    """The bare names of the tables a TRUNCATE names, as PostgreSQL reads them."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        parsed = parse_sql(statement)
    except (ParseError, ValueError):
        return set()
    return {
        relation.relname
        for raw in parsed
        for relation in getattr(raw.stmt, "relations", None) or ()
        if getattr(relation, "relname", None)
    }


def _matcher(table: str, taken: Measured | None) -> Callable[[str], bool]:
    """Whether a measured table (``schema.name``) is the one a rule names: the same schema
    and name; for a name written without a schema that no measured table of public's
    matches, the same name in any schema (the search path found it elsewhere)."""
    key = _key(table)
    measured = {
        _measured(t)
        for t in [
            *(lock.table for lock in (taken.locks if taken else ())),
            *(r.table for r in (taken.rewrites if taken else ())),
            *(taken.partitioned if taken else ()),
        ]
    }
    unqualified = len(_PARTS.findall(table)) < 2
    if key in measured or not unqualified:
        return lambda name: _measured(name) == key
    return lambda name: _measured(name)[1] == key[1]


def _key(table: str) -> tuple[str, str]:
    """(schema, name) as stored of a table as a rule writes it (``"Billing".users``,
    ``users``: public's, the default search path)."""
    parts = [_unquoted(part) for part in _PARTS.findall(table)]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return "public", parts[-1] if parts else ""


def _measured(table: str) -> tuple[str, str]:
    """(schema, name) of a table as measured: ``schema.name`` as stored."""
    schema, _, name = table.partition(".")
    return schema, name


def _unquoted(part: str) -> str:
    if part.startswith('"') and part.endswith('"'):
        return part[1:-1].replace('""', '"')
    return part.lower()


def _name(table: str, *, raw: bool = False) -> str:
    """The bare name of a table: ``"public"."Users"`` or ``public.users`` as a rule writes
    it (quoted where needed), or ``public.Users`` as measured (``raw``: as stored)."""
    if raw:
        return table.rpartition(".")[2]
    parts = _PARTS.findall(table)
    last = parts[-1] if parts else ""
    if last.startswith('"') and last.endswith('"'):
        return last[1:-1].replace('""', '"')
    return last.lower()


_PARTS = re.compile(r'"(?:[^"]|"")*"|[^."]+')
