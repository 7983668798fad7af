"""The migration writer without a database: revision ids, heads, the file it writes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbctl.access.model import AccessPattern, Kind, SortKey, Statement, TableAccess
from dbctl.advise.advisor import advise
from dbctl.advise.migration import model_indexes, revision_source, write_migration
from dbctl.errors import ConfigError
from dbctl.lifecycle.revisions import needs_autocommit
from dbctl.schema.catalog import Catalog, Table
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


# Names PostgreSQL accepts and Python source does not take as they are: a quote, a newline,
# a triple quote, "\N" (a SyntaxError in a plain string literal), a colon (a bind parameter
# to sa.text), "%", non-ASCII, a reserved word, mixed case, 63-byte names alike in 62 bytes.
HOSTILE_SCHEMA = 'sch.ema "x"'
HOSTILE_TABLE = 'we"ird\nname'
TRIPLE = 'q"""x\\N{'
COLON = "a:b"
LONG_A, LONG_B = "é" * 31 + "a", "é" * 31 + "b"
HOSTILE_CATALOG = Catalog.build([Table(HOSTILE_SCHEMA, HOSTILE_TABLE)])
HOSTILE_PATTERNS = [
    pattern(f"{HOSTILE_SCHEMA}.{HOSTILE_TABLE}", equality=("user", "order")),
    pattern(
        f"{HOSTILE_SCHEMA}.{HOSTILE_TABLE}",
        equality=(TRIPLE,),
        sort=(SortKey(COLON, descending=True, nulls_first=False), SortKey("Select%")),
        limit=True,
    ),
    pattern(f"{HOSTILE_SCHEMA}.{HOSTILE_TABLE}", equality=(LONG_A,)),
    pattern(f"{HOSTILE_SCHEMA}.{HOSTILE_TABLE}", equality=(LONG_B,)),
]


def create_calls(source: str) -> list[ast.Call]:
    tree = ast.parse(source)
    upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
    return [
        node
        for node in ast.walk(upgrade)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_index"
    ]


def key_item(node: ast.expr) -> str:
    """A key item as the SQL it gives: a column name, or the text of ``sa.text(...)``
    as SQLAlchemy compiles it for PostgreSQL (escaped colons read back)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    if isinstance(node, ast.Call):
        text = ast.literal_eval(node.args[0])
        return str(sa.text(text).compile(dialect=postgresql.dialect()))
    return '"' + ast.literal_eval(node) + '"'


def test_hostile_names_make_a_revision_python_reads_back(tmp_path: Path) -> None:
    advice = advise(HOSTILE_PATTERNS, HOSTILE_CATALOG)
    names = [s.name for s in advice.suggestions]
    assert len(names) == 4 and len(set(names)) == 4
    assert all(len(name.encode()) <= 63 for name in names)
    project = AlembicProject(tmp_path)
    project.add(Rev("a1", None, "SELECT 1"))
    path = write_migration(advice, project.settings())
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")
    calls = create_calls(source)
    assert [ast.literal_eval(call.args[0]) for call in calls] == names
    assert {ast.literal_eval(call.args[1]) for call in calls} == {HOSTILE_TABLE}
    schemas = {ast.literal_eval(k.value) for c in calls for k in c.keywords if k.arg == "schema"}
    assert schemas == {HOSTILE_SCHEMA}
    keys = [[key_item(item) for item in call.args[2].elts] for call in calls]  # type: ignore[attr-defined]
    assert ['"user"', '"order"'] in keys
    assert [f'"{TRIPLE}"', '"a:b" NULLS FIRST', '"Select%%" DESC'] in keys
    assert [f'"{LONG_A}"'] in keys and [f'"{LONG_B}"'] in keys
    # The docstring shows the names with the newline escaped, the triple quote broken up.
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert 'on "sch.ema ""x""\\"."we""ird\\nname"' in docstring
    model_code = [line.code for line in model_indexes(advice)]
    for code in model_code:
        compile(code, "<model>", "eval")
    assert str(path.name).isascii()


def test_a_revision_that_does_not_compile_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbctl.advise import migration
    from dbctl.errors import DbctlError

    project = AlembicProject(tmp_path)
    project.add(Rev("a1", None, "SELECT 1"))
    before = sorted(project.versions.iterdir())
    # The writer's quoting as it was: a newline in a name ends the string literal.
    monkeypatch.setattr(migration, "_literal", lambda value: f'"{value}"')
    with pytest.raises(DbctlError) as raised:
        write_migration(advise(HOSTILE_PATTERNS, HOSTILE_CATALOG), project.settings())
    message = str(raised.value)
    assert "\n" not in message and "not valid Python" in message
    assert raised.value.exit_code == 2
    assert sorted(project.versions.iterdir()) == before


_NAME = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1)


@settings(max_examples=60, deadline=None)
@given(schema=_NAME, table=_NAME, columns=st.lists(_NAME, min_size=1, max_size=3, unique=True))
def test_any_names_give_source_that_compiles(schema: str, table: str, columns: list[str]) -> None:
    catalog = Catalog.build([Table(schema, table)])
    sort = (SortKey(columns[-1], descending=True, nulls_first=False),)
    patterns = [pattern(f"{schema}.{table}", equality=tuple(columns[:-1]), sort=sort, limit=True)]
    advice = advise(patterns, catalog)
    source = revision_source(advice, revision='a\'"""\\', down_revision=None)
    compile(source, "<revision>", "exec")
    [call] = create_calls(source)
    assert ast.literal_eval(call.args[1]) == table
    assert ast.literal_eval(call.args[0]) == advice.suggestions[0].name


def test_names_given_twice_or_too_long_are_refused(tmp_path: Path) -> None:
    from dataclasses import replace

    from dbctl.errors import DbctlError

    project = AlembicProject(tmp_path)
    advice = advise(HOSTILE_PATTERNS, HOSTILE_CATALOG)
    first, second, *rest = advice.suggestions
    twice = replace(advice, suggestions=[first, replace(second, name=first.name), *rest])
    with pytest.raises(DbctlError, match="is given twice: nothing was written"):
        write_migration(twice, project.settings())
    long = replace(advice, suggestions=[replace(first, name="é" * 32)])
    with pytest.raises(DbctlError, match="longer than 63 bytes"):
        write_migration(long, project.settings())
    assert list(project.versions.iterdir()) == []
