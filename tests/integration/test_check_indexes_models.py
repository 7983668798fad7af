"""check-indexes against the models: the catalog verify-schema builds, on the sandbox.

With neither ``--schema`` nor ``--database-url``, the catalog is the models' as PostgreSQL
lays them out (``drift.models_catalog``) on the project's sandbox, started if needed. Each
model shape below was misread when the models were rendered to DDL and parsed back with
sqlglot: an operator class taken for an expression, a ``NULLS NOT DISTINCT`` index skipped,
a ``%`` doubled by the driver's paramstyle that broke the parse (a crash).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.pg.sandbox import Sandbox
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The state folder of a sandbox of these tests' own (a project's ``.dbctl``)."""
    state = tmp_path_factory.mktemp("check_models") / "state"
    sandbox = Sandbox(state)
    sandbox.start()
    try:
        yield state
    finally:
        sandbox.stop(destroy=True)


def run(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["check-indexes", *args, "--format", "json"])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stderr


def test_the_models_are_the_catalog_by_default(
    sandbox_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("DBCTL_STATE_DIR", str(sandbox_state))
    queries = tmp_path / "q.sql"
    queries.write_text(
        "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20;\n"
        "SELECT * FROM orders WHERE status = 'paid';\n"
    )
    code, report, stderr = run(str(queries))
    assert report["data"]["catalog"] == "models"
    url = Sandbox(sandbox_state).status().url
    assert stderr == f"no --database-url given: using the sandbox (running) at {url}\n"
    missing = [f for f in report["findings"] if f["rule"] == "missing-index"]
    # The companion's index on (customer_id, created_at DESC, id DESC) serves the first.
    assert [(f["table"], f["columns"]) for f in missing] == [("public.orders", ["status"])]
    assert code == 1


SHAPES = """
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, func

metadata = MetaData()
docs = Table(
    "docs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(200), nullable=False),
    Column("code", Text),
    Column("title", Text),
    Column("n", Integer),
)
Index("ix_docs_email_pattern", docs.c.email, postgresql_ops={"email": "varchar_pattern_ops"})
Index("ix_docs_code", docs.c.code, unique=True, postgresql_nulls_not_distinct=True)
Index("ix_docs_lower_title", func.lower(docs.c.title), postgresql_where=docs.c.title.like("a%"))
Index("ix_docs_n", docs.c.n)  # a true duplicate: the prefix of the next one
Index("ix_docs_n_id", docs.c.n, docs.c.id)
"""


# The DDL path read "email varchar_pattern_ops" as an expression and skipped the NULLS NOT
# DISTINCT index: missing-index for both, CREATE INDEX ix_docs_code for an index of that
# name. With a "%" in an index (doubled to "%%" for psycopg), it crashed on a ParseError.
@pytest.mark.parametrize(
    ("more_models", "more_sql"),
    [
        ("", ""),
        ('Index("ix_docs_n_bucket", docs.c.n % 10)\n', "SELECT * FROM docs WHERE n % 10 = $1;\n"),
    ],
    ids=["operator-class-and-nulls-not-distinct", "percent-sign"],
)
def test_model_shapes_the_ddl_path_misread(
    more_models: str,
    more_sql: str,
    sandbox_state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = f"shapes_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(SHAPES + more_models)
    queries = tmp_path / "q.sql"
    queries.write_text(
        "SELECT * FROM docs WHERE email = $1;\n"  # the varchar_pattern_ops index
        "SELECT * FROM docs WHERE code = $1;\n"  # the NULLS NOT DISTINCT unique index
        "SELECT * FROM docs WHERE title = $1;\n" + more_sql  # no index: lower(title) is not title
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBCTL_STATE_DIR", str(sandbox_state))
    code, report, stderr = run(str(queries), "--models", f"{module}:metadata")
    assert report, stderr
    assert report["data"]["catalog"] == "models"
    findings = report["findings"]
    missing = [(f["table"], f["columns"]) for f in findings if f["rule"] == "missing-index"]
    assert missing == [("public.docs", ["title"])]
    drops = [f["suggestion"] for f in findings if "DROP INDEX" in (f.get("suggestion") or "")]
    assert drops == ["DROP INDEX CONCURRENTLY public.ix_docs_n;"]  # the true duplicate only
    assert sorted(f["rule"] for f in findings) == [
        "duplicate-index",
        "missing-index",
        "no-statistics",
    ]
    assert code == 1
