"""Database URLs: the one place that parses them, normalises them and hides their passwords.

dbctl accepts ``postgresql://``, ``postgres://`` and ``postgresql+DRIVER://`` for the
drivers SQLAlchemy has for PostgreSQL, and libpq's keyword/value strings
(``host=h port=5432 dbname=d``, what psql also takes), which become a URL. Its own reads
always go through psycopg 3 (``normalize_url`` gives that SQLAlchemy form, ``libpq_url``
the plain form psycopg and libpq take); the project's migrations run on the driver the URL
names (``sqlalchemy_url``, ``migration_url``), since revisions can depend on it.

A URL is read as libpq and SQLAlchemy read it where they agree (a ``#`` or ``?`` in the
password is part of it, and is percent-encoded on the way through); where they do not (a
``/``, a second ``@`` or a ``%`` that encodes nothing in the password), it is refused in one
line that says to percent-encode the password. Errors never quote a password, nor any text
that could be one. ``redact`` gives the form of a URL that may be printed; ``scrub`` hides
every password in free text (a driver's message that echoes the DSN), including every
password this process has parsed. Only the standard library is imported here, so error
paths stay cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

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

_EXPECTED = (
    "expected postgresql://user:password@host:port/dbname or a libpq string "
    "such as 'host=localhost port=5432 dbname=app user=app'"
)
_ENCODE = "percent-encode the password (e.g. urllib.parse.quote(password, safe=''))"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_KEYWORD_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A query parameter or keyword whose value is a secret.
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|credential|api_?key", re.I)


def is_secret_key(key: str) -> bool:
    """Whether a query parameter or libpq keyword carries a secret (``password``,
    ``sslpassword``, ``*secret*``, ``*token*``...)."""
    return bool(_SECRET_KEY.search(key))


# -- the parsed form ----------------------------------------------------------------------


@dataclass(frozen=True)
class Url:
    """A database URL cut into its parts, each kept as written (percent-encoded, valid):
    ``text()`` gives the URL back unchanged but for the fixes the parser made."""

    scheme: str
    user: str | None  # None: no user info; '' : '@' with nothing before it
    password: str | None  # None: no ':' in the user info
    hosts: tuple[str, ...]  # 'h', 'h:5432', '[::1]:5432', '' (libpq's default)
    path: str | None  # the database, after '/'; None: no '/'
    query: str | None  # after '?'; None: no '?'

    def text(self, *, scheme: str | None = None, mask: bool = False) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user
            if self.password is not None:
                userinfo += ":" + ("***" if mask else self.password)
            userinfo += "@"
        text = f"{scheme or self.scheme}://{userinfo}{','.join(self.hosts)}"
        if self.path is not None:
            text += "/" + self.path
        if self.query is not None:
            query = self.query
            if mask:
                query = "&".join(
                    f"{item.partition('=')[0]}=***"
                    if is_secret_key(unquote(item.partition("=")[0]))
                    else item
                    for item in query.split("&")
                )
            text += "?" + query
        return text

    @property
    def params(self) -> list[tuple[str, str]]:
        """The query parameters, decoded."""
        if not self.query:
            return []
        pairs = []
        for item in self.query.split("&"):
            if item:
                key, _, value = item.partition("=")
                pairs.append((unquote(key), unquote(value)))
        return pairs

    def with_params(self, pairs: list[tuple[str, str]]) -> Url:
        encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe=',/:')}" for k, v in pairs)
        return replace(self, query=encoded or None)

    @property
    def host_ports(self) -> list[tuple[str, str]]:
        """(host, port) of every host in the user info part, decoded; '' when absent."""
        found = []
        for entry in self.hosts:
            if entry.startswith("["):
                host, _, rest = entry[1:].partition("]")
                found.append((host, rest.removeprefix(":")))
            else:
                host, _, port = entry.partition(":")
                found.append((unquote(host), port))
        return found

    def sqlalchemy_hosts(self) -> Url:
        """Several hosts moved to the query (``host=a,b&port=1,2``): SQLAlchemy cannot read
        them in the authority part, libpq and SQLAlchemy both read them there."""
        if len(self.hosts) < 2:
            return self
        pairs = self.params
        if any(key in ("host", "port") for key, _ in pairs):
            return self
        hosts = self.host_ports
        pairs += [("host", ",".join(h for h, _ in hosts)), ("port", ",".join(p for _, p in hosts))]
        return replace(self, hosts=("",)).with_params(pairs)


def _refuse(problem: str) -> ConfigError:
    return ConfigError(f"the database URL {problem}")


def _check_percent(raw: str, what: str) -> None:
    if _BAD_PERCENT.search(raw):
        if what == "password":
            raise _refuse(
                "has a '%' in its password that starts no %XX code (libpq refuses it, "
                f"SQLAlchemy keeps it): {_ENCODE}, '%' is %25"
            )
        raise _refuse(f"has a '%' in its {what} that starts no %XX code: write '%' as %25")


def _check_hosts(netloc_hosts: str) -> tuple[str, ...]:
    if "#" in netloc_hosts:  # no host holds one: a password's '@' ended the user info early
        raise _refuse(
            f"has a '#' where the host should be (an '@' in the password?): {_ENCODE}, "
            "'@' is %40, '#' is %23"
        )
    entries: list[str] = []
    rest = netloc_hosts
    while True:
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise _refuse("has an IPv6 host with no closing ']' (write [::1]:5432)")
            end = rest.find(",", close)
        else:
            end = rest.find(",")
        entry, rest = (rest, "") if end < 0 else (rest[:end], rest[end + 1 :])
        if entry.startswith("["):
            host, _, after = entry[1:].partition("]")
            if after and not after.startswith(":"):
                raise _refuse(f"has text after the IPv6 host [{host}]: write [{host}]:5432")
            port = after[1:] if after else ""
        else:
            host, _, port = entry.partition(":")
            if "[" in host or "]" in host:
                raise _refuse("has a '[' or ']' outside an IPv6 host (write [::1]:5432)")
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise _refuse(
                f"has a port after host {unquote(host)!r} that is not a number from 1 to "
                "65535 (a password goes between ':' and '@' before the host)"
            )
        entries.append(entry)
        if end < 0:
            return tuple(entries)


def parse_url(url: str) -> Url:
    """``url`` (a URL or a libpq keyword/value string) parsed and checked; a ConfigError
    in one line, which never quotes a password, when dbctl cannot use it."""
    text = url.strip()
    match = _SCHEME.match(text)
    if match is None:
        if _KEYWORD_START.match(text):
            return parse_url(keywords_to_url(text))
        raise ConfigError(f"not a database URL: {_EXPECTED}")
    scheme = match[1]
    if scheme.lower() not in _ACCEPTED_SCHEMES:
        raise ConfigError(
            f"unsupported database URL scheme {scheme!r}: dbctl works with PostgreSQL "
            "URLs (postgresql://, postgres:// or postgresql+DRIVER:// with DRIVER one of "
            f"{', '.join(sorted(SYNC_DRIVERS | ASYNC_DRIVERS))})"
        )
    rest = text[match.end() :]
    if any(ch in rest for ch in "\r\n\0"):
        raise _refuse("has a line break or NUL byte in it")
    user = password = None
    at = rest.find("@")
    if at >= 0:
        before = rest[:at]
        name, colon, secret = before.partition(":")
        if "/" in before or "?" in name:
            # libpq: no user info (the '@' is in the path or query); SQLAlchemy reads a
            # password up to that '@' when a ':' comes before the '/': a '/' in a password.
            port = secret.partition("/")[0].partition("?")[0]
            if colon and "/" not in name and "?" not in name and not _port_list(port):
                raise _refuse(
                    "is ambiguous: the text between ':' and '@' holds a '/' (libpq reads a "
                    f"host and database there, SQLAlchemy a password): {_ENCODE}, '/' is %2F"
                )
        else:
            user, password = name, (secret if colon else None)
            rest = rest[at + 1 :]
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        raise _refuse(
            "has more than one '@' before the host (libpq and SQLAlchemy end the password "
            f"at the first one): {_ENCODE}, '@' is %40"
        )
    hosts = _check_hosts(netloc)
    path = query = None
    if tail.startswith("/"):
        path, qmark, after = tail[1:].partition("?")
        query = after if qmark else None
    elif tail.startswith("?"):
        query = tail[1:]
    if password is not None:
        _check_percent(password, "password")
        # what libpq and SQLAlchemy both read as the password, in a form every reader takes
        password = "".join(quote(ch, safe="") if ch in "#?/[] " else ch for ch in password)
    if user is not None:
        _check_percent(user, "user name")
        user = "".join(quote(ch, safe="") if ch in "#?/[] " else ch for ch in user)
    for part, what in ((path, "database name"), (query, "query")):
        if part is not None:
            _check_percent(part, what)
    if path is not None and "@" in path:  # a database name never holds one in practice
        raise _refuse(
            "is ambiguous: it has an '@' after the host and '/' (libpq reads a database name "
            f"there, SQLAlchemy the end of a password): {_ENCODE}, '@' is %40, '/' is %2F"
        )
    if user is None and query is not None:  # SQLAlchemy would read user info up to an '@'
        query = query.replace("@", "%40")
    parsed = Url(scheme, user, password, hosts, path, query)
    _remember(parsed)
    return parsed


def _port_list(text: str) -> bool:
    ports = [p.rpartition(":")[2] if "," in text else p for p in text.split(",")]
    return bool(text) and all(p.isascii() and p.isdigit() for p in ports if p)


# -- libpq keyword/value strings ----------------------------------------------------------


def _keyword_pairs(text: str) -> list[tuple[str, str]]:
    """libpq's conninfo_parse: ``key = value`` pairs, values bare or single-quoted, with
    backslash escapes. Errors never quote a value (nor a word that could be part of one)."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return pairs
        start = i
        while i < n and not text[i].isspace() and text[i] != "=":
            i += 1
        key = text[start:i]
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            raise ConfigError(
                "the connection string has a word with no '=' after it: write key=value "
                "pairs, and quote a value that holds spaces (password='a b')"
            )
        i += 1
        while i < n and text[i].isspace():
            i += 1
        value: list[str] = []
        if i < n and text[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ConfigError("the connection string has a quoted value with no closing '")
                if text[i] == "\\" and i + 1 < n:
                    value.append(text[i + 1])
                    i += 2
                elif text[i] == "'":
                    i += 1
                    break
                else:
                    value.append(text[i])
                    i += 1
        else:
            while i < n and not text[i].isspace():
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
        pairs.append((key, "".join(value)))


def keywords_to_url(text: str) -> str:
    """A libpq keyword/value string (``host=h port=5432 dbname=d password='a b'``) as the
    ``postgresql://`` URL that means the same to libpq (and to SQLAlchemy)."""
    pairs = _keyword_pairs(text)
    values: dict[str, str] = {}
    for key, value in pairs:
        if key not in LIBPQ_PARAMETERS:
            if any(is_secret_key(k) for k, _ in pairs):
                raise ConfigError("the connection string has a keyword libpq does not know")
            raise ConfigError(f"the connection string has a keyword libpq does not know: {key!r}")
        if any(ch in value for ch in "\r\n\0"):
            raise ConfigError("the connection string has a line break or NUL byte in a value")
        values[key] = value  # libpq: the last one wins
    user = values.pop("user", None)
    password = values.pop("password", None)
    database = values.pop("dbname", None)
    hosts = [h.strip() for h in values.get("host", "").split(",")] if "host" in values else []
    ports = [p.strip() for p in values.get("port", "").split(",")] if "port" in values else []
    for port in ports:
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(
                "the connection string has a port that is not a number from 1 to 65535"
            )
    if len(ports) == 1 and len(hosts) > 1:
        ports *= len(hosts)
    netloc = ""  # host names and addresses; socket directories stay in the query
    if hosts and all(h and not h.startswith("/") and not h.startswith("@") for h in hosts):
        if len(ports) not in (0, len(hosts)):
            raise ConfigError("the connection string has not as many ports as hosts")
        values.pop("host")
        values.pop("port", None)
        entries = []
        for index, host in enumerate(hosts):
            shown = f"[{host}]" if ":" in host else quote(host, safe="")
            port = ports[index] if ports else ""
            entries.append(f"{shown}:{port}" if port else shown)
        netloc = ",".join(entries)
    built = Url(
        scheme="postgresql",
        user=None if user is None and password is None else quote(user or "", safe=""),
        password=None if password is None else quote(password, safe=""),
        hosts=(netloc,),
        path=quote(database, safe="") if database else None,
        query=None,
    )
    return built.with_params(list(values.items())).text()


# -- the forms dbctl and the project use --------------------------------------------------


def check_url(url: str) -> str:
    """``url`` once it is known to be a PostgreSQL URL: as given (trimmed), but a libpq
    keyword string becomes a URL and what needs percent-encoding is percent-encoded."""
    return parse_url(url).text()


def normalize_url(url: str) -> str:
    """Return ``url`` with the ``postgresql+psycopg`` scheme of dbctl's own connections."""
    return parse_url(url).sqlalchemy_hosts().text(scheme=SQLALCHEMY_SCHEME)


def driver(url: str) -> str | None:
    """The driver a URL names (``psycopg2`` in ``postgresql+psycopg2://``), else None."""
    return parse_url(url).scheme.lower().partition("+")[2] or None


def sqlalchemy_url(url: str) -> str:
    """``url`` as SQLAlchemy reads it, driver kept: ``postgres://`` is ``postgresql://``, and
    a URL that names no driver gets the installed SQLAlchemy's default, as it would in the
    project's own ``create_engine``."""
    named = driver(url)
    scheme = f"postgresql+{named}" if named else "postgresql"
    return parse_url(url).sqlalchemy_hosts().text(scheme=scheme)


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
        return parse_url(libpq_url(url)).sqlalchemy_hosts().text(scheme=SQLALCHEMY_SCHEME)
    return parse_url(url).sqlalchemy_hosts().text(scheme=f"postgresql+{named}")


def libpq_url(url: str) -> str:
    """Return ``url`` in the plain ``postgresql://`` form libpq and psycopg accept: no
    driver, and only the query parameters libpq knows (asyncpg's ``ssl`` as ``sslmode``,
    SQLAlchemy's ``host=h1:1&host=h2:2`` as ``host=h1,h2&port=1,2``)."""
    parsed = parse_url(url)
    pairs = parsed.params
    keys = {key for key, _ in pairs}
    kept: list[tuple[str, str]] = []
    hosts = [value for key, value in pairs if key == "host"]
    sqlalchemy_hosts = len(hosts) > 1 or any(_host_port(h)[1] for h in hosts)
    for key, value in pairs:
        if key == "ssl" and "sslmode" not in keys:
            kept.append(("sslmode", _SSL_MODES.get(value.lower(), value)))
        elif key == "host" and sqlalchemy_hosts:
            continue
        elif key in LIBPQ_PARAMETERS:
            kept.append((key, value))
    if sqlalchemy_hosts and "port" not in keys:
        split = [_host_port(h) for h in hosts]
        kept += [("host", ",".join(h for h, _ in split)), ("port", ",".join(p for _, p in split))]
    elif sqlalchemy_hosts:
        kept.append(("host", ",".join(hosts)))
    if parsed.query is not None and kept == parsed.params:
        return parsed.text(scheme="postgresql")  # unchanged: as written
    return parsed.with_params(kept).text(scheme="postgresql")


def _host_port(entry: str) -> tuple[str, str]:
    """SQLAlchemy's ``host=name:port`` query entry (a socket directory has no port)."""
    if entry.startswith("/"):
        return entry, ""
    host, _, port = entry.rpartition(":")
    return (host.strip("[]"), port) if host and port.isdigit() else (entry, "")


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at another database of the same server."""
    return replace(parse_url(url), path=quote(database, safe="")).text()


def database_name(url: str) -> str:
    """The database a URL names (libpq's default, the user name, when it names none)."""
    parsed = parse_url(url)
    named = dict(parsed.params).get("dbname")
    return unquote(parsed.path or "") or named or unquote(parsed.user or "") or "postgres"


def components(url: str) -> dict[str, str]:
    """User, password, first host and port, database of a URL, as SQLAlchemy and libpq read
    it (several hosts: the first; a parameter in the query wins, as it does in both)."""
    parsed = parse_url(url)
    query = dict(parsed.params)
    hosts = parsed.host_ports
    host, port = hosts[0] if hosts else ("", "")
    first = next((value for key, value in parsed.params if key == "host"), "")
    if not host and first:
        host, port = _host_port(first.split(",")[0])
    return {
        "user": query.get("user", unquote(parsed.user or "")),
        "password": query.get("password", unquote(parsed.password or "")),
        "host": host or "localhost",
        "port": port or query.get("port", "5432").split(",")[0] or "5432",
        "database": query.get("dbname", unquote(parsed.path or "")),
    }


# -- what may be printed ------------------------------------------------------------------


def redact(url: str) -> str:
    """Return ``url`` with its passwords replaced by ``***``; safe to print or log. A URL
    dbctl cannot parse comes back scrubbed (or as ``<not a URL>``)."""
    try:
        return parse_url(url).text(mask=True)
    except ConfigError:
        text = url.strip()
        if _SCHEME.match(text) is None:
            return "<not a URL>"
        return scrub(text)


# Passwords this process has parsed: hidden wherever they appear in text ``scrub`` sees
# (libpq's 'invalid percent-encoded token: "..."' quotes one with no URL around it).
_SEEN: set[str] = set()
_MIN_SEEN = 4  # shorter ones would hide ordinary words; the patterns below still apply


def _remember(parsed: Url) -> None:
    values = [(parsed.password, parsed.user)]
    values += [(value, None) for key, value in parsed.params if is_secret_key(key)]
    for raw, user in values:
        if raw is None:
            continue
        for form in {raw, unquote(raw)}:
            if len(form) >= _MIN_SEEN and form != unquote(user or "\0"):
                _SEEN.add(form)


def remember_password(password: str) -> None:
    """Have ``scrub`` hide ``password`` from now on (one dbctl made up or read elsewhere)."""
    if len(password) >= _MIN_SEEN:
        _SEEN.add(password)


# A password written into free text: in a URL's user info (up to the last '@' of the
# word, as no reader ends it later), or as a libpq keyword or query parameter whose name
# says secret (password=..., sslpassword, api_token...), quoted or not.
_URL_SECRET = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^:/?#@\s\"'<>]*:)[^\s\"'<>]*@", re.I)
_KEYWORD_SECRET = re.compile(
    r"(?P<head>\b[\w.\-]*(?:pass|pwd|secret|token|credential|api_?key)[\w.\-]*\s*=\s*)"
    r"(?:\*\*\*(?=[:\s&;,)\"']|$)|'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&;,)\"']+)",
    re.I,
)


def scrub(text: str) -> str:
    """``text`` (an error message, a driver's words) with every password in it replaced by
    ``***``: what dbctl prints of anything it did not write itself goes through here."""
    text = _URL_SECRET.sub(lambda m: f"{m['head']}***@", text)
    text = _KEYWORD_SECRET.sub(lambda m: f"{m['head']}***", text)
    for secret in sorted(_SEEN, key=len, reverse=True):
        if secret in text:  # not inside a longer word: a password 'postgres' in postgresql://
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text
