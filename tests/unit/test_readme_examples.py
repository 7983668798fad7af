"""Every dbctl command the README prints in its shell blocks, and every
"Example:" of --help is accepted as written by the real command line parser: options,
values and choices copy-paste exact (issue 13). Parsing only: nothing runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from dbctl.cli import _metavars, app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    found: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            code = re.split(r"\s#", line)[0]  # a comment after the command
            parts = [p.strip() for p in re.split(r"&&|\|", code)]
            found += [part for part in parts if part.startswith("dbctl ")]
    return list(dict.fromkeys(found))


def _help_examples() -> list[str]:
    root = typer.main.get_command(app)
    found: list[str] = []

    def walk(command: Any) -> None:
        for match in re.findall(r"Example: (dbctl [^\n]*)", command.help or ""):
            found.append(re.split(r" (?:[|>]|&&) ", match)[0])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(root)
    return found


def _parse(line: str) -> None:
    """Through the tree of commands to the one named, then its own parser, strictly."""
    words = [re.sub(r"\$\(?[A-Za-z_]+\)?", "postgresql://app@db/app", w) for w in shlex.split(line)]
    command: Any = typer.main.get_command(app)
    _metavars(command)
    args = words[1:]
    while args and args[0] in getattr(command, "commands", {}):  # typer vendors its click
        command = command.commands[args[0]]
        args = args[1:]
    if "..." in args:  # "--until ...": an elided value
        return
    with command.make_context("dbctl", list(args)) as ctx:
        assert ctx.command is command


def test_there_are_examples() -> None:
    assert len(_readme_commands()) >= 12
    assert len(_help_examples()) >= 10


@pytest.mark.parametrize("line", _readme_commands() + _help_examples())
def test_every_example_parses_as_written(line: str) -> None:
    _parse(line)


@pytest.mark.parametrize(
    "line",
    [
        "dbctl top-queries --nope",
        "dbctl check-indexes --format xml q.sql",
        "dbctl query-budget --max lots l.jsonl",
        "dbctl migrate down",  # --to is required
    ],
)
def test_a_wrong_example_would_be_caught(line: str) -> None:
    with pytest.raises(Exception):  # noqa: B017 (click's, pydantic's: any refusal will do)
        _parse(line)
