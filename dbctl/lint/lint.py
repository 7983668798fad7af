"""``dbctl lint-migrations``: the locks a revision takes, measured, and the hazards its SQL
shows, before it reaches production.

Which revisions: ``--from REV`` (exclusive, as Alembic's ``REV:``) and ``--to REV``; else,
with a database, the revisions it has not applied; else those whose file changed against
``--git-base``; else every revision. For each:

- its SQL as Alembic's offline mode prints it (the project's env.py, offline), read by the
  rules of ``dbctl.lint.rules`` (squawk's names);
- unless ``--offline``, the revision applied in a shadow database (on the server of
  ``--database-url``, else the sandbox) after every revision before it: the locks it holds
  on tables that existed before it and the tables it rewrites (``dbctl.lint.measure``), the
  rewritten tables' sizes read from the live database when one is given;
- ``# dbctl: ignore[rule, ...] reason`` in the revision's file drops those rules' findings
  for it; each ignore is counted and listed in the report.

Tables the revision creates are exempt: the rules skip them, and the measurement only
looks at relations that existed before the revision.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbctl.errors import ConfigError, DbctlError
from dbctl.lint.findings import (
    finding,
    from_hit,
    from_measure,
    mode_name,
    nesting,
    rewrites,
    static_rewrites,
    static_timeout,
    truncated,
)
from dbctl.lint.measure import Measured
from dbctl.lint.names import Table
from dbctl.lint.proofs import Known
from dbctl.report import Finding, Location, Severity

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from dbctl.config import Settings

Notify = Callable[[str], None]

_IGNORE = re.compile(
    r"#[ \t]*dbctl:[ \t]*ignore\[(?P<rules>[a-z0-9_, \t-]+)\][ \t]*(?P<reason>.*)$", re.M
)
_VERSION_TABLE = re.compile(r"\balembic_version\b", re.IGNORECASE)
DEFAULT_VERSION = 150000  # the server the revisions target, when no server is at hand


@dataclass(frozen=True, slots=True)
class LintRequest:
    start: str | None = None  # --from: lint the revisions after it
    end: str | None = None  # --to
    git_base: str | None = None
    offline: bool = False
    sample_rows: int = 10_000  # per table, copied from the live database into the shadow


@dataclass(frozen=True, slots=True)
class Ignore:
    revision: str
    rules: tuple[str, ...]
    reason: str
    line: int


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)
    measured: bool = False
    ignored: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    locks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # measured
    # measured: what got a new file (a rewrite), [] for none
    rewrites: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # revision -> why, in the shadow
    unmeasured: dict[str, str] = field(default_factory=dict)  # revision -> why no locks
    # revision -> why: a foreign key the sample broke (measured again without the sample)
    sample_broke: dict[str, str] = field(default_factory=dict)
    sample: dict[str, int] | None = None  # the live rows copied into the shadow
    sample_said: str | None = None  # the sample's note

    def summary(self) -> dict[str, Any]:
        return {
            "revisions": len(self.revisions),
            "measured": self.measured,
            "ignored": len(self.ignored),
        }

    def data(self) -> dict[str, Any]:
        return {
            "revisions": self.revisions,
            "measured": self.measured,
            "locks": self.locks,
            "rewrites": self.rewrites,
            "unmeasured": self.unmeasured,
            "sample_broke": self.sample_broke,
            "sample": self.sample,
            "ignored": self.ignored,
        }


def ignores(revision: str, source: str) -> list[Ignore]:
    """The ``# dbctl: ignore[rule, ...] reason`` comments of a revision's source."""
    found = []
    for match in _IGNORE.finditer(source):
        rules = tuple(r.strip() for r in match["rules"].split(",") if r.strip())
        line = source.count("\n", 0, match.start()) + 1
        found.append(Ignore(revision, rules, match["reason"].strip(), line))
    return found


