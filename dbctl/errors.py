"""Errors that stop a command, each with the exit code the CLI gives it.

    DbctlError (exit 2: the command could not run)
    ├── ConfigError          bad flags, environment or [tool.dbctl] settings
    ├── ConnectionFailed     the database cannot be reached
    ├── PostgresNotFound     no PostgreSQL server binaries for the sandbox
    ├── SandboxError         the sandbox could not be created, started or stopped
    ├── ExtensionMissing     a needed extension is not installed or not created
    ├── PrivilegeMissing     the role lacks a privilege (the message names the GRANT)
    ├── LockTimeout          another migration held the migration lock past --lock-wait
    ├── MigrationFailed      an Alembic revision (or env.py) failed or raised; the database
    │                        stays at the last good revision
    ├── ModelsFailed         the project's models raised while dbctl laid them out
    └── Unproven             dbctl cannot prove that the project's code works on the database
        │                    it names: it stops before anything destructive (never a finding)
        ├── ForeignDatabase  env.py connected to another database: refused before a statement
        └── NotLanded        a revision (or downgrade) did not reach the database: not committed

Messages are written for the person who reads them: one line that names the fix.
They never contain a password (URLs go through ``dbctl.pg.url.redact``).
The CLI catches ``DbctlError`` in one place, prints ``error: <message>`` and exits with
``exit_code``. Findings are not errors: checks return them as data (``dbctl.report``).
"""

from __future__ import annotations


class DbctlError(Exception):
    """Base of every error dbctl reports to its user."""

    exit_code = 2


class ConfigError(DbctlError):
    """Flags, environment or ``[tool.dbctl]`` settings that cannot be used."""


class ConnectionFailed(DbctlError):
    """The database at the given URL cannot be reached or refuses the login."""


class PostgresNotFound(DbctlError):
    """No PostgreSQL server binaries were found to run the sandbox."""


class SandboxError(DbctlError):
    """The sandbox could not be created, started or stopped."""


class ExtensionMissing(DbctlError):
    """An extension the command needs is not available in the database."""


class MigrationFailed(DbctlError):
    """A migration revision failed; ``location`` is the file and line at fault when known
    (the revision, or env.py)."""

    def __init__(
        self,
        message: str,
        location: tuple[str, int | None] | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.location = location
        self.sqlstate = sqlstate  # PostgreSQL's error code, when the server raised it


class ModelsFailed(DbctlError):
    """The project's model code (a TypeDecorator, a default...) raised while dbctl read it."""


class LockTimeout(DbctlError):
    """Another session held the migration lock for longer than the bounded wait."""


class PrivilegeMissing(DbctlError):
    """The role lacks a privilege the command needs (the message names the GRANT)."""


class Unproven(DbctlError):
    """The project's code did not provably work on the database dbctl names; dbctl stopped.

    verify-schema never turns these into findings: its next steps would be destructive."""


class ForeignDatabase(Unproven):
    """The project's env.py opened a connection to a database dbctl was not given."""


class NotLanded(Unproven):
    """A revision or downgrade ran, but the database it names does not show it."""
