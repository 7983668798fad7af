"""The project's Alembic revision files: their order, checksums and transaction needs."""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

# A revision that must run outside a transaction block (CREATE/DROP INDEX CONCURRENTLY,
# ALTER TYPE ... ADD VALUE before PostgreSQL 12...) says so with Alembic's autocommit block.
_CONCURRENT_SQL = re.compile(
    r"\b(CREATE|DROP|REINDEX)\b[^;]*\bCONCURRENTLY\b", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    down_revisions: tuple[str, ...]
    message: str
    path: str
    checksum: str
    autocommit: bool
    is_head: bool
    is_merge: bool
    is_branch_point: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "down_revisions": list(self.down_revisions),
            "message": self.message,
            "path": self.path,
            "checksum": self.checksum,
            "autocommit": self.autocommit,
            "head": self.is_head,
            "merge": self.is_merge,
            "branch_point": self.is_branch_point,
        }


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a revision file with its line endings normalised to LF."""
    data = Path(path).read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def _docstrings(tree: ast.Module) -> set[int]:
    nodes: list[ast.AST] = [tree, *ast.walk(tree)]
    found: set[int] = set()
    for node in nodes:
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            found.add(id(body[0].value))
    return found


def needs_autocommit(source: str) -> bool:
    """Whether revision code runs statements outside a transaction (e.g. CONCURRENTLY).

    Looks at the code, not at comments or docstrings: an ``autocommit_block()`` call, a
    ``postgresql_concurrently=True`` argument, or a SQL string with ``CONCURRENTLY``.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "autocommit_block":
            return True
        if isinstance(node, ast.keyword) and node.arg == "postgresql_concurrently":
            return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _CONCURRENT_SQL.search(node.value)
        ):
            return True
    return False


def describe(script: Script) -> RevisionInfo:
    down = script.down_revision
    downs = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    return RevisionInfo(
        revision=script.revision,
        down_revisions=downs,
        message=(script.doc or "").strip(),
        path=script.path,
        checksum=file_checksum(script.path),
        autocommit=needs_autocommit(Path(script.path).read_text(errors="replace")),
        is_head=script.is_head,
        is_merge=script.is_merge_point,
        is_branch_point=script.is_branch_point,
    )


def upgrade_path(directory: ScriptDirectory, current: tuple[str, ...], target: str) -> list[Script]:
    """The revisions an upgrade from ``current`` to ``target`` applies, in order."""
    lower: tuple[str, ...] | str = current or "base"
    revisions = directory.iterate_revisions(target, lower, implicit_base=True)
    return [rev for rev in revisions if rev is not None][::-1]


def lineage(directory: ScriptDirectory, heads: tuple[str, ...]) -> list[str]:
    """Every revision at or below ``heads``, the oldest first."""
    if not heads:
        return []
    revisions = directory.iterate_revisions(heads, "base")
    return [rev.revision for rev in revisions if rev is not None][::-1]


def history(directory: ScriptDirectory) -> list[RevisionInfo]:
    """Every revision, the newest first (the order of ``alembic history``)."""
    return [describe(rev) for rev in directory.walk_revisions()]
