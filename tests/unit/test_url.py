import pytest

from dbctl.errors import ConfigError
from dbctl.pg.url import (
    check_url,
    components,
    database_name,
    default_driver,
    driver,
    libpq_url,
    migration_url,
    normalize_url,
    redact,
    scrub,
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


# -- hostile input: every form a URL comes in, and no password in any message -------------

SECRET = "S3cr3tPw"


def refused(url: str) -> str:
    with pytest.raises(ConfigError) as info:
        check_url(url)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "host=h port=5432 password=secret dbname=d",
            "postgresql://:secret@h:5432/d",
        ),
        (
            "host = h  user=app password='a b\\'c' dbname=d sslmode=require",
            "postgresql://app:a%20b%27c@h/d?sslmode=require",
        ),
        ("dbname=d", "postgresql:///d"),
        ("host=::1 port=5 user=a", "postgresql://a@[::1]:5"),
        ("host=h1,h2 port=1,2 dbname=d", "postgresql://h1:1,h2:2/d"),
        ("host=h1,h2 port=7 dbname=d", "postgresql://h1:7,h2:7/d"),
        ("host=/tmp port=5433 dbname=d", "postgresql:///d?host=/tmp&port=5433"),
        ("password=p\\ q dbname=d options='-c x=1'", "postgresql://:p%20q@/d?options=-c%20x%3D1"),
    ],
)
def test_libpq_keyword_strings_become_urls(given: str, expected: str) -> None:
    """psql takes key=value strings as well as URLs: so does dbctl, as the URL that means
    the same to libpq and SQLAlchemy."""
    assert check_url(given) == expected


@pytest.mark.parametrize(
    ("given", "password"),
    [
        ("host=h password=secret dbname=d", "secret"),
        ("host=h password='a b\\'c' dbname=d", "a b'c"),
        ("postgresql://u:pa#ss@h/d", "pa#ss"),
        ("postgresql://u:pa?ss@h/d", "pa?ss"),
        ("postgresql://u:p%40ss@h/d", "p@ss"),
        ("postgresql://u:a:b@h/d", "a:b"),
    ],
)
def test_libpq_and_sqlalchemy_read_the_same_password(given: str, password: str) -> None:
    """Where libpq and SQLAlchemy agree on the password, the URL dbctl passes on gives both
    that password (a '#' or '?' percent-encoded, which Python's urlsplit also reads)."""
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import make_url

    url = check_url(given)
    assert conninfo_to_dict(libpq_url(url))["password"] == password
    assert make_url(normalize_url(url)).password == password
    assert make_url(migration_url(url)).password == password
    assert components(url)["password"] == password
    assert password not in redact(given)
    assert password not in redact(url)


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ("postgresql://u:pa/S3cr3tPw@h/d", "'/' is %2F"),
        ("postgresql://u:S3cr3tPw/x@h:5432/d", "'/' is %2F"),
        ("postgresql://u:S3cr3t@Pw@h/d", "'@' is %40"),
        ("postgresql://u:S3cr3tPw%zz@h/d", "'%' is %25"),
        ("postgresql://u:S3cr3tPw%4@h/d", "'%' is %25"),
        # '@', '#', '/' and '?' all unencoded: the first '@' ends the user info early
        ("postgresql://u:S3@cr#3t/Pw?@h:5432/d", "'#' is %23"),
        ("postgresql://u:S3@cr3t/Pw@h:5432/d", "'@' is %40"),
    ],
)
def test_ambiguous_passwords_are_refused_without_showing_them(given: str, names: str) -> None:
    message = refused(given)
    assert "percent-encode the password" in message
    assert names in message
    for part in ("S3cr3t", "Pw"):
        assert part not in message


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ("postgresql://u:S3cr3tPw@h:notaport/d", "not a number from 1 to 65535"),
        ("postgresql://u:S3cr3tPw@h:99999/d", "not a number from 1 to 65535"),
        ("postgresql://u:S3cr3tPw@h:0/d", "not a number from 1 to 65535"),
        ("postgresql://u:S3cr3tPw@h1:5432,h2:x/d", "after host 'h2'"),
        ("postgresql://u:S3cr3tPw@[::1/d", "no closing ']'"),
        ("postgresql://u:S3cr3tPw@[::1]x/d", "text after the IPv6 host"),
        ("postgresql://u:S3cr3tPw", "after host 'u'"),  # no host: the password reads as a port
        ("host=h port=notaport password=S3cr3tPw", "not a number from 1 to 65535"),
        ("host=h password='S3cr3tPw", "no closing '"),
        ("host=h password=S3cr3t Pw", "a word with no '='"),
        ("host=h password=S3cr3tPw dbnmae=d", "keyword libpq does not know"),
        ("S3cr3tPw", "not a database URL"),
        ("mysql://u:S3cr3tPw@h/d", "unsupported database URL scheme 'mysql'"),
        ("postgresql://u:S3cr3tPw@h/d\nx", "line break"),
    ],
)
def test_bad_urls_are_one_line_that_names_the_problem(given: str, names: str) -> None:
    message = refused(given)
    assert names in message
    assert "S3cr3t" not in message


