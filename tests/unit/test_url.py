import pytest

from dbctl.errors import ConfigError
from dbctl.pg.url import (
    database_name,
    default_driver,
    driver,
    libpq_url,
    migration_url,
    normalize_url,
    redact,
    sqlalchemy_url,
    with_database,
)

pytestmark = pytest.mark.unit

DEFAULT = default_driver()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://h/d?sslmode=require", "postgresql+psycopg://h/d?sslmode=require"),
        ("  postgresql+psycopg2://u@h/d ", "postgresql+psycopg://u@h/d"),
    ],
)
def test_normalize_accepts_every_postgres_spelling(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    ("given", "named", "sqlalchemy", "migration"),
    [
        ("postgresql://u@h/d", None, "postgresql://u@h/d", f"postgresql+{DEFAULT}://u@h/d"),
        ("postgres://u@h/d", None, "postgresql://u@h/d", f"postgresql+{DEFAULT}://u@h/d"),
        (
            "postgresql+psycopg2://u@h/d",
            "psycopg2",
            "postgresql+psycopg2://u@h/d",
            "postgresql+psycopg2://u@h/d",
        ),
        (
            "postgresql+asyncpg://u@h/d",
            "asyncpg",
            "postgresql+asyncpg://u@h/d",
            "postgresql+psycopg://u@h/d",
        ),
        (
            "postgresql+pg8000://u@h/d",
            "pg8000",
            "postgresql+pg8000://u@h/d",
            "postgresql+pg8000://u@h/d",
        ),
    ],
)
def test_the_driver_a_url_names_is_kept_for_the_project(
    given: str, named: str | None, sqlalchemy: str, migration: str
) -> None:
    """dbctl's own reads use psycopg 3; the project's migrations run on its own driver (the
    installed SQLAlchemy's default when it names none), except an asyncio one, which a
    blocking connection cannot use."""
    assert driver(given) == named
    assert sqlalchemy_url(given) == sqlalchemy
    assert migration_url(given) == migration


def test_settings_keep_the_url_as_given() -> None:
    from dbctl.config import load_settings

    settings = load_settings({"database_url": " postgresql+psycopg2://u@h/d "}, environ={})
    assert settings.database_url == "postgresql+psycopg2://u@h/d"


def test_libpq_url_drops_the_driver() -> None:
    assert libpq_url("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"


@pytest.mark.parametrize(
    "bad", ["mysql://u@h/d", "sqlite:///x.db", "just-a-name", "postgresql+mysqldb://h/d"]
)
def test_other_databases_are_refused_in_one_line(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_url(bad)
    assert "\n" not in str(info.value)


def test_refusal_never_shows_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        normalize_url("mysql://user:hunter2@h/d")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:hunter2@h:5/d", "postgresql://u:***@h:5/d"),
        ("postgresql://u:p%40ss@h/d", "postgresql://u:***@h/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("postgresql://u@h/d?password=hunter2&x=1", "postgresql://u@h/d?password=***&x=1"),
        ("postgresql://u:a@h/d?password=b", "postgresql://u:***@h/d?password=***"),
    ],
)
def test_redact_hides_passwords(given: str, expected: str) -> None:
    assert redact(given) == expected


def test_with_database_and_database_name() -> None:
    url = with_database("postgresql+psycopg://u:p@h:1/app?x=1", "other")
    assert url == "postgresql+psycopg://u:p@h:1/other?x=1"
    assert database_name(url) == "other"
    assert database_name("postgresql://bob@h") == "bob"
