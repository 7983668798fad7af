"""The sandbox: a throwaway local PostgreSQL that dbctl starts by itself.

It is the embedded default of every command that needs a database when no URL is given,
and the test suite starts its own with the same code. The server listens on 127.0.0.1 and a
unix socket only, with ``trust`` authentication (it is a throwaway), ``fsync=off``, and
``pg_stat_statements`` preloaded; ``pg_stat_statements`` and, when installed, ``hypopg``
are created in ``template1`` and in the sandbox database, so every new database has them.

PostgreSQL refuses to run as root. As root, dbctl runs the server binaries as the
``postgres`` system user and keeps the data directory under the system temporary folder,
keyed by the state directory, because that user may not be able to enter the project (a
clone under ``/root`` is mode 700). ``status`` says where the data lives.

Safe under concurrency and stale state:

- ``start`` and ``stop`` hold an exclusive lock file (``sandbox.lock`` in the state directory,
  ``fcntl.flock``) around check-and-act: of two concurrent starts, one starts the server and
  the other waits for it (bounded) and reports it as already running.
- The server counts as running only when ``postmaster.pid`` names this data directory, its
  pid is alive, is a ``postgres`` process working in this data directory (``/proc``, where it
  exists), and the port answers. A pid that a crash left behind and another process now
  uses is stale: the sandbox is stopped, and ``start`` removes the stale lock files and
  starts it again.
- A restart keeps the last port while it is free, so an exported ``DATABASE_URL`` stays
  right; when it is taken, the new port is said through ``notify``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from dbctl.errors import PostgresNotFound, SandboxError

SANDBOX_DATABASE = "dbctl"
SUPERUSER = "postgres"
SERVER_USER = "postgres"  # the system user that runs the server when dbctl runs as root
_STATE_FILE = "sandbox.json"
_LOCK_FILE = "sandbox.lock"
_START_TIMEOUT = 60
_LOCK_WAIT = _START_TIMEOUT + 30  # a concurrent start waits at most this long for the winner

Notify = Callable[[str], None]

_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "pg_stat_statements.max": "10000",  # room for a test run or a busy dev workload
    "track_io_timing": "on",
    "logging_collector": "off",
}


@dataclass(frozen=True)
class SandboxStatus:
    """What ``dbctl sandbox status`` reports."""

    running: bool
    state_dir: str
    data_dir: str
    log_file: str
    port: int | None = None
    pid: int | None = None
    url: str | None = None
    version: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    started: bool = False  # True when this call started the server

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _running_as_root() -> bool:
    return os.geteuid() == 0


# Where distributions put the server binaries, searched after pg_config and the PATH.
SEARCH_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS, Homebrew
    "/usr/local/opt/postgresql@*/bin",
    "/usr/local/pgsql/bin",  # built from source
)
_TOOLS = ("initdb", "pg_ctl", "postgres")


def _has_tools(folder: Path) -> bool:
    return all((folder / tool).is_file() for tool in _TOOLS)


def _version_key(path: str) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in path).split()
    return tuple(int(d) for d in digits)


def find_bindir(explicit: str | None = None) -> Path:
    """The folder of the PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``postgres``).

    ``explicit`` (or ``DBCTL_PG_BINDIR``) wins; else ``pg_config --bindir``, the ``PATH``,
    and the usual install folders, the newest version first.
    """
    explicit = explicit or os.environ.get("DBCTL_PG_BINDIR")
    if explicit:
        if _has_tools(Path(explicit)):
            return Path(explicit)
        raise PostgresNotFound(
            f"DBCTL_PG_BINDIR={explicit} does not hold initdb, pg_ctl and postgres: "
            "point it at the bin folder of a PostgreSQL server install"
        )
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in SEARCH_GLOBS:
        found = sorted(glob.glob(pattern), key=_version_key, reverse=True)
        candidates += [Path(p) for p in found]
    for folder in candidates:
        if _has_tools(folder):
            return folder
    raise PostgresNotFound(
        "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install them "
        "(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) "
        "or set DBCTL_PG_BINDIR to their folder"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    """Whether the server could listen on ``port``: bound as PostgreSQL binds (with
    ``SO_REUSEADDR``, so the TIME_WAIT left by the last run's connections does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port_answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user (the postgres system user)
    return True


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether the live process ``pid`` is a PostgreSQL server working in ``data_dir``.

    Read from ``/proc`` where it exists: the program is ``postgres`` and, when readable, its
    working directory is the data directory (the postmaster changes into it). Without
    ``/proc`` the pid's liveness and the answering port have to do.
    """
    proc = Path("/proc")
    if not (proc / "self").exists():
        return True
    try:
        argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not argv or b"postgres" not in Path(os.fsdecode(argv[0])).name.encode():
        return False
    try:
        cwd = os.readlink(proc / str(pid) / "cwd")
    except OSError:
        return True  # not ours to inspect: the command line has to do
    return os.path.realpath(cwd) == os.path.realpath(data_dir)


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Sandbox:
    """A local PostgreSQL server owned by dbctl, described by a state directory."""

    def __init__(self, state_dir: Path, *, bindir: Path | None = None) -> None:
        self.state_dir = state_dir.resolve()
        self._bindir = bindir
        if _running_as_root():
            key = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
            self.data_root = Path(tempfile.gettempdir()) / f"dbctl-sandbox-{key}"
        else:
            self.data_root = self.state_dir / "sandbox"
        self.data_dir = self.data_root / "data"
        self.socket_dir = self.data_root / "run"
        self.log_file = self.data_root / "postgresql.log"
        self.state_file = self.state_dir / _STATE_FILE

    # -- public API -------------------------------------------------------------------

    def start(self, *, notify: Notify | None = None) -> SandboxStatus:
        """Start the server (creating it on first use); report the running one if it runs.

        Concurrent starts are serialised by the lock file: the one that comes second finds
        the server running and reports it (``started`` is False).
        """
        with self._locked(create=True):
            current = self.status()
            if current.running:
                return current
            bindir = self.bindir
            if not (self.data_dir / "PG_VERSION").is_file():
                self._initdb(bindir)
            self._remove_stale_lock_files()
            port = self._choose_port(notify)
            self._write_server_conf(port)
            self._run(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(_START_TIMEOUT),
                ],
                failure="the sandbox PostgreSQL did not start",
            )
            pid_port = self._pid()
            self._save_state(port, pid_port[0] if pid_port else None)
            self._prepare_databases(port)
            return replace(self.status(), started=True)

    def stop(self, *, destroy: bool = False) -> bool:
        """Stop the server; return whether it was running. ``destroy`` also deletes its data."""
        with self._locked(create=False):
            was_running = self._pid() is not None
            if was_running:
                self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "stop",
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "immediate" if destroy else "fast",  # no checkpoint for data deleted
                        "-w",
                    ],
                    failure="the sandbox PostgreSQL did not stop",
                )
            if destroy:
                shutil.rmtree(self.data_root, ignore_errors=True)
                self.state_file.unlink(missing_ok=True)
            return was_running

    def status(self) -> SandboxStatus:
        """Whether the server runs, where its data lives, its URL and extensions."""
        base = SandboxStatus(
            running=False,
            state_dir=str(self.state_dir),
            data_dir=str(self.data_dir),
            log_file=str(self.log_file),
        )
        pid_port = self._pid()
        if pid_port is None:
            return base
        pid, port = pid_port
        url = sandbox_url(port)
        version, extensions = self._describe(port)
        return replace(
            base,
            running=True,
            pid=pid,
            port=port,
            url=url,
            version=version,
            extensions=extensions,
        )

    def url(self) -> str | None:
        """The SQLAlchemy URL of the running sandbox, or None when it does not run."""
        pid_port = self._pid()
        return None if pid_port is None else sandbox_url(pid_port[1])

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    # -- internals --------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, *, create: bool) -> Iterator[None]:
        """Hold the sandbox's lock file, waiting at most ``_LOCK_WAIT`` seconds for another
        dbctl that starts or stops this sandbox. ``create=False``: no state directory, no
        sandbox, nothing to lock."""
        if not self.state_dir.is_dir():
            if not create:
                yield
                return
            self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / _LOCK_FILE
        try:
            handle = path.open("a")
        except OSError as exc:
            raise SandboxError(f"cannot open the sandbox lock file {path}: {exc}") from None
        with handle:
            deadline = time.monotonic() + _LOCK_WAIT
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise SandboxError(f"cannot lock {path}: {exc}") from None
                if time.monotonic() > deadline:
                    raise SandboxError(
                        f"another dbctl has held the sandbox lock {path} for over "
                        f"{_LOCK_WAIT}s: wait for it to finish, or stop it"
                    )
                time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _postmaster_file(self) -> tuple[int, str, int] | None:
        """(pid, data directory, port) from the data directory's ``postmaster.pid``."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), lines[1], int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def _pid(self) -> tuple[int, int] | None:
        """(pid, port) of this sandbox's live postmaster, or None (stopped, or stale).

        ``postmaster.pid`` must name this data directory, its pid must be alive and be a
        ``postgres`` process in this data directory, and its port must answer.
        """
        recorded = self._postmaster_file()
        if recorded is None:
            return None
        pid, data_dir, port = recorded
        if os.path.realpath(data_dir) != os.path.realpath(self.data_dir):
            return None
        if not _pid_alive(pid) or not _is_postmaster_of(pid, self.data_dir):
            return None
        if not _port_answers(port):
            return None
        return pid, port

    def _remove_stale_lock_files(self) -> None:
        """Remove the lock files a crashed server left when their pid now belongs to another
        process (PostgreSQL would take that process for a running server and refuse to
        start). Called only when ``_pid`` said the sandbox is not running."""
        recorded = self._postmaster_file()
        if recorded is None:
            return
        pid, _, port = recorded
        if _pid_alive(pid) and _is_postmaster_of(pid, self.data_dir):
            return  # a real server of this data directory, not answering: let pg_ctl say
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        socket_lock = self.socket_dir / f".s.PGSQL.{port}.lock"
        try:
            owner = int(socket_lock.read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return
        if owner == pid:
            socket_lock.unlink(missing_ok=True)

    def _run(self, argv: Sequence[str], *, failure: str) -> None:
        user = group = None
        extra_groups: list[int] | None = None
        if _running_as_root():
            entry = self._server_user()
            user, group, extra_groups = entry.pw_uid, entry.pw_gid, []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            result = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                cwd=self.data_root,
                env=env,
                timeout=_START_TIMEOUT + 30,
                check=False,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxError(f"{failure}: {exc}") from None
        if result.returncode != 0:
            raise SandboxError(f"{failure}: {self._last_words(result.stderr)}")

    def _last_words(self, stderr: str) -> str:
        lines = [line for line in stderr.splitlines() if line.strip()]
        try:
            log = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            log = []
        reasons = [line for line in log if "FATAL" in line or "ERROR" in line]
        reason = (reasons or lines or ["no output"])[-1].strip()
        return f"{reason} (log: {self.log_file})"

    @staticmethod
    def _server_user() -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise SandboxError(
                "PostgreSQL refuses to run as root and there is no 'postgres' system user: "
                "run dbctl as a normal user, or create that user (useradd --system postgres)"
            ) from None

    def _make_data_root(self) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        os.chmod(self.data_root, 0o700)
        if _running_as_root():
            entry = self._server_user()
            for path in (self.data_root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self, bindir: Path) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise SandboxError(
                f"{self.data_dir} is not empty and holds no PostgreSQL cluster: "
                "remove it or run 'dbctl sandbox stop --destroy'"
            )
        self._make_data_root()
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            failure="initdb failed for the sandbox",
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\n# dbctl sandbox settings\ninclude_if_exists = 'dbctl.conf'\n")

    def _choose_port(self, notify: Notify | None) -> int:
        """The last port while it is free (an exported URL stays right), else a new one."""
        try:
            saved = int(json.loads(self.state_file.read_text())["port"])
        except (OSError, ValueError, KeyError, TypeError):
            saved = 0
        if saved and _port_is_free(saved):
            return saved
        port = free_port()
        if saved and notify is not None:
            notify(
                f"the sandbox's port {saved} is taken: it now listens on {port} "
                "(export DATABASE_URL again)"
            )
        return port

    def _write_server_conf(self, port: int) -> None:
        settings = {
            **_SERVER_SETTINGS,
            "port": str(port),
            "unix_socket_directories": str(self.socket_dir),
        }
        text = "".join(f"{key} = {_conf_value(value)}\n" for key, value in settings.items())
        path = self.data_dir / "dbctl.conf"
        path.write_text(text)
        if _running_as_root():
            entry = self._server_user()
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _save_state(self, port: int, pid: int | None) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "port": port,
            "pid": pid,
            "data_dir": str(self.data_dir),
            "bindir": str(self.bindir),
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def _prepare_databases(self, port: int) -> None:
        """Create the extensions in template1 and the sandbox database (idempotent)."""
        import psycopg

        admin = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/"
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = psycopg.connect(admin + "template1", autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise SandboxError(f"the sandbox does not accept connections: {exc}") from None
                time.sleep(0.1)
        with conn:
            available = {
                row[0]
                for row in conn.execute(
                    "SELECT name FROM pg_available_extensions "
                    "WHERE name IN ('pg_stat_statements', 'hypopg')"
                )
            }
            wanted = [name for name in ("pg_stat_statements", "hypopg") if name in available]
            for name in wanted:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (SANDBOX_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {SANDBOX_DATABASE}")
        with psycopg.connect(admin + SANDBOX_DATABASE, autocommit=True) as conn:
            for name in wanted:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")

    def _describe(self, port: int) -> tuple[str | None, dict[str, str]]:
        import psycopg

        try:
            with psycopg.connect(
                f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{SANDBOX_DATABASE}",
                connect_timeout=3,
            ) as conn:
                version = conn.execute("SHOW server_version").fetchone()
                rows = conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()
        except psycopg.Error:
            return None, {}
        return (str(version[0]) if version else None), {str(n): str(v) for n, v in rows}


def sandbox_url(port: int, database: str = SANDBOX_DATABASE) -> str:
    return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{database}"


def sandbox_url_for(project_root: Path, state_dir: Path | None = None) -> str | None:
    """The URL of the project's running sandbox, or None when it does not run."""
    return Sandbox(state_dir or project_root / ".dbctl").url()
