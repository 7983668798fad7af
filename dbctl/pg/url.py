"""Database URLs: one place that normalises them and hides their passwords.

dbctl accepts ``postgresql://``, ``postgres://`` and ``postgresql+DRIVER://`` for the
drivers SQLAlchemy has for PostgreSQL. Its own reads always go through psycopg 3
(``normalize_url`` gives that SQLAlchemy form, ``libpq_url`` the plain form psycopg and
libpq take); the project's migrations run on the driver the URL names
(``sqlalchemy_url``, ``migration_url``), since revisions can depend on it. ``redact``
gives the form that may be printed. Only the standard library is imported here, so error
paths stay cheap.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

from dbctl.errors import ConfigError

SQLALCHEMY_SCHEME = "postgresql+psycopg"
# SQLAlchemy's PostgreSQL drivers: blocking ones, and asyncio ones (which a sync
# connection cannot use: dbctl's own connection for them is psycopg 3).
SYNC_DRIVERS = frozenset({"psycopg", "psycopg2", "psycopg2cffi", "pg8000"})
ASYNC_DRIVERS = frozenset({"asyncpg", "psycopg_async"})
_ACCEPTED_SCHEMES = {
    "postgresql",
    "postgres",
    *(f"postgresql+{driver}" for driver in SYNC_DRIVERS | ASYNC_DRIVERS),
}


def _split(url: str) -> SplitResult:
    text = url.strip()
    if "://" not in text:
        raise ConfigError(
            f"not a database URL: {redact(text)!r}; "
            "expected postgresql://user:password@host:port/dbname"
        )
    parts = urlsplit(text)
    if parts.scheme.lower() not in _ACCEPTED_SCHEMES:
        raise ConfigError(
            f"unsupported database URL scheme {parts.scheme!r}: dbctl works with PostgreSQL "
            "URLs (postgresql://, postgres:// or postgresql+DRIVER:// with DRIVER one of "
            f"{', '.join(sorted(SYNC_DRIVERS | ASYNC_DRIVERS))})"
        )
    return parts


def check_url(url: str) -> str:
    """``url`` as given (trimmed), once it is known to be a PostgreSQL URL."""
    _split(url)
    return url.strip()


def normalize_url(url: str) -> str:
    """Return ``url`` with the ``postgresql+psycopg`` scheme of dbctl's own connections."""
    return urlunsplit(_split(url)._replace(scheme=SQLALCHEMY_SCHEME))


def driver(url: str) -> str | None:
    """The driver a URL names (``psycopg2`` in ``postgresql+psycopg2://``), else None."""
    scheme = _split(url).scheme.lower()
    return scheme.partition("+")[2] or None


def sqlalchemy_url(url: str) -> str:
    """``url`` as SQLAlchemy reads it, driver kept: ``postgres://`` is ``postgresql://``, and
    a URL that names no driver gets the installed SQLAlchemy's default, as it would in the
    project's own ``create_engine``."""
    named = driver(url)
    scheme = f"postgresql+{named}" if named else "postgresql"
    return urlunsplit(_split(url)._replace(scheme=scheme))


def default_driver() -> str:
    """The driver SQLAlchemy picks for ``postgresql://`` (psycopg2 before 2.1, psycopg 3
    since), when it is installed; else psycopg 3, dbctl's own."""
    import importlib.util

    from sqlalchemy.engine import make_url

    try:
        name = make_url("postgresql://").get_dialect().driver
    except ImportError:
        return "psycopg"
    module = {"psycopg2": "psycopg2", "psycopg": "psycopg"}.get(name)
    return name if module and importlib.util.find_spec(module) is not None else "psycopg"


def migration_url(url: str) -> str:
    """The URL of the blocking connection dbctl migrates on, which the project's env.py
    shares: the driver ``url`` names when it blocks (revisions can depend on it), SQLAlchemy's
    default when it names none (what ``alembic upgrade`` would use), psycopg 3 for an
    asyncio driver."""
    named = driver(url)
    if named is None:
        named = default_driver()
    elif named not in SYNC_DRIVERS:
        named = "psycopg"
    return urlunsplit(_split(url)._replace(scheme=f"postgresql+{named}"))


def libpq_url(url: str) -> str:
    """Return ``url`` in the plain ``postgresql://`` form libpq and psycopg accept."""
    return urlunsplit(_split(url)._replace(scheme="postgresql"))


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at another database of the same server."""
    return urlunsplit(_split(url)._replace(path="/" + database))


def database_name(url: str) -> str:
    """The database a URL names (libpq's default, the user name, when it names none)."""
    parts = _split(url)
    return parts.path.lstrip("/") or (parts.username or "postgres")


def redact(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``; safe to print or log."""
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return "<unparsable URL>"
    if has_password:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:***@{hostinfo}")
    if "password=" in parts.query:
        # libpq also takes the password as a query parameter.
        query = "&".join(
            "password=***" if item.startswith("password=") else item
            for item in parts.query.split("&")
        )
        parts = parts._replace(query=query)
    return urlunsplit(parts)
