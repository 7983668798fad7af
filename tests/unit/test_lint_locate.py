"""Where in a revision's file a finding's statement comes from (the line GitHub and SARIF
annotate): the upgrade() statement that names what the SQL names."""

from __future__ import annotations

from dbctl.lint.source import first_line_of_upgrade, locate

SOURCE = '''"""add things"""
from alembic import op
import sqlalchemy as sa

revision = "b"
down_revision = "a"


def upgrade():
    op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))
    op.create_index(
        "ix_users_email",
        "users",
        ["email"],
    )
    op.alter_column("users", "name", nullable=False)
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_at", "orders", ["at"], postgresql_concurrently=True)
    op.execute("ALTER TABLE orders ADD CONSTRAINT ck_orders_n CHECK (n > 0)")


def downgrade():
    op.drop_index("ix_users_email", "users")
    op.alter_column("users", "name", nullable=True)
'''


def test_each_statement_is_found_at_the_call_that_makes_it() -> None:
    assert locate(SOURCE, "ALTER TABLE users ADD COLUMN age INTEGER") == 10
    assert locate(SOURCE, "CREATE INDEX ix_users_email ON users (email)") == 11
    assert locate(SOURCE, "ALTER TABLE users ALTER COLUMN name SET NOT NULL") == 16
    assert locate(SOURCE, "CREATE INDEX CONCURRENTLY ix_orders_at ON orders (at)") == 18
    sql = "ALTER TABLE orders ADD CONSTRAINT ck_orders_n CHECK (n > 0)"
    assert locate(SOURCE, sql) == 19


def test_downgrade_is_never_chosen_and_unknown_names_give_no_line() -> None:
    # the same names are in downgrade(): upgrade's lines only
    assert locate(SOURCE, 'DROP INDEX "ix_users_email"') == 11
    assert locate(SOURCE, "ALTER TABLE invoices ADD COLUMN x int") is None
    assert locate("def upgrade(:\n", "ALTER TABLE users ADD COLUMN x int") is None


def test_a_finding_without_a_statement_points_at_the_start_of_upgrade() -> None:
    assert first_line_of_upgrade(SOURCE) == 10
    assert first_line_of_upgrade("x = 1\n") is None


BATCH = """
def upgrade():
    op.add_column("orders", sa.Column("name", sa.Text()))
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", nullable=False)
        if True:
            batch_op.drop_column("legacy")
"""


def test_a_batch_block_lends_its_table_to_its_statements() -> None:
    assert locate(BATCH, "ALTER TABLE users ALTER COLUMN name SET NOT NULL") == 5
    assert locate(BATCH, "ALTER TABLE users DROP COLUMN legacy") == 7
    assert locate(BATCH, "ALTER TABLE orders ADD COLUMN name TEXT") == 3


HELPER = """
FK = "fk_trace_info_experiment_id"


def _alter(ondelete=None):
    op.drop_constraint(FK, "trace_info", type_="foreignkey")
    op.create_foreign_key(FK, "trace_info", "experiments", ["experiment_id"], ["id"])


def upgrade():
    _alter(ondelete="CASCADE")


def downgrade():
    op.create_foreign_key(FK, "trace_info", "experiments", ["experiment_id"], ["id"])
"""


def test_a_helper_upgrade_calls_is_searched_when_upgrade_names_nothing() -> None:
    sql = (
        "ALTER TABLE trace_info ADD CONSTRAINT fk_trace_info_experiment_id FOREIGN KEY "
        "(experiment_id) REFERENCES experiments (id) ON DELETE CASCADE"
    )
    assert locate(HELPER, sql) == 7


RESERVED = """from alembic import op


def upgrade():
    op.execute('ALTER TABLE "order" ALTER COLUMN "select" TYPE bigint')
    op.execute('ALTER TABLE "select"."user" ALTER COLUMN "Group" SET NOT NULL')
    op.execute('ALTER TABLE "order" RENAME COLUMN "from" TO "where"')
    op.drop_column("order", "select")
"""


def test_a_reserved_word_quoted_as_a_name_counts_as_a_name() -> None:
    """``"order"``, ``"select"``, ``"user"``: quoted in the SQL they are the table's and
    the columns' names, not SQL's words."""
    assert locate(RESERVED, 'ALTER TABLE "order" ALTER COLUMN "select" TYPE bigint') == 5
    assert locate(RESERVED, 'ALTER TABLE "select"."user" ALTER COLUMN "Group" SET NOT NULL') == 6
    assert locate(RESERVED, 'ALTER TABLE "order" RENAME COLUMN "from" TO "where"') == 7
    assert locate(RESERVED, "SELECT 1 FROM nothing WHERE true") is None
