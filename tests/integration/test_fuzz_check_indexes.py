"""A sample of PostgreSQL's own regression SQL through check-indexes, in every catalog mode.

``tests/fixtures/fuzz/regress_sample.sql`` holds 679 statements of every kind (DDL, DML,
MERGE, utility commands, psql-era oddities), written by ``bench/fuzz_check_indexes.py
--write-sample``; that script runs the full corpus (about 49,000 statements). Each mode
must exit 0, 1 or 2 with no ``unexpected`` error and no traceback, count every statement,
and leave the database as it was; what-if must send nothing but one statement, read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from bench.fuzz_check_indexes import check, database_state, modes, prepare_database
from dbctl.access.lexer import split_statements
from dbctl.advise.explainable import NotExplainable, explainable
from dbctl.cli import app
from dbctl.pg.connect import connect
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

SAMPLE = PROJECT_ROOT / "tests" / "fixtures" / "fuzz" / "regress_sample.sql"
STATEMENTS = [text for text, _ in split_statements(SAMPLE.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def url(make_database: Callable[[str], str]) -> str:
    url = make_database("fuzz")
    prepare_database(url)
    with connect(url, autocommit=True) as conn:
        if conn.execute("SELECT FROM pg_extension WHERE extname = 'hypopg'").fetchone() is None:
            pytest.skip("hypopg is not created in the test databases")
    return url


def test_the_sample_is_varied() -> None:
    assert len(STATEMENTS) == 679
    heads = {text.split(None, 1)[0].upper() for text in STATEMENTS if not text.startswith("-")}
    assert {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "MERGE", "CREATE", "ALTER"} <= heads
    assert SAMPLE.stat().st_size < 300_000


@pytest.mark.parametrize("mode", ["empty", "schema", "live", "validate"])
def test_every_catalog_mode(mode: str, url: str, tmp_path: Path) -> None:
    before = database_state(url)
    args = modes(tmp_path, url)[mode]
    result = CliRunner().invoke(
        app, ["check-indexes", str(SAMPLE), *args, "--format", "json", "--fail-on", "error"]
    )
    verdict = check(mode, result.exit_code, result.stdout, result.stderr, len(STATEMENTS))
    assert verdict["exit"] == 1  # the sample has statements sqlglot cannot parse
    assert isinstance(verdict["parse-error"], int) and verdict["parse-error"] > 100
    if mode == "live":
        assert verdict["missing-index"] == 2  # road and text_tbl have rows: advice
    if mode == "validate":  # the planner priced both (they save too little: dropped)
        assert verdict["index-not-used"] == 2 and "not-validated" not in verdict
    assert database_state(url) == before


def test_what_if_sends_every_explainable_statement_read_only(url: str) -> None:
    """Every statement of the sample either is refused by ``explainable`` or is one
    statement that PostgreSQL plans (or refuses to) in the read-only transaction; the
    database is unchanged after all of them."""
    from dbctl.advise.whatif import LOCK_TIMEOUT, _Planner

    before = database_state(url)
    outcome: dict[str, int] = {"refused": 0, "planned": 0, "server refused": 0}
    with connect(url) as conn:
        pg: psycopg.Connection[Any] = conn
        with pg.transaction(force_rollback=True):
            pg.execute("SET LOCAL transaction_read_only = on")
            pg.execute("SELECT set_config('statement_timeout', '5s', true)")
            pg.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
            planner = _Planner(pg, pg.info.server_version)
            for text in STATEMENTS:
                try:
                    sql, _ = explainable(text)
                except NotExplainable:
                    outcome["refused"] += 1
                    continue
                assert len(list(split_statements(sql))) == 1
                try:
                    planner.explain(text)
                    outcome["planned"] += 1
                except psycopg.Error:
                    outcome["server refused"] += 1  # unknown tables, mostly
    assert database_state(url) == before
    assert outcome["planned"] >= 20 and outcome["refused"] >= 300, outcome