def _chosen(
    directory: ScriptDirectory,
    request: LintRequest,
    applied: tuple[str, ...] | None,
    root: Path,
    lint_from: str | None = None,
) -> tuple[list[Script], list[Script]]:
    """The revisions to lint, and the path a shadow applies to reach and measure them."""
    from alembic.util import CommandError

    from dbctl.lifecycle.revisions import upgrade_path

    heads = tuple(sorted(directory.get_heads()))
    end = request.end or ("heads" if len(heads) > 1 else "head")
    for option, given in (("--from", request.start), ("--to", request.end)):
        if given is not None and given not in ("head", "heads", "base"):
            try:
                directory.get_revision(given)
            except CommandError as exc:  # Alembic's ResolutionError, an ambiguous prefix...
                raise ConfigError(f"{option} {given}: {exc}") from None
    whole = upgrade_path(directory, (), end)
    if request.start is not None:
        try:
            linted = upgrade_path(directory, (request.start,), end)
        except CommandError as exc:
            raise ConfigError(f"--from {request.start} --to {end}: {exc}") from None
        if not linted and request.end is not None:
            _reversed(directory, request.start, request.end)
    elif request.git_base is not None:  # named: it beats the database's pending ones
        changed = _changed_files(request.git_base, root)
        linted = [s for s in whole if Path(s.path).resolve() in changed]
    elif applied is not None:
        try:
            linted = upgrade_path(directory, applied, end)
        except CommandError as exc:
            shown = ", ".join(applied)
            raise ConfigError(
                f"the database is at {shown}, which the migrations do not lead to {end} from: {exc}"
            ) from None
    else:
        linted = after(directory, whole, lint_from)
    wanted = {s.revision for s in linted}
    last = max((i for i, s in enumerate(whole) if s.revision in wanted), default=-1)
    return [s for s in whole if s.revision in wanted], whole[: last + 1]


def _reversed(directory: ScriptDirectory, start: str, end: str) -> None:
    """A usage error when ``--to`` names an ancestor of ``--from``: a range given backwards
    (an empty one, ``--from X --to X``, lints nothing and is no error)."""
    if start in ("head", "heads", "base") or end in ("head", "heads", "base"):
        return
    first, last = directory.get_revision(start), directory.get_revision(end)
    if first is None or last is None or first.revision == last.revision:
        return
    ancestors = {s.revision for s in directory.iterate_revisions(first.revision, "base") if s}
    if last.revision in ancestors:
        raise ConfigError(
            f"--to {end} comes before --from {start}: the range is empty (--from names the "
            f"revision it starts after); lint it as --from {end} --to {start}"
        )


def after(
    directory: ScriptDirectory, scripts: Sequence[Script], revision: str | None
) -> list[Script]:
    """``scripts`` less ``revision`` and its ancestors (``[tool.dbctl] lint_from``: history,
    not linted again; a sibling branch still is), or all of them."""
    from alembic.util import CommandError

    if revision is None:
        return list(scripts)
    try:
        history = {s.revision for s in directory.iterate_revisions(revision, "base") if s}
    except CommandError as exc:
        raise ConfigError(f"lint_from: {exc}") from None
    return [s for s in scripts if s.revision not in history]


def _changed_files(base: str, root: Path) -> set[Path]:
    """The files changed against the git revision ``base`` (committed since, staged or
    not, and untracked)."""
    if not re.fullmatch(r"[\w./@^~{}-]+", base) or base.startswith("-"):
        raise ConfigError(f"--git-base {base!r} is not a git revision")
    try:
        top = _git(root, "rev-parse", "--show-toplevel").strip()
        diff = _git(root, "diff", "--name-only", base, "--")
        untracked = _git(root, "ls-files", "--others", "--exclude-standard")
    except OSError as exc:
        raise ConfigError(f"--git-base {base}: git cannot run ({exc.strerror})") from None
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or "").strip().splitlines()
        why = said[0] if said else f"exit {exc.returncode}"
        raise ConfigError(f"--git-base {base}: {why}") from None
    return {(Path(top) / name).resolve() for name in (diff + untracked).splitlines() if name}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def _statements(sql: str) -> list[str]:
    """Alembic's offline SQL as statements, its version bookkeeping left out."""
    from dbctl.access.lexer import split_statements

    return [text for text, _ in split_statements(sql) if not _VERSION_TABLE.search(text)]


