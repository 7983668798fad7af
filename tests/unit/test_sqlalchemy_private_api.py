"""The private SQLAlchemy and Alembic attributes dbctl's models catalog and migration session
rely on (lifecycle/model_*, models, migrate), checked on the installed versions: a new
release that renames one fails here, by name, not deep inside verify-schema. pyproject pins
the ranges these were checked on (SQLAlchemy < 2.2, Alembic < 2) (issue 13)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

pytestmark = pytest.mark.unit


def test_the_private_sqlalchemy_attributes_exist() -> None:
    from sqlalchemy.orm import mapperlib
    from sqlalchemy.sql import naming
    from sqlalchemy.sql.base import _NONE_NAME  # model_names
    from sqlalchemy.sql.elements import conv  # model_names

    metadata = sa.MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})
    sa.Sequence("seq_a", metadata=metadata)
    kind = sa.Enum("a", "b", name="kind", create_constraint=True)
    table = sa.Table(
        "t",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", kind),
        sa.Column("n", sa.Integer().with_variant(sa.BigInteger(), "postgresql")),
        prefixes=["UNLOGGED"],
    )
    index = sa.Index(None, table.c.kind)
    assert "seq_a" in metadata._sequences  # model_plan
    assert list(table._sorted_constraints)  # model_plan
    assert table._autoincrement_column is table.c.id  # model_plan
    assert table._prefixes == ["UNLOGGED"]  # model_plan
    ddl = postgresql.dialect().ddl_compiler(postgresql.dialect(), None)
    for constraint in table.constraints:
        assert isinstance(constraint._should_create_for_compiler(ddl), bool)  # model_plan
    assert isinstance(table.primary_key._implicit_generated, bool)  # model_plan
    assert any(getattr(c, "_type_bound", False) for c in table.constraints)  # model_plan
    assert table.c.n.type._variant_mapping  # model_compile
    ddl._verify_index_table(index)  # model_indexes
    assert callable(naming._constraint_name_for_table)  # model_names (documented there)
    assert _NONE_NAME is not None and conv is not None
    assert isinstance(mapperlib._all_registries(), set | frozenset)  # models


def test_the_private_alembic_attributes_exist() -> None:
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext

    assert "_migration_context" in EnvironmentContext.__init__.__code__.co_names or hasattr(
        EnvironmentContext, "_migration_context"
    )  # migrate: the context env.py configured
    assert "_in_external_transaction" in MigrationContext.__init__.__code__.co_names  # migrate
