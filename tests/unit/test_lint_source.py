"""Transaction control a revision runs itself (squawk's ``transaction-nesting``), read from
its Python: in Alembic's offline SQL it looks the same as an autocommit_block's."""

from __future__ import annotations

from dbctl.lint.source import transaction_control

SOURCE = """
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.execute("ALTER TYPE mood ADD VALUE 'meh'")
    op.execute("COMMIT")  # the old trick for ADD VALUE before PostgreSQL 12
    op.execute(sa.text("commit;"))
    bind = op.get_bind()
    bind.exec_driver_sql("  BEGIN ")
    op.execute("END")
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY ix ON t (a)")
    op.execute("SELECT 'COMMIT'")
    op.execute("UPDATE t SET note = 'commit'")
    op.execute("ROLLBACK; DROP TABLE x")


def downgrade():
    op.execute("COMMIT")
"""


def test_each_transaction_statement_of_upgrade_with_its_line() -> None:
    assert transaction_control(SOURCE) == [
        (8, "COMMIT"),
        (9, "COMMIT"),
        (11, "BEGIN"),
        (12, "COMMIT"),
        (17, "ROLLBACK"),
    ]


def test_nothing_for_code_that_does_not_parse_or_has_no_upgrade() -> None:
    assert transaction_control("def upgrade(:\n") == []
    assert transaction_control("x = 'COMMIT'\n") == []