_RUNNING = re.compile(r"^-- Running upgrade (?P<down>.*?) -> (?P<revision>\S+)", re.MULTILINE)
_OPENS = re.compile(r"\s*(BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)
_CLOSES = re.compile(r"\s*(COMMIT|END|ROLLBACK|ABORT)\b", re.IGNORECASE)


def split_by_revision(sql: str) -> dict[str, list[str]]:
    """The statements of each revision in the offline SQL of a range (Alembic marks each
    with ``-- Running upgrade DOWN -> REV``). When the range runs in one transaction (a
    ``BEGIN`` before the first mark), every revision gets a ``BEGIN`` first, as it runs
    inside one: even after a revision's own COMMIT, the driver begins the next."""
    marks = list(_RUNNING.finditer(sql))
    found: dict[str, list[str]] = {}
    open_ = False
    for statement in _statements(sql[: marks[0].start()] if marks else ""):
        open_ = _track(open_, statement)  # the range's prologue: BEGIN, when transactional
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        body = _statements(sql[mark.end() : after.start() if after else len(sql)])
        found[mark["revision"]] = (["BEGIN"] if open_ else []) + body
    return found


def _track(open_: bool, statement: str) -> bool:
    if _OPENS.match(statement):
        return True
    if _CLOSES.match(statement):
        return False
    return open_


def _offline(settings: Settings, linted: Sequence[Script]) -> dict[str, list[str]] | None:
    """The statements of every linted revision from one offline run over their range
    (env.py once), or None when the range's SQL does not split by revision."""
    from dbctl.lifecycle.migrate import offline_sql

    try:
        sql = offline_sql(settings, start=_down(linted[0]), end=linted[-1].revision)
    except (Exception, SystemExit):  # DbctlError or the project's: said revision by revision
        return None
    found = split_by_revision(sql)
    return found if all(s.revision in found for s in linted) else None


def _down(script: Script) -> str | None:
    down = script.down_revision
    if down is None:
        return None
    return down if isinstance(down, str) else down[0]


def lint_migrations(
    settings: Settings, request: LintRequest, *, notify: Notify | None = None
) -> LintResult:
    """The revisions ``request`` names, measured on a shadow (unless offline) and linted."""
    from dbctl.lifecycle.alembic_project import alembic_config, require_revisions, script_directory

    root = settings.project_root
    directory = require_revisions(script_directory(alembic_config(settings), root), settings)
    live = settings.database_url if not request.offline else None
    applied = _applied(live) if live and request.start is None else None
    linted, path = _chosen(directory, request, applied, root, settings.lint_from)
    result = LintResult(revisions=[s.revision for s in linted])
    if not linted:
        result.notes.append("no revision to lint")
        return result
    whole = _offline(settings, linted)  # env.py once, before the shadow: the sample reads it
    server = None if request.offline else _server(settings, notify, result)
    measured: dict[str, Measured] = {}
    if server is not None:
        sample = None
        pending = applied is not None and request.git_base is None
        if live is not None and pending and request.sample_rows > 0:
            # the live database is where the shadow stands before the first linted one
            sample = _sampler(live, request.sample_rows, result, whole)
        measured = _measure(
            settings,
            server,
            path,
            {s.revision for s in linted},
            result,
            sample=sample,
            timezone=_timezone(live) if live is not None else None,
        )
        if result.sample_said is not None:
            result.notes.append(result.sample_said)
    sizes = _sizes(live, measured) if live else {}
    version = server_version(live or server)
    mapped = _mapped(settings, result) if settings.models else None
    review(
        settings,
        linted,
        measured,
        result,
        sizes=sizes,
        version=version,
        mapped=mapped,
        whole=whole,
    )
    return result


def _mapped(settings: Settings, result: LintResult) -> dict[str, frozenset[str]] | None:
    """The models' tables and their columns (a drop or rename of what they still map is an
    error); None, and a note, when they cannot be imported."""
    from dbctl.lifecycle.models import load_metadata

    try:
        metadata = load_metadata(settings)
    except DbctlError as exc:
        result.notes.append(f"the models were not read, drops and renames not checked: {exc}")
        return None
    mapped: dict[str, frozenset[str]] = {}
    for table in metadata.tables.values():
        mapped[table.name] = mapped.get(table.name, frozenset()) | {c.name for c in table.columns}
    return mapped


def review(
    settings: Settings,
    linted: Sequence[Script],
    measured: dict[str, Measured],
    result: LintResult,
    *,
    sizes: dict[str, int] | None = None,
    version: int = DEFAULT_VERSION,
    mapped: dict[str, frozenset[str]] | None = None,
    whole: dict[str, list[str]] | None = None,
) -> None:
    """Each revision's SQL through the rules, with what was measured of it (``measured``:
    by revision, possibly empty), into ``result``; its inline ignores applied."""
    from dbctl.lifecycle.alembic_project import project_relative
    from dbctl.lint.rules import follow, lint_statements

    if whole is None and linted:
        whole = _offline(settings, linted)
    # what the revisions so far tell of the schema (NOT NULL proofs, indexes, foreign keys);
    # before a measured revision its catalog says it
    known = _earlier(settings, linted, measured, whole)
    ranged = iter(whole or ())  # the range's revisions in order, linted or not
    chosen = {script.revision for script in linted}
    for script in linted:
        for revision in ranged:  # those in between, not linted: what they tell of the schema
            if revision == script.revision:
                break
            if revision not in chosen and whole is not None:
                known = follow(whole[revision], known)
        where = project_relative(settings, script.path)
        source = _read(script.path)
        if whole is not None:
            statements = whole[script.revision]
        else:  # revision by revision (a range Alembic cannot print in one go, a merge...)
            statements = _revision_sql(settings, script, where, measured, result)
        measured_here = measured.get(script.revision)
        proofs = measured_here.proofs if measured_here is not None else None  # its catalog
        if measured_here is not None:  # the catalog's indexes: the table a DROP INDEX locks
            known = (known or Known()).copy()
            for name, (schema, table) in measured_here.indexes.items():
                known.indexes[name] = Table(schema, table)
        linted_sql = lint_statements(statements, server_version=version, known=known, proofs=proofs)
        known = linted_sql.known
        taken = measured_here
        if taken is not None and not (taken.seen and taken.in_transaction):
            taken = None  # outside a transaction, or env.py's connection was never seen
        _record(script, measured_here, taken, result)
        found = [
            from_hit(hit, statements, script, where, taken, mapped=mapped)
            for hit in linted_sql.hits
        ]
        found += from_measure(taken, script, where, sizes or {}, linted_sql.sets_lock_timeout)
        if taken is None and measured_here is not None:  # its rewrites, read after it ran
            found += rewrites(measured_here, script, where, sizes or {})
        found = [f for f in found if not truncated(f, statements)]
        if script.revision in result.failed:
            found.append(
                finding(
                    "migration-failed", Severity.error, script, where,
                    f"it failed in the shadow database: {result.failed[script.revision]}",
                )
            )  # fmt: skip
        if script.revision in result.sample_broke and script.revision not in result.failed:
            found.append(_broken_by_sample(script, where, result.sample_broke[script.revision]))
        if taken is None and not linted_sql.sets_lock_timeout:
            found += static_timeout(linted_sql.exclusive, script, where)
        if measured_here is None:  # no file compared: the statements that always rewrite
            found += static_rewrites(linted_sql.rewritten, script, where)
        for index in linted_sql.unparsed:
            found.append(
                finding(
                    "lint-unparsed", Severity.info, script, where,
                    "a statement PostgreSQL's parser does not accept was not linted",
                    statement=statements[index],
                )
            )  # fmt: skip
        found += nesting(source, script, where)
        found = [_placed(item, source) for item in found]
        comments = ignores(script.revision, source)
        found, ignored = _apply_ignores(found, comments)
        result.notes += _unknown_rules(comments, where)
        result.findings += found
        result.ignored += ignored


_NEEDS_HISTORY = re.compile(
    r"\bSET\s+NOT\s+NULL\b|\bDROP\s+(TABLE|CONSTRAINT|COLUMN|INDEX)\b", re.IGNORECASE
)


def _earlier(
    settings: Settings,
    linted: Sequence[Script],
    measured: dict[str, Measured],
    whole: dict[str, list[str]] | None,
) -> Known | None:
    """What the revisions before the first linted one tell of the schema, read from their
    offline SQL: the CHECK they added NOT VALID and validated (the safe pattern's first two
    steps, already deployed, before a SET NOT NULL), the indexes and foreign keys they made
    (the table a DROP INDEX or a dropped foreign key locks). Only when the first linted
    revision is not measured and a linted one sets NOT NULL or drops something."""
    from dbctl.lifecycle.migrate import offline_sql
    from dbctl.lint.rules import follow

    if not linted or linted[0].revision in measured or whole is None:
        return None
    down = _down(linted[0])
    if down is None or not any(_NEEDS_HISTORY.search(s) for found in whole.values() for s in found):
        return None
    try:
        sql = offline_sql(settings, start=None, end=down)
    except (Exception, SystemExit):  # the project's env.py: nothing known before
        return None
    known = None
    for statements in split_by_revision(sql).values():
        known = follow(statements, known)
    return known


def _revision_sql(
    settings: Settings,
    script: Script,
    where: str,
    measured: dict[str, Measured],
    result: LintResult,
) -> list[str]:
    """The statements of one revision, from an offline run of its own; [] and a
    ``lint-offline-sql`` finding when Alembic cannot print them."""
    from dbctl.lifecycle.migrate import offline_sql
    from dbctl.lifecycle.user_code import raised

    try:
        sql = offline_sql(settings, start=_down(script), end=script.revision)
    except (Exception, SystemExit) as exc:  # the project's env.py or revision too
        why = str(exc) if isinstance(exc, DbctlError) else raised(exc)
        seen = script.revision in measured and measured[script.revision].seen
        result.findings.append(
            finding(
                "lint-offline-sql", Severity.warning if seen else Severity.error,
                script, where,
                "its SQL could not be printed in offline mode, so the rules did not read "
                f"it: {why}",
            )
        )  # fmt: skip
        return []
    # its own statements: a merge's range also holds its other parents' branch
    return split_by_revision(sql).get(script.revision, _statements(sql))


def _broken_by_sample(script: Script, where: str, why: str) -> Finding:
    return finding(
        "migration-failed", Severity.warning, script, where,
        f"with a sample of the live rows in the shadow it failed: {why}. The sample is not "
        "closed under foreign keys (a table's rows are sampled apart from the rows they "
        "point to), so this may be the sample's doing: without it, it passed. If the live "
        "data has rows whose parent is missing, production fails the same way.",
    )  # fmt: skip


def _record(
    script: Script, measured: Measured | None, taken: Measured | None, result: LintResult
) -> None:
    """What was measured of ``script`` (``taken``: its locks were read) in the report's
    data, or why not."""
    if taken is None:
        result.unmeasured[script.revision] = _unmeasured(script, measured, result)
    else:
        result.locks[script.revision] = [
            {"table": lock.table, "mode": mode_name(lock.mode), "blocks": lock.blocks}
            for lock in taken.locks
        ]
    if measured is not None and (taken is not None or not measured.in_transaction):
        result.rewrites[script.revision] = [
            {
                "table": rewrite.table,
                "relations": list(rewrite.relations),
                "table_rewritten": rewrite.table_rewritten,
            }
            for rewrite in measured.rewrites
        ]


def _unmeasured(script: Script, measured: Measured | None, result: LintResult) -> str:
    """Why the locks of ``script`` were not measured."""
    if not result.measured:
        return "rules only: no shadow database (--offline, or no server)"
    if script.revision in result.failed:
        return "it failed in the shadow database"
    if measured is None:
        which = ", ".join(result.failed) or "an earlier one"
        return f"a revision before it ({which}) failed in the shadow database: not applied"
    if not measured.in_transaction:
        return (
            "it runs outside a transaction (an autocommit block), where locks end with each "
            "statement: its rewrites were read after it ran"
        )
    return (
        "its transaction was not seen before its commit: env.py migrated on a connection "
        "dbctl does not watch"
    )


def _placed(item: Finding, source: str) -> Finding:
    """``item`` at the line of the revision's file that makes its statement (a lock
    timeout's finding: upgrade()'s first line, where the setting goes)."""
    from dbctl.lint.source import first_line_of_upgrade, locate

    if item.location is None or item.location.line is not None:
        return item
    if item.rule == "require-timeout-settings":
        line = first_line_of_upgrade(source)
    elif item.rule == "migration-failed":  # the failure names its line: path:N
        said = re.search(rf"\({re.escape(item.location.path)}:(\d+)\)", item.message)
        line = int(said[1]) if said else None
    else:
        line = locate(source, item.statement or item.table or "")
    if line is None:
        return item
    return replace(item, location=Location(item.location.path, line))


def server_version(url: str | None) -> int:
    """``server_version_num`` of the server at ``url`` (the rules that depend on the
    version: enum values in a transaction before 12, defaults before 11)."""
    import psycopg

    from dbctl.pg.connect import connect

    if url is None:
        return DEFAULT_VERSION
    try:
        with connect(url) as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
    except (psycopg.Error, DbctlError):
        return DEFAULT_VERSION
    return int(str(row[0])) if row else DEFAULT_VERSION


def _timezone(url: str) -> str | None:
    """The live database's TimeZone (its ALTER DATABASE / ROLE settings, else the
    server's), which the shadow takes: None when it cannot be read."""
    import psycopg

    from dbctl.pg.connect import connect

    try:
        with connect(url) as conn:
            row = conn.execute("SHOW TimeZone").fetchone()
    except (psycopg.Error, DbctlError):
        return None
    return str(row[0]) if row else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _applied(url: str) -> tuple[str, ...]:
    from dbctl.lifecycle.readback import heads_on_fresh_connection

    return heads_on_fresh_connection(url)


def _server(settings: Settings, notify: Notify | None, result: LintResult) -> str | None:
    """The server for the shadow: --database-url's, else the sandbox; None (rules only,
    said in a note) when there is none."""
    from dbctl.pg.connect import resolve_database_url

    try:
        return resolve_database_url(settings, notify=notify)
    except DbctlError as exc:
        result.notes.append(f"rules only: no server for a shadow database ({exc})")
        return None


def _sampler(
    live: str, rows: int, result: LintResult, whole: dict[str, list[str]] | None
) -> Callable[[str], None]:
    def sample(shadow_url: str) -> None:
        from dbctl.lint.rules import gaining_foreign_keys
        from dbctl.lint.sample import copy_sample

        statements = [text for found in (whole or {}).values() for text in found]
        why = "a linted revision gives it a foreign key"
        leave_out = {table: why for table in gaining_foreign_keys(statements)}
        sampled = copy_sample(live, shadow_url, rows=rows, leave_out=leave_out)
        result.sample = {
            "tables": sampled.tables,
            "rows": sampled.rows,
            "skipped": len(sampled.skipped),
        }
        result.sample_said = sampled.said()

    return sample


def _measure(
    settings: Settings,
    server: str,
    path: list[Script],
    wanted: set[str],
    result: LintResult,
    *,
    sample: Callable[[str], None] | None = None,
    timezone: str | None = None,
) -> dict[str, Measured]:
    from dbctl.lint.measure import ShadowFailed, shadow

    try:
        with shadow(settings, server, before_first=sample, timezone=timezone) as run:
            found = run(path, wanted)
    except ShadowFailed as failed:
        if sample is not None and failed.sqlstate == _FOREIGN_KEY_VIOLATION:
            # the sample is not closed under foreign keys: measured again without it
            result.sample_broke[failed.revision] = failed.why
            result.sample = result.sample_said = None
            result.notes.append(
                f"with the sample of the live rows, revision {failed.revision} broke a foreign "
                "key in the shadow (rows sampled apart from the rows they point to): every "
                "revision measured again without the sample"
            )
            return _measure(settings, server, path, wanted, result, timezone=timezone)
        result.failed[failed.revision] = failed.why
        found = failed.measured
    result.measured = True
    return {m.revision: m for m in found}


_FOREIGN_KEY_VIOLATION = "23503"


_SIZES = """
SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid)::int8
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname || '.' || c.relname = ANY(%s)
"""


def _sizes(url: str, measured: dict[str, Measured]) -> dict[str, int]:
    """The live sizes of the tables the revisions rewrite."""
    import psycopg

    from dbctl.pg.connect import connect

    tables = sorted({r.table for m in measured.values() for r in m.rewrites})
    if not tables:
        return {}
    try:
        with connect(url) as conn:
            rows = conn.execute(_SIZES, (tables,)).fetchall()
    except psycopg.Error:
        return {}
    return {str(row[0]): int(str(row[1])) for row in rows}


def _unknown_rules(comments: list[Ignore], where: str) -> list[str]:
    """A note for each ignored rule that lint-migrations does not know (a typo ignores
    nothing)."""
    from dbctl.rule_ids import RULES

    return [
        f"{where}:{comment.line}: ignore[{rule}] names no rule of lint-migrations: it ignores "
        "nothing"
        for comment in comments
        for rule in comment.rules
        if rule not in RULES
    ]


def _apply_ignores(
    findings: list[Finding], comments: list[Ignore]
) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The findings no ignore names, and what each ignore dropped."""
    rules = {rule: ignore for ignore in comments for rule in ignore.rules}
    kept, dropped = [], []
    for item in findings:
        ignore = rules.get(item.rule)
        if ignore is None:
            kept.append(item)
            continue
        dropped.append(
            {
                "revision": ignore.revision,
                "rule": item.rule,
                "reason": ignore.reason,
                "line": ignore.line,
                "table": item.table,
            }
        )
    return kept, dropped


__all__ = ["LintRequest", "LintResult", "ignores", "lint_migrations"]
