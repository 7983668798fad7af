"""The fixture file tests/fixtures/advise/suggestions.txt: each case's access patterns in,
its expected suggestions and findings out (see the file's header for the format)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dbctl.access.model import (
    AccessPattern,
    Kind,
    Reason,
    SortKey,
    Statement,
    TableAccess,
    Unservable,
)
from dbctl.advise.advisor import advise
from dbctl.schema.catalog import Catalog, Index, Table

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "advise"
IGNORED_NOTES = {"no-statistics"}


@dataclass
class Case:
    title: str
    line: int
    catalog: Catalog
    patterns: list[AccessPattern] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


def _fingerprint(text: str) -> str:
    return re.sub(r"'[^']*'|\$\d+|\b\d+\b", "?", text)


def _key_part(text: str) -> tuple[str, bool, bool, bool]:
    """(column or expression, expression?, descending, nulls first)."""
    words = text.split()
    descending = "DESC" in words
    nulls_first = descending if "NULLS" not in words else words[-1] == "FIRST"
    return words[0], "(" in words[0], descending, nulls_first


def _index(line: str) -> tuple[str, Index]:
    match = re.fullmatch(r"index (\S+) (\S+) \((.*?)\)((?: \w+(?:=\S+)?)*)(?: where (.*))?", line)
    assert match, line
    table, name, key, flags, predicate = match.groups()
    flag = flags.split()
    parts = [_key_part(p.strip()) for p in re.split(r",\s*(?![^()]*\))", key)]
    method = next((f for f in flag if f in ("hash", "gin", "gist")), "btree")
    ops = next((f.split("=", 1)[1] for f in flag if f.startswith("ops=")), None)
    return table, Index(
        name,
        tuple(p[0] for p in parts),
        unique="unique" in flag,
        primary="primary" in flag,
        method=method,
        predicate=predicate,
        valid="invalid" not in flag,
        expressions=tuple(p[1] for p in parts),
        descending=tuple(p[2] for p in parts),
        nulls_first=tuple(p[3] for p in parts),
        opclasses=(ops,) + (None,) * (len(parts) - 1),
        constraint=name if "unique" in flag else None,
    )


def _sort_key(text: str) -> SortKey:
    column, _, nulls = text.partition("~")
    descending = column.startswith("-")
    return SortKey(column.lstrip("-"), descending, {"": None, "first": True, "last": False}[nulls])


def _pattern(line: str, number: int) -> AccessPattern:
    spec, _, text = line.partition(" :: ")
    spec, _, unservable_spec = spec.partition(" unservable=")  # last: it may hold spaces
    unservable = []
    if unservable_spec:
        column, reason, expression = unservable_spec.split("|", 2)
        unservable.append(Unservable(column, expression, Reason(reason), "the remedy"))
    table, *items = spec.split()
    values: dict[str, list[str]] = {}
    flags = set()
    for item in items:
        key, equals, value = item.partition("=")
        if equals:
            values[key] = value.split(",")
        else:
            flags.add(key)
    get = lambda key: tuple(values.get(key, ()))  # noqa: E731
    access = TableAccess(
        table,
        equality=tuple(dict.fromkeys(get("eq") + get("in") + get("null"))),
        in_lists=get("in"),
        nulls=get("null"),
        ranges=get("range"),
        joins=get("join"),
        sort=tuple(_sort_key(key) for key in get("sort")),
        limit="limit" in flags,
        unservable=tuple(unservable),
        write="write" in flags,
        reads=get("reads") if "reads" in values else None,
        join_sets=tuple(tuple(sorted(group.split("+"))) for group in get("joinsets")),
    )
    fingerprint = _fingerprint(text) if text else f"line {number}"
    text = text or f"SELECT * FROM {table} -- line {number}"
    statement = Statement(text, "suggestions.txt", number, fingerprint=fingerprint)
    return AccessPattern(statement, Kind.update if "write" in flags else Kind.select, (access,))


def load_cases(path: Path) -> list[Case]:
    tables: dict[str, Table] = {}
    cases: list[Case] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("table "):
            name, *rest = line[6:].split(" ", 1)
            schema, table = name.split(".")
            kind = rest[0].removeprefix("kind=") if rest else "table"
            tables[name] = Table(schema, table, kind=kind)
        elif line.startswith("index "):
            table, index = _index(line)
            old = tables[table]
            tables[table] = Table(old.schema, old.name, old.kind, indexes=(*old.indexes, index))
        elif line.startswith("-- "):
            cases.append(Case(line[3:], number, Catalog.build(tables.values())))
        elif line.startswith("=> "):
            if line != "=> none":
                cases[-1].expected.append(line[3:])
        elif line.startswith("!! "):
            rule, table = line[3:].split()
            cases[-1].notes.append((rule, table))
        else:
            cases[-1].patterns.append(_pattern(line, number))
    return cases


CASES = load_cases(FIXTURES / "suggestions.txt")


@pytest.mark.parametrize("case", CASES, ids=[f"{c.line}: {c.title}" for c in CASES])
def test_fixture(case: Case) -> None:
    assert case.patterns, case.title
    advice = advise(case.patterns, case.catalog)
    got = []
    for suggestion in advice.suggestions:
        served = len(suggestion.statements)
        got.append(suggestion.sql + (f" # serves {served}" if served > 1 else ""))
    wanted = [re.sub(r" # serves 1$", "", line) for line in case.expected]
    assert got == wanted
    notes = sorted((f.rule, f.table or "") for f in advice.notes if f.rule not in IGNORED_NOTES)
    assert notes == sorted(case.notes)
    assert all(f.location is not None for f in advice.findings() if f.statement is not None)