def test_an_unknown_keyword_is_named_when_no_password_is_near() -> None:
    assert "'dbnmae'" in refused("host=h dbnmae=d")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:pa#ss@h/d", "postgresql://u:***@h/d"),
        (
            "postgresql://u@h/d?sslpassword=S3cr3tPw&sslmode=require",
            "postgresql://u@h/d?sslpassword=***&sslmode=require",
        ),
        (
            "postgresql+asyncpg://u@h/d?api_token=t0k&client_secret=s&x=1",
            "postgresql+asyncpg://u@h/d?api_token=***&client_secret=***&x=1",
        ),
        ("postgresql://u:S3cr3tPw@h1:1,h2:2/d", "postgresql://u:***@h1:1,h2:2/d"),
        ("host=h password=S3cr3tPw dbname=d", "postgresql://:***@h/d"),
        ("postgresql://u:pa/S3cr3tPw@h/d", "postgresql://u:***@h/d"),  # refused, still hidden
        ("postgresql://u:S3cr3t@Pw@h/d", "postgresql://u:***@h/d"),
        ("not a url S3cr3tPw", "<not a URL>"),
    ],
)
def test_redact_hides_every_form(given: str, expected: str) -> None:
    assert redact(given) == expected


@pytest.mark.parametrize(
    "text",
    [
        'could not connect: "postgresql://u:S3cr3t#/?@Pw@h:5/d": refused',
        "invalid dsn: host=h password=S3cr3tPw dbname=d",
        "invalid dsn: host=h password='S3cr3t Pw\\'x' dbname=d",
        "postgresql://u@h/d?sslpassword=S3cr3tPw&sslmode=require failed",
        "DSN postgresql+asyncpg://u:S3cr3tPw@h/d?x=1 (api_token=S3cr3tPw)",
        'PGPASSWORD="S3cr3tPw" psql',
    ],
)
def test_scrub_hides_passwords_in_free_text(text: str) -> None:
    scrubbed = scrub(text)
    assert "S3cr3t" not in scrubbed
    assert "Pw" not in scrubbed.replace("PGPASSWORD", "")
    assert "***" in scrubbed


def test_scrub_hides_a_password_it_has_seen_even_when_quoted_alone() -> None:
    """libpq's 'invalid percent-encoded token: "..."' quotes a password with no URL around
    it: once dbctl has parsed a URL, its password is hidden wherever it shows up."""
    check_url("postgresql://u:Un1queSecret%21@h/d")
    assert scrub('token: "Un1queSecret!" and Un1queSecret%21') == 'token: "***" and ***'
    check_url("postgresql://postgres:postgres@h/postgres")  # the user's own name stays
    assert scrub("postgresql://h/postgres") == "postgresql://h/postgres"


def test_scrub_leaves_masked_text_as_it_is() -> None:
    text = "cannot connect to postgresql://u:***@h/d?sslpassword=***: refused"
    assert scrub(text) == text


@pytest.mark.parametrize(
    ("given", "libpq", "sqlalchemy"),
    [
        (
            "postgresql+psycopg2://u:pw@h1:1,h2:2/d",
            "postgresql://u:pw@h1:1,h2:2/d",
            "postgresql+psycopg2://u:pw@/d?host=h1,h2&port=1,2",
        ),
        (
            "postgresql+asyncpg://u:pw@/d?host=h1:1&host=h2:2&ssl=true",
            "postgresql://u:pw@/d?sslmode=require&host=h1,h2&port=1,2",
            "postgresql+asyncpg://u:pw@/d?host=h1:1&host=h2:2&ssl=true",
        ),
    ],
)
def test_several_hosts_reach_libpq_and_sqlalchemy(given: str, libpq: str, sqlalchemy: str) -> None:
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import make_url

    assert libpq_url(given) == libpq
    assert sqlalchemy_url(given) == sqlalchemy
    assert conninfo_to_dict(libpq)["host"] == "h1,h2"
    engine_url = make_url(normalize_url(given))
    args = engine_url.get_dialect()().create_connect_args(engine_url)[1]
    assert (args["host"], args["port"]) == ("h1,h2", "1,2")
    assert components(given)["host"] == "h1"
    assert components(given)["port"] == "1"


def test_an_at_sign_in_the_query_is_not_read_as_user_info() -> None:
    """SQLAlchemy reads 'h:5432/d?x=a' as user and password when an '@' follows."""
    from sqlalchemy.engine import make_url

    url = check_url("postgresql://h:5432/d?application_name=me@laptop")
    assert make_url(url).host == "h"
    assert make_url(url).query["application_name"] == "me@laptop"
    assert "ambiguous" in refused("postgresql://h:5432/d@x")


def test_query_values_keep_their_spaces_for_libpq() -> None:
    """'+' is a space to urlencode's default and a '+' to libpq: values are %20-encoded."""
    from psycopg.conninfo import conninfo_to_dict

    url = libpq_url("postgresql+asyncpg://h/d?options=-c%20x%3D1&ssl=true")
    assert conninfo_to_dict(url)["options"] == "-c x=1"
