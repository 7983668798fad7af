"""``--write-migration``: an Alembic revision that creates the suggested indexes.

The revision goes on top of the single head of the project's migrations. Its upgrade
builds each index ``CONCURRENTLY`` inside Alembic's autocommit block (a concurrent build
cannot run in a transaction; ``dbctl migrate`` sees the block and runs the revision
without timeouts) and ``IF NOT EXISTS``, so that a re-run goes on where an interrupted one
stopped; its downgrade drops them concurrently, in reverse order. A partitioned table's
index is built without CONCURRENTLY, which PostgreSQL does not support there.

The models must declare the same indexes, or drift will flag them: ``model_indexes``
gives the ``Index(...)`` lines to add. Nothing is printed; the CLI shows both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dbctl.advise.model import Advice, Suggestion
from dbctl.errors import ConfigError
from dbctl.rules.indexing import key_part_sql

if TYPE_CHECKING:
    from dbctl.config import Settings

_TEMPLATE = '''"""{message}

{summary}

Written by dbctl check-indexes --write-migration. Each index is built CONCURRENTLY, so
outside a transaction, and IF NOT EXISTS: after an interrupted build, drop the INVALID index
it leaves (dbctl migrate status lists it) and run the migration again.

Declare the same indexes in the models, or drift will flag them:
{model_lines}

Revision ID: {revision}
Revises: {down_revision}
Create Date: {date}
"""

from __future__ import annotations

from collections.abc import Sequence
{imports}
from alembic import op

revision: str = {revision_literal}
down_revision: str | Sequence[str] | None = {down_literal}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
{upgrades}


def downgrade() -> None:
    with op.get_context().autocommit_block():
{downgrades}
'''


@dataclass(frozen=True)
class ModelIndex:
    """An ``Index(...)`` to declare on a table's model (in ``__table_args__``, or among the
    arguments of its ``Table``)."""

    table: str
    code: str


def _literal(value: str | None) -> str:
    """A Python string literal in double quotes (the style ruff format writes)."""
    if value is None:
        return "None"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _plain(suggestion: Suggestion) -> bool:
    return not any(suggestion.descending) and all(
        nulls == descending
        for nulls, descending in zip(suggestion.nulls_first, suggestion.descending, strict=True)
    )


def _key_items(suggestion: Suggestion) -> list[str]:
    """The key as Python: plain column names, or ``sa.text`` for a part with sort options."""
    items = []
    for column, descending, nulls in zip(
        suggestion.columns, suggestion.descending, suggestion.nulls_first, strict=True
    ):
        if not descending and not nulls:
            items.append(_literal(column))
        else:
            items.append(f"sa.text({_literal(key_part_sql(column, descending, nulls))})")
    return items


def model_indexes(advice: Advice) -> list[ModelIndex]:
    """The ``Index(...)`` lines that declare the suggested indexes in the models."""
    lines = []
    for suggestion in advice.suggestions:
        items = [_literal(suggestion.name), *_key_items(suggestion)]
        code = f"Index({', '.join(items)})".replace("sa.text(", "text(")
        lines.append(ModelIndex(suggestion.table, code))
    return lines


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    return schema, name


def _create(suggestion: Suggestion) -> str:
    schema, name = _split(suggestion.table)
    args = [_literal(suggestion.name), _literal(name), f"[{', '.join(_key_items(suggestion))}]"]
    if schema != "public":
        args.append(f"schema={_literal(schema)}")
    if not suggestion.partitioned:
        args.append("postgresql_concurrently=True")
    args.append("if_not_exists=True")
    return _call("op.create_index", args)


def _drop(suggestion: Suggestion) -> str:
    schema, name = _split(suggestion.table)
    args = [_literal(suggestion.name), f"table_name={_literal(name)}"]
    if schema != "public":
        args.append(f"schema={_literal(schema)}")
    if not suggestion.partitioned:
        args.append("postgresql_concurrently=True")
    args.append("if_exists=True")
    return _call("op.drop_index", args)


def _call(function: str, args: list[str]) -> str:
    indent = " " * 8
    inner = "".join(f"{indent}    {arg},\n" for arg in args)
    return f"{indent}{function}(\n{inner}{indent})"


def _next_revision(existing: list[str]) -> str:
    """The next number when the revisions are numbered (``0001``, ``0002``), else a new
    random id as ``alembic revision`` makes."""
    from alembic.util import rev_id

    if existing and all(r.isdigit() for r in existing):
        width = max(len(r) for r in existing)
        return str(max(int(r) for r in existing) + 1).zfill(width)
    return rev_id()


def _slug(advice: Advice) -> str:
    if len(advice.suggestions) == 1:
        return advice.suggestions[0].name
    return f"add_{len(advice.suggestions)}_indexes"


def write_migration(
    advice: Advice,
    settings: Settings,
    *,
    message: str = "Add the indexes suggested by dbctl check-indexes.",
) -> Path:
    """Write the revision in the project's versions folder; return its path.

    Raises ``ValueError`` when there is nothing to write (check ``advice.suggestions``
    first) and ``ConfigError`` when the migrations cannot be read or have several heads.
    """
    from dbctl.lifecycle.alembic_project import alembic_config, script_directory

    if not advice.suggestions:
        raise ValueError("no suggested index: no migration to write")
    directory = script_directory(alembic_config(settings), settings.project_root)
    heads = directory.get_heads()
    if len(heads) > 1:
        raise ConfigError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}): merge them "
            "(alembic merge heads) before writing a new revision"
        )
    down_revision = heads[0] if heads else None
    folder = Path(directory.versions)
    if down_revision is not None:
        head = directory.get_revision(down_revision)
        if head is not None and head.path:
            folder = Path(head.path).parent
    revision = _next_revision([s.revision for s in directory.walk_revisions()])
    model_lines = "\n".join(f"    {line.table}: {line.code}" for line in model_indexes(advice))
    summary = "\n".join(
        f"- {s.name} on {s.table}: {'; '.join(s.reasons)}" for s in advice.suggestions
    )
    text = _TEMPLATE.format(
        message=message,
        summary=summary,
        revision_literal=_literal(revision),
        down_literal=_literal(down_revision),
        model_lines=model_lines,
        revision=revision,
        down_revision=down_revision,
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        imports="" if all(_plain(s) for s in advice.suggestions) else "\nimport sqlalchemy as sa",
        upgrades="\n".join(_create(s) for s in advice.suggestions),
        downgrades="\n".join(_drop(s) for s in reversed(advice.suggestions)),
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{revision}_{re.sub(r'[^a-z0-9_]+', '_', _slug(advice).lower())}.py"
    if path.exists():
        raise ConfigError(f"{path} already exists: remove it or pick another revision")
    path.write_text(text)
    return path
