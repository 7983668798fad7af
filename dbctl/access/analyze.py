"""Statements in, access patterns out: fingerprint, parse (sqlglot, postgres), extract.

Statements that differ only in their literals share one fingerprint (from the token
stream, before parsing) and one analysis. Large inputs are parsed on every core: parsing
dominates the cost, and each worker gets the catalog once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from dbctl.access.lexer import fingerprint, to_dollar_params
from dbctl.access.model import AccessPattern, Kind, Statement
from dbctl.schema.catalog import Catalog

PARALLEL_THRESHOLD = 400  # below this, starting workers costs more than it saves
_KINDS = {
    "select": Kind.select,
    "update": Kind.update,
    "delete": Kind.delete,
    "insert": Kind.insert,
}


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else "syntax error"


@functools.cache
def _postgres() -> tuple[Any, Any]:
    """One tokenizer and one parser, reused: making them is most of a short parse's cost."""
    from sqlglot.dialects.dialect import Dialect

    dialect = Dialect.get_or_raise("postgres")
    return dialect.tokenizer(), dialect.parser()


@functools.cache
def _modules() -> tuple[Any, Any, type[Exception]]:
    """sqlglot's expressions, the extractor and sqlglot's base error, imported on first use
    and then kept: an import statement costs microseconds on each of thousands of calls."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from dbctl.access.extract import Extractor

    return exp, Extractor, SqlglotError


@dataclass
class _Lookups:
    catalog: Catalog  # kept alive, so that its id cannot be reused by another catalog
    tables: dict[tuple[str, str], Any]
    has_views: bool


_LOOKUPS: dict[int, _Lookups] = {}


def _lookups(catalog: Catalog) -> _Lookups:
    """What every statement analysed against one catalog shares: its name lookups, and
    whether it has views to expand at all."""
    entry = _LOOKUPS.get(id(catalog))
    if entry is None or entry.catalog is not catalog:
        if len(_LOOKUPS) > 8:
            _LOOKUPS.clear()
        has_views = any(t.kind == "view" for t in catalog.tables.values())
        entry = _LOOKUPS[id(catalog)] = _Lookups(catalog, {}, has_views)
    return entry


def _parse(text: str) -> list[Any]:
    tokenizer, parser = _postgres()
    return list(parser.parse(tokenizer.tokenize(text), text))


def analyze_one(statement: Statement, catalog: Catalog) -> AccessPattern:
    """The access pattern of one statement; whatever stops its analysis is its ``error``.

    One statement never stops a run: a parse error, sqlglot failing on syntax it does not
    know (``<#>``, ``?#`` end in a TypeError inside its parser), recursion on deep nesting,
    or a fault in dbctl's own extraction becomes this statement's ``parse-error`` finding,
    with the exception's type named; the other statements go on.
    """
    SqlglotError = _modules()[2]
    try:
        return _analyze(statement, catalog)
    except SqlglotError as exc:
        return AccessPattern(statement, Kind.other, error=_first_line(str(exc)))
    except RecursionError:
        return AccessPattern(statement, Kind.other, error="it is nested too deeply to analyse")
    except Exception as exc:  # not hidden: the statement's finding names it
        why = f"{type(exc).__name__}: {_first_line(str(exc))}"
        return AccessPattern(statement, Kind.other, error=f"sqlglot or dbctl fails on it ({why})")


def _analyze(statement: Statement, catalog: Catalog) -> AccessPattern:
    exp, Extractor, _ = _modules()
    text = statement.text
    if "%" in text or ":" in text:  # else no %s, %(name)s or :name to rewrite as $n
        text, _ = to_dollar_params(text)
    trees = [tree for tree in _parse(text) if tree is not None]
    if not trees:
        return AccessPattern(statement, Kind.other, error="empty statement")
    if len(trees) > 1:
        return AccessPattern(
            statement,
            Kind.other,
            error=f"it holds {len(trees)} statements; each record must hold one",
        )
    tree = trees[0]
    kind = Kind.other
    for name, value in _KINDS.items():
        if isinstance(tree, getattr(exp, name.capitalize())) or (
            name == "select" and isinstance(tree, exp.Query)
        ):
            kind = value
            break
    shared = _lookups(catalog)
    extractor = Extractor(catalog, tables=shared.tables, has_views=shared.has_views)
    accesses = extractor.run(tree, text)
    unknown = tuple(dict.fromkeys(extractor.unknown))
    return AccessPattern(statement, kind, tuple(accesses), unknown)


def quiet_sqlglot() -> None:
    """Silence sqlglot's logger: it warns for each statement it keeps as a bare command
    (SHOW...); what matters about a statement is its finding."""
    import logging

    logging.getLogger("sqlglot").setLevel(logging.CRITICAL)


# Inputs of the worker processes, set before the fork so that they inherit them instead
# of receiving them pickled; workers send back only the accesses, not the statements.
_shared: tuple[list[Statement], Catalog] | None = None
Result = tuple[Kind, tuple[Any, ...], tuple[str, ...], str | None]


def _analyze_range(bounds: tuple[int, int]) -> list[Result]:
    assert _shared is not None
    statements, catalog = _shared
    quiet_sqlglot()
    patterns = (analyze_one(statements[i], catalog) for i in range(*bounds))
    return [(p.kind, p.accesses, p.unknown_tables, p.error) for p in patterns]


def _parallel(unique: list[Statement], catalog: Catalog, workers: int) -> Iterator[AccessPattern]:
    """The patterns of ``unique`` in order, yielded as the forked workers finish chunks."""
    import gc
    import multiprocessing

    import sqlglot.optimizer.scope  # noqa: F401  (imported once, before the fork)

    import dbctl.access.extract  # noqa: F401

    global _shared  # noqa: PLW0603 (handed to the forked workers)
    _shared = (unique, catalog)
    size = max(50, len(unique) // (workers * 6))
    bounds = [(i, min(i + size, len(unique))) for i in range(0, len(unique), size)]
    # What exists now (modules, statements, catalog) lives to the end: out of the
    # collector's sight, in the workers (whose collections would otherwise touch, and so
    # copy, every page they inherit) and here while the caller consumes the patterns.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, context) as pool:
            chunks = pool.map(_analyze_range, bounds)
            for (start, _), chunk in zip(bounds, chunks, strict=True):
                for offset, result in enumerate(chunk):
                    yield AccessPattern(unique[start + offset], *result)
    finally:
        gc.unfreeze()
        _shared = None


def analyze_iter(
    statements: Sequence[Statement], catalog: Catalog, *, workers: int | None = None
) -> Iterator[AccessPattern]:
    """The access pattern of every statement, in order, one analysis per fingerprint;
    yielded as they are ready, so the caller's work overlaps the workers'."""
    keyed = [
        s if s.fingerprint else replace(s, fingerprint=fingerprint(s.text)) for s in statements
    ]
    representatives: dict[str, Statement] = {}
    for statement in keyed:
        representatives.setdefault(statement.fingerprint, statement)
    unique = list(representatives.values())
    quiet_sqlglot()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    import multiprocessing

    forks = "fork" in multiprocessing.get_all_start_methods()
    if workers > 1 and forks and len(unique) >= PARALLEL_THRESHOLD:
        results: Iterator[AccessPattern] = _parallel(unique, catalog, workers)
    else:
        results = (analyze_one(statement, catalog) for statement in unique)
    by_print: dict[str, AccessPattern] = {}
    for statement in keyed:
        while statement.fingerprint not in by_print:
            pattern = next(results)
            by_print[pattern.statement.fingerprint] = pattern
        found = by_print[statement.fingerprint]
        yield found if found.statement is statement else replace(found, statement=statement)


def analyze(
    statements: Sequence[Statement], catalog: Catalog, *, workers: int | None = None
) -> list[AccessPattern]:
    """The access pattern of every statement, in order; one analysis per fingerprint."""
    return list(analyze_iter(statements, catalog, workers=workers))
