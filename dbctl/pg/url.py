"""Database URLs: one place that normalises them and hides their passwords.

dbctl accepts ``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` alike and
always talks to PostgreSQL through psycopg 3. ``normalize_url`` gives the SQLAlchemy form,
``libpq_url`` the plain form psycopg and libpq take, and ``redact`` the form that may be
printed. Only the standard library is imported here, so error paths stay cheap.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

from dbctl.errors import ConfigError

SQLALCHEMY_SCHEME = "postgresql+psycopg"
_ACCEPTED_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


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
            "URLs (postgresql://, postgres:// or postgresql+psycopg://)"
        )
    return parts


def normalize_url(url: str) -> str:
    """Return ``url`` with the ``postgresql+psycopg`` scheme SQLAlchemy needs."""
    return urlunsplit(_split(url)._replace(scheme=SQLALCHEMY_SCHEME))


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
