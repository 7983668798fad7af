"""What the project's code finds in its environment while dbctl runs it: the variables that
name the database (``[tool.dbctl] url_env``) and the session options of libpq
(``PGOPTIONS``: the migration's timeouts).

``url_env`` entries are ``NAME`` (the URL, as given) or ``NAME=template``, a template filled
with ``{url}``, ``{host}``, ``{port}``, ``{user}``, ``{password}``, ``{database}``: the
FastAPI template reads ``POSTGRES_SERVER``, ``POSTGRES_DB``... and never a URL.
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING

from dbctl.errors import ConfigError
from dbctl.pg.url import components

if TYPE_CHECKING:
    from dbctl.config import Settings

_DURATION = re.compile(r"\d+(\.\d+)?(us|ms|s|min|h|d)?")
TEMPLATE_FIELDS = ("url", "host", "port", "user", "password", "database")


def duration(value: str, name: str) -> str:
    """``value`` as a PostgreSQL duration (``5s``, ``300ms``, ``0``), else a ConfigError.

    Only digits and a unit pass, so the result is safe to write into SQL and PGOPTIONS."""
    text = "".join(str(value).split())
    if not _DURATION.fullmatch(text):
        raise ConfigError(
            f"{name} = {value!r} is not a PostgreSQL duration (e.g. '5s', '300ms', '2min', '0')"
        )
    return text


def url_fields(url: str) -> dict[str, str]:
    """The fields a ``url_env`` template may use."""
    return {"url": url, **components(url)}


def url_variables(settings: Settings, url: str) -> dict[str, str]:
    """The variables ``url_env`` asks for, filled in for the database at ``url``."""
    values = url_fields(url)
    found: dict[str, str] = {}
    for entry in settings.url_env:
        name, has_template, template = entry.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise ConfigError(f"url_env entry {entry!r}: give NAME or NAME=template")
        if not has_template:
            found[name] = url
            continue
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            raise ConfigError(f"url_env entry {name}: {exc}") from None
        unknown = fields - set(TEMPLATE_FIELDS)
        if unknown:
            raise ConfigError(
                f"url_env entry {name}: unknown field {{{sorted(unknown)[0]}}} "
                f"(use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})"
            )
        found[name] = template.format(**values)
    return found


def pgoptions(own: str | None, *, lock_timeout: str, statement_timeout: str) -> str:
    """``PGOPTIONS`` with the migration's timeouts after the user's own options (libpq
    applies them in order: ours win)."""
    ours = f"-c lock_timeout={lock_timeout} -c statement_timeout={statement_timeout}"
    return f"{own or ''} {ours}".strip()
