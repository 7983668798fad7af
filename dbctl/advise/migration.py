"""``--write-migration``: an Alembic revision that creates the suggested indexes.

The revision goes on top of the single head of the project's migrations. Its upgrade
builds each index ``CONCURRENTLY`` inside Alembic's autocommit block (a concurrent build
cannot run in a transaction; ``dbctl migrate`` sees the block and runs the revision
without timeouts) and ``IF NOT EXISTS``, so that a re-run goes on where an interrupted one
stopped; its downgrade drops them concurrently, in reverse order. A partitioned table's
index is built without CONCURRENTLY, which PostgreSQL does not support there.

The models must declare the same indexes, or drift will flag them: ``model_indexes``
gives the ``Index(...)`` lines to add. Nothing is printed; the CLI shows both.

Names come from the database and the statements, so they may hold anything PostgreSQL
accepts (quotes, newlines, backslashes, three quotes in a row, non-ASCII): every one is
written as a ``repr()`` literal, a key part with sort options as ``sa.text`` of
``quote_ident`` text (colons escaped, which ``text()`` would take for bind parameters), the
docstring as a raw string with control characters shown escaped. The source is compiled
before it is written: when it does not compile, nothing is written (``DbctlError``, one
line).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dbctl.advise.model import Advice, Suggestion
from dbctl.errors import ConfigError, DbctlError
from dbctl.pg.identifiers import MAX_NAME_BYTES, split_qualified
from dbctl.rules.indexing import key_part_sql

if TYPE_CHECKING:
    from dbctl.config import Settings

_DOCSTRING = """{message}

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

_TEMPLATE = '''r"""{docstring}"""

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
    """``repr(value)``, in double quotes when that needs no escape (as ruff format writes)."""
    if value is None:
        return "None"
    text = repr(value)
    if text.startswith("'") and '"' not in value and "'" not in value:
        text = '"' + text[1:-1] + '"'
    return text


def _shown(text: object) -> str:
    """Text for the docstring: characters that are not printable (a newline...) escaped as
    in ``repr``, so that each name stays on its line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _raw_docstring(text: str) -> str:
    """The body of a raw triple-quoted string: each run of three quotes broken by a
    backslash (which the docstring then shows); a newline added at the end after a quote
    or a backslash, which would run into the closing quotes."""
    text = text.replace('"""', '""\\"')
    return text + "\n" if text.endswith(("\\", '"')) else text


def _sql_text(sql: str) -> str:
    """``sa.text(...)`` of ``sql``: its colons escaped (``text()`` reads ``:name`` as a bind
    parameter, even inside a quoted identifier)."""
    escaped = sql.replace(":", "\\:")
    return f"sa.text({_literal(escaped)})"


def _plain(suggestion: Suggestion) -> bool:
    return not any(suggestion.descending) and all(
        nulls == descending
        for nulls, descending in zip(suggestion.nulls_first, suggestion.descending, strict=True)
    )


def _key_items(suggestion: Suggestion, text: str = "sa.text") -> list[str]:
    """The key as Python: plain column names, or ``sa.text`` for a part with sort options
    (its identifier quoted by ``quote_ident``)."""
    items = []
    for column, descending, nulls in zip(
        suggestion.columns, suggestion.descending, suggestion.nulls_first, strict=True
    ):
        if not descending and not nulls:
            items.append(_literal(column))
        else:
            sql = _sql_text(key_part_sql(column, descending, nulls))
            items.append(text + sql.removeprefix("sa.text"))
    return items


def model_indexes(advice: Advice) -> list[ModelIndex]:
    """The ``Index(...)`` lines that declare the suggested indexes in the models."""
    lines = []
    for suggestion in advice.suggestions:
        items = [_literal(suggestion.name), *_key_items(suggestion, "text")]
        lines.append(ModelIndex(suggestion.table, f"Index({', '.join(items)})"))
    return lines


def _split(suggestion: Suggestion) -> tuple[str, str]:
    """Schema and table: read back from the quoted target (a schema or table name may hold
    a dot), else from ``schema.table``."""
    if suggestion.target:
        parts = split_qualified(suggestion.target)
        if len(parts) == 2:
            return parts[0], parts[1]
    schema, _, name = suggestion.table.partition(".")
    return schema, name


def _create(suggestion: Suggestion) -> str:
    schema, name = _split(suggestion)
    args = [_literal(suggestion.name), _literal(name), f"[{', '.join(_key_items(suggestion))}]"]
    if schema != "public":
        args.append(f"schema={_literal(schema)}")
    if not suggestion.partitioned:
        args.append("postgresql_concurrently=True")
    args.append("if_not_exists=True")
    return _call("op.create_index", args)


def _drop(suggestion: Suggestion) -> str:
    schema, name = _split(suggestion)
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
    _check_names(advice)
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
    text = revision_source(advice, revision=revision, down_revision=down_revision, message=message)
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9_]+", "_", _slug(advice).lower())
    path = folder / f"{re.sub(r'[^A-Za-z0-9_]+', '_', revision)}_{slug}.py"
    _check_compiles(text, path)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} already exists: remove it or pick another revision") from None
    return path


def revision_source(
    advice: Advice,
    *,
    revision: str,
    down_revision: str | None,
    message: str = "Add the indexes suggested by dbctl check-indexes.",
    date: datetime | None = None,
) -> str:
    """The Python source of the revision creating ``advice.suggestions`` (pure)."""
    model_lines = "\n".join(
        _shown(f"    {line.table}: {line.code}") for line in model_indexes(advice)
    )
    summary = "\n".join(
        _shown(f"- {s.name} on {s.target or s.table}: {'; '.join(s.reasons)}")
        for s in advice.suggestions
    )
    docstring = _DOCSTRING.format(
        message=_shown(message),
        summary=summary,
        model_lines=model_lines,
        revision=_shown(revision),
        down_revision=_shown(down_revision),
        date=(date or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S"),
    )
    return _TEMPLATE.format(
        docstring=_raw_docstring(docstring),
        revision_literal=_literal(revision),
        down_literal=_literal(down_revision),
        imports="" if all(_plain(s) for s in advice.suggestions) else "\nimport sqlalchemy as sa",
        upgrades="\n".join(_create(s) for s in advice.suggestions),
        downgrades="\n".join(_drop(s) for s in reversed(advice.suggestions)),
    )


def _check_names(advice: Advice) -> None:
    """Each name fits in 63 bytes and is not given twice in a schema: PostgreSQL would
    truncate it, and ``IF NOT EXISTS`` would skip the second index without a word."""
    seen: set[tuple[str, str]] = set()
    for suggestion in advice.suggestions:
        schema, _ = _split(suggestion)
        key = (schema, suggestion.name)
        if len(suggestion.name.encode()) > MAX_NAME_BYTES or key in seen:
            problem = "is longer than 63 bytes" if key not in seen else "is given twice"
            raise DbctlError(
                f"the index name {_shown(suggestion.name)} {problem}: nothing was written "
                "(a dbctl bug: please report it with the index names)"
            )
        seen.add(key)


def _check_compiles(source: str, path: Path) -> None:
    """``compile()`` the source (warnings such as an invalid escape are errors too): a
    revision Python cannot read would break every later command."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(source, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError, Warning) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise DbctlError(
            f"the revision for {path.name} is not valid Python{where}: {_shown(reason)}; "
            "nothing was written (a dbctl bug: please report it with the index names)"
        ) from None
