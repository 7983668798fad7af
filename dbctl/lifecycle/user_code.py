"""The project's own code (env.py, revisions, models, a baseline): imported, run, and its
errors told as the project's, with the file and line where they were raised.

dbctl runs code it did not write. When that code raises, the message must say whose code
and where (``revision r2 (migrations/versions/r2.py:14) raised ValueError: boom``), not
call it a dbctl bug.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from dbctl.errors import ConfigError
from dbctl.pg.url import scrub

# Modules of drivers SQLAlchemy loads for a URL, and the package that provides each.
DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "psycopg[binary]",
    "asyncpg": "asyncpg",
    "pg8000": "pg8000",
    "psycopg2cffi": "psycopg2cffi",
}


def _is_library(path: Path) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in path.parts)


def relative(path: str | Path, root: Path) -> str:
    """``path`` relative to the project root when it is in the project, else as it is."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback, the outermost first."""
    return list(traceback.extract_tb(exc.__traceback__))


def user_frame(
    stack: Iterable[traceback.FrameSummary], root: Path, prefer: Iterable[Path] = ()
) -> traceback.FrameSummary | None:
    """The innermost frame in one of the ``prefer`` files, else the innermost frame in the
    project (under ``root``, not an installed library), else None."""
    stack = list(stack)
    wanted = {path.resolve() for path in prefer}
    for frame in reversed(stack):
        if wanted and Path(frame.filename).resolve() in wanted:
            return frame
    root = root.resolve()
    for frame in reversed(stack):
        path = Path(frame.filename)
        if path.is_absolute() and path.resolve().is_relative_to(root) and not _is_library(path):
            return frame
    return None


def where(frame: traceback.FrameSummary | None, root: Path) -> str | None:
    """``path:line`` of a frame, the path relative to the project when it is in it."""
    if frame is None:
        return None
    return f"{relative(frame.filename, root)}:{frame.lineno}"


def first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says (a DB error's, without the statement)."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return scrub(lines[0]) if lines else type(original).__name__


def raised(exc: BaseException) -> str:
    """``ValueError: boom``: the exception on one line (a DB error's first line, the
    statement left out), with the package to install when it is a missing driver."""
    original = getattr(exc, "orig", None) or exc
    said = first_line(exc)
    name = type(original).__name__
    text = name if said == name else f"{name}: {said}"
    if isinstance(exc, ModuleNotFoundError) and exc.name in DRIVER_PACKAGES:
        text += f" (a database driver: pip install {DRIVER_PACKAGES[exc.name]})"
    return text


@contextmanager
def progress_off() -> Iterator[None]:
    """No INFO log records (Alembic's "Running upgrade a -> b", a project's own progress)
    while the revisions run in throwaway databases, many times over (lint-migrations,
    verify-schema): they would bury the report. Warnings and errors still show. Through
    ``logging.disable``, which an env.py's ``fileConfig`` leaves as it is."""
    import logging

    before = logging.root.manager.disable
    logging.disable(max(before, logging.INFO))
    try:
        yield
    finally:
        logging.disable(before)


@contextmanager
def project_output() -> Iterator[None]:
    """While the project's code runs, what it prints goes to stderr: dbctl's stdout is its
    report (``--format json`` must stay JSON), and a project's logger on stdout would break
    it. Handlers the project creates meanwhile keep stderr."""
    with redirect_stdout(sys.stderr):
        yield


def import_object(spec: str, root: Path, what: str) -> Any:
    """Import ``module:attr.path`` (or a whole ``module``) from the project at ``root``;
    errors name ``what`` and, for the project's own import errors, the file and line."""
    module_name, _, attr_path = spec.strip().partition(":")
    if not module_name:
        raise ConfigError(f"{what} {spec!r}: give module:attribute, e.g. 'app.db:Base.metadata'")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        with project_output():
            target: Any = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        at = where(user_frame(frames(exc), root), root)
        raise ConfigError(
            f"{what}: importing {module_name}{f' ({at})' if at else ''} raised {raised(exc)}"
        ) from None
    for part in filter(None, attr_path.split(".")):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"{what} {spec!r}: {module_name} has no attribute {part!r}") from None
    return target
