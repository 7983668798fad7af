"""The migration writer without a database: revision ids, heads, the file it writes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dbctl.access.model import AccessPattern, Kind, SortKey, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.migration import model_indexes, write_migration
from dbctl.errors import ConfigError
from dbctl.lifecycle.revisions import needs_autocommit
from dbctl.pg.catalog import Catalog, Table
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.unit

CATALOG = Catalog.build(
    [
        Table("public", "customers"),
        Table("sales", "events", kind="partitioned table"),
    ]
)


def pattern(table: str, **access: object) -> AccessPattern:
    return AccessPattern(
        Statement(f"SELECT 1 FROM {table}", "q.sql", 1),
        Kind.select,
        (TableAccess(table, **access),),  # type: ignore[arg-type]
    )


EMAIL = pattern("public.customers", equality=("email",))


def test_numbered_revisions_get_the_next_number(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path)
    project.add(Rev("0001", None, "SELECT 1"))
    project.add(Rev("0002", "0001", "SELECT 1"))
    path = write_migration(advise([EMAIL], CATALOG), project.settings())
    assert path == project.versions / "0003_ix_customers_email.py"
    source = path.read_text()
    assert 'revision: str = "0003"' in source
    assert 'down_revision: str | Sequence[str] | None = "0002"' in source
    assert "import sqlalchemy" not in source  # plain columns need no sa.text


def test_first_revision_and_random_ids(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path)
    path = write_migration(advise([EMAIL], CATALOG), project.settings())
    source = path.read_text()
    assert "down_revision: str | Sequence[str] | None = None" in source
    tree = ast.parse(source)
    revision = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "revision"
        and isinstance(node.value, ast.Constant)
    )
    assert len(revision) == 12 and path.name.startswith(revision)


def test_the_file_creates_concurrently_and_drops_in_reverse(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path)
    project.add(Rev("a1", None, "SELECT 1"))
    advice = advise(
        [
            EMAIL,
            pattern(
                "sales.events",
                equality=("kind",),
                sort=(SortKey("at", descending=True, nulls_first=False),),
                limit=True,
            ),
        ],
        CATALOG,
    )
    source = write_migration(advice, project.settings()).read_text()
    ast.parse(source)
    assert needs_autocommit(source)
    upgrade, downgrade = source.split("def upgrade")[1].split("def downgrade")
    assert upgrade.index("ix_events_kind_at") < upgrade.index("ix_customers_email")
    assert downgrade.index("ix_customers_email") < downgrade.index("ix_events_kind_at")
    # The partitioned table: no CONCURRENTLY (PostgreSQL has none there), its schema named.
    events = upgrade[upgrade.index('"ix_events_kind_at"') :]
    assert events.split(")\n")[0].count("postgresql_concurrently") == 0
    assert 'schema="sales"' in events
    # ORDER BY at DESC NULLS LAST is a backward scan of (at NULLS FIRST).
    assert '["kind", sa.text("at NULLS FIRST")]' in events
    assert "import sqlalchemy as sa" in source
    assert [line.code for line in model_indexes(advice)] == [
        'Index("ix_events_kind_at", "kind", text("at NULLS FIRST"))',
        'Index("ix_customers_email", "email")',
    ]


def test_several_heads_or_nothing_to_write(tmp_path: Path) -> None:
    project = AlembicProject(tmp_path)
    project.add(Rev("a", None, "SELECT 1"))
    project.add(Rev("b", "a", "SELECT 1"))
    project.add(Rev("c", "a", "SELECT 1"))
    with pytest.raises(ConfigError, match="2 heads"):
        write_migration(advise([EMAIL], CATALOG), project.settings())
    with pytest.raises(ValueError, match="no suggested index"):
        write_migration(advise([], CATALOG), project.settings())
