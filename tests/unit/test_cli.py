"""The command line surface: help everywhere, one-line errors, no password ever printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dbctl.cli import app

pytestmark = pytest.mark.unit


def _leaf_commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    command = typer.main.get_command(group)
    found: list[tuple[str, ...]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        sub = getattr(cmd, "commands", None)
        if sub:
            found.append(path)
            for name, child in sub.items():
                walk(child, (*path, name))
        else:
            found.append(path)

    walk(command, prefix)
    return [path for path in found if path]


@pytest.mark.parametrize("path", _leaf_commands(app), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    """A command's help has an example; a group's lists every one of its commands."""
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    subcommands = getattr(command, "commands", {})
    if subcommands:
        assert all(f" {name} " in result.output for name in subcommands), result.output
    else:
        assert "Example: " in result.output and "dbctl " in result.output.split("Example: ")[1]


@pytest.mark.parametrize("path", _leaf_commands(app), ids=" ".join)
def test_help_names_values_plainly_and_describes_every_option(path: tuple[str, ...]) -> None:
    """No Python type names (<list[Path]>, <bool>), no [[LOG]...]... usage, no option
    without a description (issue 13)."""
    import click

    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert "<" not in result.output.replace("<=", "")  # ranges say [1<=x<=32]
    assert "[[" not in result.output and "...]..." not in result.output
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        if isinstance(param, click.Option) or param.param_type_name == "option":
            assert param.help, (path, param.name)


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.output == "dbctl 0.1.0\n"


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        # dbctl --help: fast to start
        ("dbctl.cli", ("sqlalchemy", "alembic", "sqlglot", "psycopg", "fastapi")),
        # loaded by every test session of a project with dbctl installed (pytest11)
        (
            "dbctl.budget.pytest_plugin",
            ("sqlalchemy", "sqlglot", "psycopg", "fastapi", "prometheus_client"),
        ),
    ],
)
def test_light_entry_points_need_no_environment_and_import_no_heavy_library(
    module: str, heavy: tuple[str, ...]
) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={}, check=False
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_unreachable_database_is_one_line_exit_2_without_password() -> None:
    url = "postgresql://app:hunter2@127.0.0.1:1/app"
    result = CliRunner().invoke(app, ["migrate", "--database-url", url])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "error: cannot connect to postgresql://app:***@127.0.0.1:1/app: "
    )
    assert result.stderr.count("\n") == 1
    assert "hunter2" not in result.output


def test_bad_url_scheme_is_a_config_error() -> None:
    result = CliRunner().invoke(app, ["migrate", "--database-url", "mysql://u:pw@h/d"])
    assert result.exit_code == 2
    assert "unsupported database URL scheme 'mysql'" in result.stderr
    assert "pw@" not in result.stderr


def test_unknown_option_is_a_usage_error_with_exit_2() -> None:
    result = CliRunner().invoke(app, ["migrate", "--no-such-flag"])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--traceback", "migrate", "--database-url", "mysql://h/d"],
        ["migrate", "--database-url", "mysql://h/d", "--traceback"],  # where errors say it
    ],
)
def test_traceback_shows_the_trace_anywhere_and_keeps_the_exit_code(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2  # a configuration error with or without the trace
    assert "Traceback (most recent call last)" in result.stderr
    assert "dbctl.errors.ConfigError" in result.stderr


def test_every_command_has_a_readme_entry() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    top_level = {path[0] for path in _leaf_commands(app)}
    assert top_level == {
        "sandbox", "migrate", "verify-schema", "check-indexes", "top-queries",
        "query-budget", "lint-migrations",
    }  # fmt: skip
    for name in top_level:
        assert f"`dbctl {name}" in readme, name


def test_an_unforeseen_error_is_one_line_and_exit_2_not_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Exit 1 means "findings" to a CI gate: a crash must never look like one."""
    import dbctl.budget.endpoints

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something\nunforeseen")

    monkeypatch.setattr(dbctl.budget.endpoints, "query_budget", broken)
    log = tmp_path / "l.jsonl"
    log.write_text("{}\n")
    result = CliRunner().invoke(app, ["query-budget", str(log)])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: unexpected RuntimeError: something unforeseen (a dbctl bug: run again with "
        "--traceback and report it)\n"
    )
    traced = CliRunner().invoke(app, ["query-budget", str(log), "--traceback"])
    assert traced.exit_code == 2
    assert "RuntimeError: something" in traced.stderr and "Traceback" in traced.stderr


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    """``dbctl check-indexes ... | head``: no "unexpected BrokenPipeError", the exit code a
    Unix tool stopped by SIGPIPE shows (141)."""
    import subprocess
    import sys

    tables = range(400)  # a report well over a pipe's 64 KiB buffer
    schema = tmp_path / "schema.sql"
    schema.write_text("".join(f"CREATE TABLE t{n} (id int, a int, b int);" for n in tables))
    queries = tmp_path / "q.sql"
    queries.write_text("".join(f"SELECT * FROM t{n} WHERE a = 1 AND b > 1;\n" for n in tables))
    command = [sys.executable, "-m", "dbctl", "check-indexes", str(queries)]
    command += ["--schema", str(schema), "--format", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()  # the reader goes away, as head does
    with process.stderr:
        stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ["check-indexes", "--limit", "99999999999999999999", "--schema", "s.sql", "q.sql"],
        ["check-indexes", "--limit", "0", "--schema", "s.sql", "q.sql"],
        ["top-queries", "--limit", "1000001"],
        ["query-budget", "--max", "-1", "log.jsonl"],
    ],
)
def test_numeric_options_out_of_range_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["migrate"],
        ["migrate", "status"],
        ["migrate", "down", "--to", "base"],
        ["verify-schema"],
        ["verify-schema", "--live"],
        ["top-queries", "--sort", "bogus"],
    ],
)
def test_a_wrong_configuration_starts_no_sandbox(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a project (no env.py), or with a bad option, the command stops with exit 2
    before any sandbox is started: no server, no .dbctl/ left in the folder (issue 13)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert "sandbox" not in result.stderr
    assert list(tmp_path.iterdir()) == []
