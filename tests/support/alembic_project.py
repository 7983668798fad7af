"""Build small, real Alembic projects on disk for the lifecycle tests."""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

from dbctl.config import Settings, load_settings

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

config = context.config
target_metadata = None


def run(connection):
    context.configure(connection=connection, target_metadata=target_metadata,
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
"""

REVISION = '''"""{message}"""
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''


@dataclass(frozen=True)
class Rev:
    revision: str
    down: str | tuple[str, ...] | None
    upgrade: str  # SQL, ';'-separated, or Python code when it starts with "py:"
    downgrade: str = ""
    message: str = ""
    autocommit: bool = False


def _body(code: str, autocommit: bool) -> str:
    if not code:
        return "    pass"
    if code.startswith("py:"):
        lines = textwrap.dedent(code[3:]).strip().splitlines()
    else:
        lines = [f"op.execute({s.strip()!r})" for s in code.split(";") if s.strip()]
    if autocommit:
        lines = ["with op.get_context().autocommit_block():", *("    " + x for x in lines)]
    return "\n".join("    " + line for line in lines)


class AlembicProject:
    """A folder with pyproject.toml ([tool.dbctl]), migrations/env.py, revisions and models.

    ``models`` is the source of a module defining ``metadata``; it gets a unique module
    name, so that projects of several tests can be imported in one process.
    """

    def __init__(
        self, root: Path, models: str | None = None, env_py: str = ENV_PY, tool: str = ""
    ) -> None:
        """``tool``: more lines for ``[tool.dbctl]`` (``lint_from = "r2"``)."""
        self.root = root
        self.versions = root / "migrations" / "versions"
        self.versions.mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(env_py)
        table = 'migrations = "migrations"\n'
        if models is not None:
            module = f"models_{uuid.uuid4().hex[:12]}"
            (root / f"{module}.py").write_text(textwrap.dedent(models))
            table += f'models = "{module}:metadata"\n'
        table += f"{tool}\n" if tool else ""
        (root / "pyproject.toml").write_text(f"[project]\nname = 'p'\n\n[tool.dbctl]\n{table}")

    def add(self, rev: Rev) -> Path:
        path = self.versions / f"{rev.revision}.py"
        path.write_text(
            REVISION.format(
                message=rev.message or f"revision {rev.revision}",
                revision=rev.revision,
                down=rev.down,
                upgrade=_body(rev.upgrade, rev.autocommit),
                downgrade=_body(rev.downgrade, rev.autocommit),
            )
        )
        return path

    def settings(self, url: str | None = None, **overrides: object) -> Settings:
        return load_settings({"database_url": url, **overrides}, cwd=self.root, environ={})
