"""The project's Alembic side: its ``Config`` (alembic.ini, the migrations folder) and its
revisions (``ScriptDirectory``), as dbctl reads them.

The migrations folder is the one dbctl was told (``--migrations``, ``[tool.dbctl]
migrations``), else ``script_location`` of the project's alembic.ini, else
``migrations/``. Revision files are the project's code: one that does not import is one
line naming its file and line, not a traceback.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dbctl.errors import ConfigError
from dbctl.lifecycle.user_code import frames, raised, relative, user_frame, where

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from dbctl.config import Settings
    from dbctl.lifecycle.handoff import Handoff


def alembic_config(
    settings: Settings,
    connection: Connection | None = None,
    *,
    output: io.StringIO | None = None,
    handoff: Handoff | None = None,
) -> Config:
    """An Alembic Config for the project: its alembic.ini if any; the migrations folder
    dbctl was told, else the ini's ``script_location``, else ``migrations/``; with a
    ``handoff``, its database in ``sqlalchemy.url`` (the URL's own driver)."""
    from alembic.config import Config

    ini = settings.alembic_ini_path()
    if ini is not None and not ini.is_file():
        raise ConfigError(f"alembic_ini {ini} is not a file")
    # stdout given now: Alembic's default is the sys.stdout of when it was first imported.
    config = Config(str(ini) if ini is not None else None, output_buffer=output, stdout=sys.stdout)
    if not config.get_main_option("path_separator"):
        config.set_main_option("path_separator", "os")
    location = config.get_main_option("script_location")
    if ini is not None and location and settings.migrations is None:
        _anchor(config, location, ini.parent)
    if settings.migrations is not None or not location:
        folder = settings.migrations_dir
        if not (folder / "env.py").is_file():
            raise ConfigError(
                f"no Alembic env.py in {folder}: set --migrations, DBCTL_MIGRATIONS or "
                "[tool.dbctl] migrations to the folder that holds env.py and versions/"
            )
        config.set_main_option("script_location", str(folder))
    if not config.get_main_option("prepend_sys_path"):
        config.set_main_option("prepend_sys_path", str(settings.project_root))
    if str(settings.project_root) not in sys.path:
        sys.path.insert(0, str(settings.project_root))
    if connection is not None:
        config.attributes["connection"] = connection
    if handoff is not None:  # configparser interpolates '%': an encoded password has some
        config.set_main_option("sqlalchemy.url", handoff.sqlalchemy_url.replace("%", "%%"))
    # Projects' env.py usually calls logging.config.fileConfig(); dbctl owns the output.
    config.attributes["configure_logger"] = False
    return config


def _anchor(config: Config, location: str, ini_folder: Path) -> None:
    """A relative ``script_location`` is read from the current folder by Alembic; when it
    is not there but is beside the ini, take that one (an ini named with alembic_ini)."""
    if ":" in location or Path(location).is_absolute() or Path(location).is_dir():
        return  # a package:path, or found as Alembic would find it
    beside = ini_folder / location
    if beside.is_dir():
        config.set_main_option("script_location", str(beside))


def project_relative(settings: Settings, path: str) -> str:
    return relative(path, settings.project_root)


def _files_signature(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    found = []
    for folder in folders:
        for path in folder.rglob("*.py") if folder.is_dir() else ():
            stat = path.stat()
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


# The last script directory read, with what it was read from: verify-schema's round trip
# opens three sessions per revision, and each would parse every revision file again.
_DIRECTORY_CACHE: dict[tuple[object, ...], ScriptDirectory] = {}


def _load(directory: ScriptDirectory, root: Path) -> None:
    """Import every revision file now, so that the project's errors there are told as its
    own (a SyntaxError, an import error, a down_revision that names no revision)."""
    from alembic.util import CommandError

    try:
        directory.get_heads()
    except CommandError as exc:
        raise ConfigError(f"cannot read the migrations: {exc}") from None
    except (Exception, SystemExit) as exc:
        if isinstance(exc, SyntaxError) and exc.filename:
            at: str | None = f"{relative(exc.filename, root)}:{exc.lineno}"
        else:
            at = where(user_frame(frames(exc), root), root)
        raise ConfigError(
            f"a revision file{f' ({at})' if at else ''} does not load: {raised(exc)}"
        ) from None


def script_directory(config: Config, root: Path | None = None) -> ScriptDirectory:
    """The project's revisions, all loaded. Reused while neither the options nor any
    revision file (name, size, mtime) changed: reading them is O(revisions) per session."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        directory = ScriptDirectory.from_config(config)
    except CommandError as exc:
        raise ConfigError(f"cannot read the migrations: {exc}") from None
    folders = [Path(directory.dir), *(Path(p) for p in directory._version_locations)]
    key = (
        directory.dir,
        tuple(str(p) for p in directory._version_locations),
        directory.file_template,
        directory.recursive_version_locations,
        directory.sourceless,
        _files_signature(folders),
    )
    cached = _DIRECTORY_CACHE.get(key)
    if cached is not None:
        return cached
    _load(directory, root or Path.cwd())
    _DIRECTORY_CACHE.clear()
    _DIRECTORY_CACHE[key] = directory
    return directory


def require_revisions(directory: ScriptDirectory, settings: Settings) -> ScriptDirectory:
    """``directory``, once it holds a revision: with none, every command would report a
    database "at base" and "ok" while env.py may take its revisions from elsewhere."""
    if next(iter(directory.walk_revisions()), None) is None:
        folders = ", ".join(
            project_relative(settings, str(p)) for p in directory._version_locations
        )
        raise ConfigError(
            f"no revision files in {folders}: nothing to migrate or check. An env.py that "
            "chooses its own version_locations is not followed: point --migrations (or "
            "alembic.ini's version_locations) at the folder that holds the revisions"
        )
    return directory


def check_project(settings: Settings) -> None:
    """The project's configuration holds before anything else happens (no sandbox started,
    no connection made for a folder that is not an Alembic project): env.py found, the
    revisions readable, at least one. A ``ConfigError`` (exit 2) says what to fix."""
    config = alembic_config(settings)
    require_revisions(script_directory(config, settings.project_root), settings)
