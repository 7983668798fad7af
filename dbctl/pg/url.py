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

import re
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

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
    elif named not in SYNC_DRIVERS:  # an asyncio driver's parameters are not libpq's
        return "postgresql+psycopg" + libpq_url(url).removeprefix("postgresql")
    return urlunsplit(_split(url)._replace(scheme=f"postgresql+{named}"))


# The query parameters libpq knows; a URL written for another driver carries others
# (asyncpg's ssl, prepared_statement_cache_size...) that libpq would refuse.
LIBPQ_PARAMETERS = frozenset(
    """host hostaddr port dbname user password passfile require_auth channel_binding
    connect_timeout client_encoding options application_name fallback_application_name
    keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
    replication gssencmode sslmode requiressl sslcompression sslcert sslkey sslpassword
    sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer ssl_min_protocol_version
    ssl_max_protocol_version krbsrvname gsslib gssdelegation service target_session_attrs
    load_balance_hosts""".split()  # noqa: SIM905 (a list of 41 words reads better so)
)
# asyncpg's ssl=... as libpq's sslmode (asyncpg also takes true/false).
_SSL_MODES = {"true": "require", "false": "disable", "1": "require", "0": "disable"}


def libpq_url(url: str) -> str:
    """Return ``url`` in the plain ``postgresql://`` form libpq and psycopg accept: no
    driver, and only the query parameters libpq knows (asyncpg's ``ssl`` as ``sslmode``)."""
    parts = _split(url)
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "ssl" and "sslmode" not in parts.query:
            kept.append(("sslmode", _SSL_MODES.get(value.lower(), value)))
        elif key in LIBPQ_PARAMETERS:
            kept.append((key, value))
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(kept)))


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at another database of the same server."""
    return urlunsplit(_split(url)._replace(path="/" + database))


def database_name(url: str) -> str:
    """The database a URL names (libpq's default, the user name, when it names none)."""
    parts = _split(url)
    return parts.path.lstrip("/") or (parts.username or "postgres")


# SQLAlchemy's own reading of a URL (sqlalchemy.engine.url._parse_url): the password runs
# from the first ':' of the user info to the first '@', '/' and '?' included.
_SQLALCHEMY_URL = re.compile(
    r"""(?P<scheme>[\w+]+)://
        (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
        (?P<hosts>[^/?]*)
        (?:/(?P<database>[^?]*))?
        (?:\?(?P<query>.*))?""",
    re.X | re.S,
)
_SECRET_PARAMETERS = ("password", "sslpassword")


def components(url: str) -> dict[str, str]:
    """User, password, first host and port, database of a URL, as SQLAlchemy and libpq read
    it (several hosts: the first; a password in the query when the user info has none)."""
    match = _SQLALCHEMY_URL.match(url.strip())
    if match is None:
        raise ConfigError("not a database URL: expected postgresql://user:password@host/dbname")
    query = dict(parse_qsl(match["query"] or "", keep_blank_values=True))
    first = (match["hosts"] or "").split(",")[0]
    host, _, port = first.rpartition(":") if not first.endswith("]") else (first, "", "")
    if not host:
        host, port = port, ""
    return {
        "user": unquote(match["username"] or query.get("user", "")),
        "password": unquote(match["password"] or query.get("password", "")),
        "host": host.strip("[]") or query.get("host", "localhost"),
        "port": port or query.get("port", "5432"),
        "database": unquote(match["database"] or query.get("dbname", "")),
    }


def redact(url: str) -> str:
    """Return ``url`` with its passwords replaced by ``***``; safe to print or log."""
    match = _SQLALCHEMY_URL.match(url.strip())
    if match is None:
        return "<not a URL>"
    text = url.strip()
    if match["password"] is not None:
        start, end = match.span("password")
        text = text[:start] + "***" + text[end:]
        match = _SQLALCHEMY_URL.match(text)
        assert match is not None
    if match["query"]:
        items = match["query"].split("&")
        query = "&".join(
            f"{item.partition('=')[0]}=***"
            if item.partition("=")[0] in _SECRET_PARAMETERS
            else item
            for item in items
        )
        text = text[: match.start("query")] + query
    return text


# A password written into free text: in a URL's user info (up to the first '@', as
# SQLAlchemy reads it), or as a libpq keyword or query parameter (password=..., quoted or
# not; sslpassword too).
_URL_SECRET = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^:/?#@\s]*:)[^@\s]*@", re.I)
_KEYWORD_SECRET = re.compile(
    r"(?P<head>\b(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&;,)]+)", re.I
)


def scrub(text: str) -> str:
    """``text`` (an error message, a driver's words) with every password in it replaced by
    ``***``: what dbctl prints of anything it did not write itself goes through here."""
    text = _URL_SECRET.sub(lambda m: f"{m['head']}***@", text)
    return _KEYWORD_SECRET.sub(lambda m: f"{m['head']}***", text)
