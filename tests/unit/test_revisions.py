import pytest

from dbctl.lifecycle.revisions import file_checksum, needs_autocommit

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('def upgrade():\n    op.create_index("ix", "t", ["a"])\n', False),
        (
            "def upgrade():\n    with op.get_context().autocommit_block():\n"
            "        op.execute(\"ALTER TYPE mood ADD VALUE 'x'\")\n",
            True,
        ),
        (
            'def upgrade():\n    op.create_index("ix", "t", ["a"], postgresql_concurrently=True)\n',
            True,
        ),
        ('def upgrade():\n    op.execute("create index concurrently ix on t (a)")\n', True),
        ('def upgrade():\n    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix")\n', True),
        # Mentions in docstrings and comments do not count.
        ('"""Refresh with REFRESH MATERIALIZED VIEW CONCURRENTLY."""\nx = 1\n', False),
        ("def upgrade():\n    # CREATE INDEX CONCURRENTLY later\n    pass\n", False),
        ('def upgrade():\n    """CREATE INDEX CONCURRENTLY is for later."""\n', False),
        ("def upgrade(:\n", False),
    ],
)
def test_needs_autocommit(source: str, expected: bool) -> None:
    assert needs_autocommit(source) is expected


def test_checksum_ignores_line_endings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    unix, windows, other = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    unix.write_bytes(b"x = 1\ny = 2\n")
    windows.write_bytes(b"x = 1\r\ny = 2\r\n")
    other.write_bytes(b"x = 1\ny = 3\n")
    assert file_checksum(unix) == file_checksum(windows)
    assert file_checksum(unix) != file_checksum(other)
