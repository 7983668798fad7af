"""No command prints or writes a password, whatever form the database URL comes in.

Two roles of the test server log in with SCRAM passwords (a line for them is put at the top
of the server's pg_hba.conf for this module; the rest stays ``trust``). Every password here
holds ``CORE``: the test runs every command, in every ``--format`` it has, with each form of
URL (given as ``--database-url`` and as ``DATABASE_URL``), and asserts that ``CORE`` shows up
in no stdout, no stderr and no file dbctl leaves in the project (``.dbctl/`` state, written
revisions). Forms that connect run the commands for real; forms libpq and SQLAlchemy read
differently are refused in one line; a wrong password is a "cannot connect" error.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.pg.url import libpq_url, parse_url
from tests.support.alembic_project import AlembicProject, Rev

pytestmark = pytest.mark.integration

CORE = "Xq7Vb"  # in every password below: found anywhere, it is a leak
PASSWORD_A = CORE + "#1?/@%zz:'\" x"  # needs percent-encoding in a URL
PASSWORD_B = CORE + "#2?k"  # '#' and '?' only: libpq and SQLAlchemy agree, accepted as is
ROLE_A = f"leak_a_{uuid.uuid4().hex[:6]}"
ROLE_B = f"leak_b_{uuid.uuid4().hex[:6]}"
FORMATS = ("text", "json", "sarif", "github")

QUERIES = "SELECT id, total FROM orders WHERE customer_email = 'a@b.c' ORDER BY placed_at;\n"
CAPTURE = (
    '{"method": "GET", "route": "/orders", "status": 200, "duration_ms": 3.5, '
    '"queries": [{"statement": "SELECT * FROM orders WHERE id = $1", "duration_ms": 0.4}, '
    '{"statement": "SELECT * FROM orders WHERE id = $1", "duration_ms": 0.4}]}\n'
)


@dataclass(frozen=True)
class Server:
    host: str
    port: str
    database: str
    scram: bool  # the roles' passwords are checked (else the server trusts every login)

    def url(self, role: str, password: str, *, scheme: str = "postgresql", tail: str = "") -> str:
        return f"{scheme}://{role}:{password}@{self.host}:{self.port}/{self.database}{tail}"


def _admin(url: str, *statements: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
            if cursor.description:
                rows = cursor.fetchall()
    return rows


def _login_refused(server: Server) -> bool:
    try:
        psycopg.connect(
            host=server.host,
            port=server.port,
            dbname=server.database,
            user=ROLE_A,
            password="wrong",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError:
        return True
    return False


@pytest.fixture(scope="module")
def server(
    pg_admin_url: str, make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    database_url = make_database("leak")
    parts = parse_url(database_url)
    host, port = parts.host_ports[0]
    database = parts.path or ""
    for role, password in ((ROLE_A, PASSWORD_A), (ROLE_B, PASSWORD_B)):
        literal = password.replace("'", "''")
        _admin(
            pg_admin_url,
            "SET password_encryption = 'scram-sha-256'",
            f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{literal}'",
        )
    _admin(
        database_url,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        "CREATE EXTENSION IF NOT EXISTS hypopg",
    )
    hba = Path(str(_admin(pg_admin_url, "SHOW hba_file")[0][0]))
    original = hba.read_text() if os.access(hba, os.W_OK) else None
    if original is not None:
        lines = "".join(
            f"host all {ROLE_A},{ROLE_B} {net} scram-sha-256\n"
            for net in ("127.0.0.1/32", "::1/128")
        )
        hba.write_text(lines + original)
        _admin(pg_admin_url, "SELECT pg_reload_conf()")
    probe = Server(host, port, database, scram=False)
    deadline = time.monotonic() + 10
    while original is not None and not _login_refused(probe):  # the reload is asynchronous
        assert time.monotonic() < deadline, "the server did not reload pg_hba.conf"
        time.sleep(0.05)
    try:
        yield Server(host, port, database, scram=original is not None)
    finally:
        if original is not None:
            hba.write_text(original)
            _admin(pg_admin_url, "SELECT pg_reload_conf()")
        _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in (ROLE_A, ROLE_B):
            # a shadow database it owns survived: the role stays, on a throwaway server
            with contextlib.suppress(psycopg.Error):
                _admin(pg_admin_url, f"DROP ROLE IF EXISTS {role}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> AlembicProject:
    proj = AlembicProject(tmp_path_factory.mktemp("leak") / "proj")
    proj.add(
        Rev(
            "r1",
            None,
            "CREATE TABLE orders (id bigint PRIMARY KEY, customer_email text, "
            "total numeric, placed_at timestamptz)",
            "DROP TABLE orders",
        )
    )
    (proj.root / "queries.sql").write_text(QUERIES)
    (proj.root / "requests.jsonl").write_text(CAPTURE)
    return proj


def _keyword(server: Server, role: str, password: str) -> str:
    quoted = password.replace("\\", "\\\\").replace("'", "\\'")
    return (
        f"host={server.host} port={server.port} user={role} "
        f"password='{quoted}' dbname={server.database}"
    )


def connecting_forms(server: Server) -> dict[str, str]:
    """URL forms that reach the database with the right password."""
    a = quote(PASSWORD_A, safe="")
    return {
        "url, encoded": server.url(ROLE_A, a),
        "url, '#' and '?' as is": server.url(ROLE_B, PASSWORD_B),
        "keyword string": _keyword(server, ROLE_A, PASSWORD_A),
        "sslpassword in the query": server.url(ROLE_A, a, tail=f"?sslpassword={CORE}ssl"),
        "psycopg2 driver": server.url(ROLE_B, PASSWORD_B, scheme="postgresql+psycopg2"),
        "two hosts, the first down": (
            f"postgresql://{ROLE_A}:{a}@{server.host}:1,{server.host}:{server.port}"
            f"/{server.database}"
        ),
    }


def refused_forms(server: Server) -> dict[str, str]:
    """Forms dbctl cannot use: each is one line, exit 2."""
    h, p, d = server.host, server.port, server.database
    return {
        "url, not encoded": server.url(ROLE_A, PASSWORD_A.replace(" ", "")),
        "'/' in the password": server.url(ROLE_A, CORE + "/x"),
        "'@' in the password": server.url(ROLE_A, CORE + "@x"),
        "'%zz' in the password": server.url(ROLE_A, CORE + "%zz"),
        "port notaport": f"postgresql://{ROLE_A}:{CORE}@{h}:notaport/{d}",
        "port 99999": f"postgresql://{ROLE_A}:{CORE}@{h}:99999/{d}",
        "ipv6 unterminated": f"postgresql://{ROLE_A}:{CORE}@[::1/{d}",
        "no host": f"postgresql://{ROLE_A}:{CORE}",
        "keyword string, unterminated": f"host={h} port={p} password='{CORE}",
        "keyword string, space": f"host={h} password={CORE} x dbname={d}",
        "not a URL": f"{CORE}secret",
        "mysql": f"mysql://{ROLE_A}:{CORE}@{h}/{d}",
    }


def commands(
    project: AlembicProject, state: Path, *, full: bool = True, light: bool = False
) -> list[list[str]]:
    """Every command, in every format it has (a URL goes in as --database-url or env);
    not ``full``: text and json, and no shadow database (the slow part of the run);
    ``light``: one command of each kind that reads the URL (parsed, connected, redacted
    by the same code whatever the command: one form goes through every command)."""
    queries = str(project.root / "queries.sql")
    log = str(project.root / "requests.jsonl")
    if light:
        return [
            ["migrate"],
            ["migrate", "status", "--format", "json"],
            ["check-indexes", queries, "--validate", "--min-rows", "0", "--format", "json"],
            ["top-queries"],
            ["verify-schema", "--live", "--format", "json"],
        ]
    found = [["migrate"]]
    for fmt in FORMATS if full else ("text", "json"):
        found += [
            ["migrate", "status", "--format", fmt],
            ["check-indexes", queries, "--format", fmt],
            ["top-queries", "--format", fmt],
            ["query-budget", log, "--format", fmt],
        ]
    found += [
        ["migrate", "history"],
        *([["verify-schema"]] if full else []),
        *([["lint-migrations", "--format", "github"]] if full else []),
        ["verify-schema", "--live", "--format", "json"],
        ["check-indexes", queries, "--validate", "--min-rows", "0", "--format", "json"],
        ["check-indexes", queries, "--write-migration", "--min-rows", "0"],
        ["top-queries", "--advise", "--save", "leak"],
        ["top-queries", "--since", "leak", "--format", "json"],
        ["sandbox", "url", "--dir", str(state)],
        ["sandbox", "status", "--dir", str(state), "--format", "json"],
    ]
    return found


TAKES_URL = {"migrate", "verify-schema", "check-indexes", "top-queries", "lint-migrations"}


def run_all(
    url: str,
    project: AlembicProject,
    monkeypatch: pytest.MonkeyPatch,
    *,
    full: bool = True,
    light: bool = False,
) -> list[tuple[list[str], int, str]]:
    """Each command with ``url`` as --database-url and as DATABASE_URL: (args, code, output)."""
    monkeypatch.chdir(project.root)
    runner = CliRunner()
    state = project.root / ".dbctl"
    ran = []
    for args in commands(project, state, full=full, light=light):
        takes_url = args[0] in TAKES_URL and args[:2] != ["migrate", "history"]
        ways: list[tuple[list[str], dict[str, str]]] = [(args, {"DATABASE_URL": url})]
        if takes_url:
            ways.append(([*args, "--database-url", url], {}))
        for argv, env in ways:
            result = runner.invoke(app, argv, env=env)
            output = result.stdout + "\n" + result.stderr
            ran.append((argv, result.exit_code, output))
    return ran


def assert_no_password(ran: list[tuple[list[str], int, str]], project: AlembicProject) -> None:
    leaks = [(argv[:2], output) for argv, _, output in ran if CORE in output]
    assert not leaks, leaks[0]
    for path in project.root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert CORE not in text, f"{path} holds the password"


def test_no_password_in_any_output_of_a_url_that_connects(
    server: Server, project: AlembicProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[list[str], int, str]] = []
    for index, (form, url) in enumerate(connecting_forms(server).items()):
        results = run_all(url, project, monkeypatch, full=index == 0, light=index > 1)
        migrate = next(r for r in results if r[0][0] == "migrate" and len(r[0]) <= 3)
        assert migrate[1] == 0, (form, migrate)
        assert "***" in migrate[2] or "postgresql://" not in migrate[2], form
        check = next(r for r in results if r[0][0] == "check-indexes" and "--format" in r[0])
        # the missing index (until the revision the first form wrote is migrated)
        assert check[1] in ((0, 1) if ran else (1,)), (form, check)
        ran += results
    assert list((project.versions).glob("*.py")) != [project.versions / "r1.py"]  # one written
    assert_no_password(ran, project)


def test_refused_forms_are_one_line_exit_2_and_show_no_password(
    server: Server, project: AlembicProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[list[str], int, str]] = []
    for index, (form, url) in enumerate(refused_forms(server).items()):
        results = run_all(url, project, monkeypatch, light=index > 0)
        for argv, code, output in results:
            if argv[:2] == ["sandbox", "url"] or argv[:2] == ["sandbox", "status"]:
                continue  # the sandbox commands read no URL
            assert code == 2, (form, argv, output)
            assert output.strip().startswith("error: "), (form, argv, output)
            assert len(output.strip().splitlines()) == 1, (form, argv, output)
            assert "unexpected" not in output, (form, argv, output)
        ran += results
    assert_no_password(ran, project)


def test_a_wrong_password_cannot_connect_and_is_not_shown(
    server: Server, project: AlembicProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not server.scram:
        pytest.skip("the test server's pg_hba.conf cannot be changed: every login is trusted")
    forms = {
        "url": server.url(ROLE_A, quote(CORE + "#wrong/@%", safe="")),
        "url, '#' and '?' as is": server.url(ROLE_B, CORE + "#wrong?"),
        "keyword string": _keyword(server, ROLE_A, CORE + " wrong'"),
        "sslpassword": server.url(ROLE_B, CORE + "x", tail=f"?sslpassword={CORE}"),
    }
    ran: list[tuple[list[str], int, str]] = []
    for index, (form, url) in enumerate(forms.items()):
        results = run_all(url, project, monkeypatch, full=False, light=index > 0)
        for argv, code, output in results:
            if argv[0] in ("sandbox", "query-budget", "check-indexes") or "history" in argv:
                continue  # no connection needed (check-indexes reads the schema or models)
            if "--since" in argv and "no snapshot named" in output:
                continue  # the snapshot is read first; only a run that connected saved one
            assert code == 2, (form, argv, output)
            assert "cannot connect to postgresql://" in output, (form, argv, output)
            assert "password authentication failed" in output, (form, argv, output)
        ran += results
    assert_no_password(ran, project)


def test_the_real_cli_process_shows_no_password(server: Server, project: AlembicProject) -> None:
    """The installed console script, output read from its file descriptors: what a library
    writes past sys.stdout (libpq's notices, logging) is seen too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBCTL_", "DATABASE_URL"))}
    urls = [
        _keyword(server, ROLE_A, PASSWORD_A),
        server.url(ROLE_A, CORE + "%zz"),
        server.url(ROLE_A, quote(CORE + "wrong", safe="")),
    ]
    dbctl = str(Path(sys.executable).with_name("dbctl"))
    kinds = (["migrate", "status", "--format", "json"], ["top-queries"], ["migrate", "status"])
    for url, args in zip(urls, kinds, strict=True):  # a process each: the file descriptors
        done = subprocess.run(
            [dbctl, *args, "--database-url", url],
            check=False,
            cwd=project.root,
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode in (0, 1, 2)
        assert CORE.encode() not in done.stdout + done.stderr, (args, done)


def test_a_url_given_as_a_stray_argument_is_not_echoed() -> None:
    result = CliRunner().invoke(app, ["migrate", "history", f"postgresql://u:{CORE}@h/d"])
    assert result.exit_code == 2
    assert CORE not in result.stdout + result.stderr
