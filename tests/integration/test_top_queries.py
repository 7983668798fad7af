"""dbctl top-queries against a real server and real traffic (pgbench, and known statements).

Each test works in its own database: pg_stat_statements is shared by the server, and its
rows are told apart by ``dbid``. The tests' own reads of the view start with
``/* dbctl */`` so that they stay out of what dbctl lists, as dbctl's own statements do.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from dbctl.cli import app
from dbctl.config import Settings
from dbctl.errors import ConfigError, ConnectionFailed, ExtensionMissing, PrivilegeMissing
from dbctl.pg.url import database_name, libpq_url
from dbctl.stats.top import TopOptions, TopResult, top_queries
from tests.conftest import project_settings

pytestmark = pytest.mark.integration

MakeDatabase = Callable[[str], str]
SLEEP = "SELECT pg_sleep($1)"


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return replace(project_settings(), state_dir=tmp_path / "state", **changes)


def _run(url: str, *statements: str, times: int = 1, user: str | None = None) -> None:
    """Run each statement ``times`` times, as the URL's user or as ``user``."""
    dsn = libpq_url(url)
    with psycopg.connect(dsn, autocommit=True, **({"user": user} if user else {})) as conn:
        for _ in range(times):
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]


def _pgss(url: str) -> dict[int, dict[str, Any]]:
    """What pg_stat_statements itself reports for the database of ``url``, per queryid."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "/* dbctl */ SELECT queryid, query, sum(calls), "
            "sum(total_plan_time + total_exec_time), sum(rows), sum(shared_blks_hit), "
            "sum(shared_blks_read) FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND toplevel AND query NOT LIKE '/* dbctl */%' "
            # transaction control (pgbench's BEGIN, END, commit) is every client's: not listed
            "AND query !~* '^(begin|end|commit)$' GROUP BY queryid, query"
        ).fetchall()
    return {
        int(r[0]): {
            "query": r[1],
            "calls": int(r[2]),
            "total_ms": float(r[3]),
            "rows": int(r[4]),
            "shared_blks_hit": int(r[5]),
            "shared_blks_read": int(r[6]),
        }
        for r in rows
    }


def _top(tmp_path: Path, url: str, **options: Any) -> TopResult:
    slo_ms = options.pop("slo_ms", 3.0)
    return top_queries(_settings(tmp_path, slo_ms=slo_ms), url, TopOptions(**options))


def _cli(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, ["top-queries", *args], input=input, terminal_width=200)


def _queryid(result: TopResult, query: str) -> int:
    found = [row.stats.queryid for row in result.rows if row.stats.query == query]
    assert len(found) == 1, [row.stats.query for row in result.rows]
    assert found[0] is not None
    return found[0]


@pytest.fixture(scope="module")
def pgbench_url(make_database: MakeDatabase) -> str:
    """A database after ``pgbench -i`` and 2 clients x 200 transactions of its TPC-B script,
    plus a statement that sleeps 10 ms three times."""
    from dbctl.pg.sandbox import find_bindir

    url = make_database("top_pgbench")
    pgbench = str(find_bindir() / "pgbench")
    for args in (["-i", "-s", "1", "-q"], ["-n", "-c", "2", "-t", "200"]):
        subprocess.run(
            [pgbench, *args, libpq_url(url)], check=True, capture_output=True, timeout=300
        )
    _run(url, "SELECT pg_sleep(0.01)", times=3)
    return url


# -- the figures --------------------------------------------------------------------------


def test_figures_match_pg_stat_statements(pgbench_url: str, tmp_path: Path) -> None:
    expected = _pgss(pgbench_url)
    result = _top(tmp_path, pgbench_url, limit=1000)
    assert {row.stats.queryid for row in result.rows} == set(expected)
    for row in result.rows:
        assert row.stats.queryid is not None
        want = expected[row.stats.queryid]
        assert row.stats.query == want["query"]
        assert row.stats.calls == want["calls"]
        assert row.stats.total_ms == pytest.approx(want["total_ms"], rel=1e-9)
        assert row.stats.mean_ms == pytest.approx(want["total_ms"] / want["calls"], rel=1e-9)
        assert row.stats.rows == want["rows"]
        assert row.stats.shared_hit == want["shared_blks_hit"]
        assert row.stats.shared_read == want["shared_blks_read"]
    assert not {"BEGIN", "END"} & {row.stats.query for row in result.rows}
    update = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"
    assert expected[_queryid(result, update)]["calls"] == 400  # 2 clients x 200 transactions
    total = sum(want["total_ms"] for want in expected.values())
    assert result.summary["total_ms"] == pytest.approx(total, rel=1e-9)
    assert sum(row.share for row in result.rows) == pytest.approx(1.0)


def test_json_rows_hold_the_full_text_and_every_figure(pgbench_url: str) -> None:
    out = _cli("--database-url", pgbench_url, "--format", "json", "--limit", "3")
    report = json.loads(out.stdout)
    assert report["command"] == "top-queries"
    assert len(report["data"]["rows"]) == 3
    row = report["data"]["rows"][0]
    assert set(row) >= {
        "queryid", "query", "calls", "total_ms", "plan_ms", "exec_ms", "mean_ms", "max_ms",
        "stddev_ms", "variation", "rows_per_call", "hit_ratio", "io_ms", "share", "slo_breach",
    }  # fmt: skip
    expected = _pgss(pgbench_url)[row["queryid"]]
    assert row["query"] == expected["query"]
    assert row["calls"] == expected["calls"]


@pytest.mark.parametrize("sort", ["total", "mean", "calls", "rows", "io"])
def test_sort_orders(pgbench_url: str, tmp_path: Path, sort: str) -> None:
    result = _top(tmp_path, pgbench_url, sort=sort, limit=5)
    key = {
        "total": lambda s: s.total_ms,
        "mean": lambda s: s.mean_ms,
        "calls": lambda s: s.calls,
        "rows": lambda s: s.rows,
        "io": lambda s: (s.io_ms, s.shared_read),
    }[sort]
    values = [key(row.stats) for row in result.rows]
    assert len(values) == 5
    assert values == sorted(values, reverse=True)
    everything = _top(tmp_path, pgbench_url, sort=sort, limit=1000)
    assert values[0] == max(key(row.stats) for row in everything.rows)
    if sort == "calls":
        assert result.rows[0].stats.calls >= 400


def test_limit_and_min_calls(pgbench_url: str, tmp_path: Path) -> None:
    result = _top(tmp_path, pgbench_url, limit=2, min_calls=100)
    assert len(result.rows) == 2
    assert all(row.stats.calls >= 100 for row in result.rows)
    assert result.summary["listed"] == 2


# -- the SLO gate -------------------------------------------------------------------------


@pytest.fixture
def slo_url(make_database: MakeDatabase) -> str:
    url = make_database("top_slo")
    _run(url, "SELECT pg_sleep(0.01)", times=3)
    _run(url, "SELECT 1", times=5)
    return url


def test_a_statement_above_the_objective_is_a_finding(slo_url: str, tmp_path: Path) -> None:
    result = _top(tmp_path, slo_url)
    sleep = _queryid(result, SLEEP)
    [finding] = result.findings
    assert finding.rule == "slo-breach"
    assert finding.severity.value == "error"
    assert finding.queryid == sleep
    assert finding.statement == SLEEP
    assert finding.message.startswith("SELECT pg_sleep($1): mean ")
    assert finding.message.endswith(" ms over 3 calls is above the 3 ms objective")
    assert finding.evidence["calls"] == 3
    assert finding.evidence["mean_ms"] > 10
    assert finding.evidence["slo_ms"] == 3.0
    assert result.summary["statements"] == 2
    assert result.summary["slo_breaches"] == 1
    assert result.summary["slo_breach_share"] > 0.9


def test_the_gate_both_ways(slo_url: str) -> None:
    failed = _cli("--database-url", slo_url, "--fail-on", "error")
    assert failed.exit_code == 1
    lines = failed.stdout.splitlines()
    assert lines[-1] == "dbctl top-queries: failed (1 error, 0 warnings, 0 infos)"
    report = json.loads(_cli("--database-url", slo_url, "--format", "json").stdout)
    share = report["summary"]["slo_breach_share"]
    assert lines[-2] == (
        "2 statements, 2 listed by total time; 1 above the 3 ms objective (marked !): "
        f"{share:.1%} of the time"
    )
    assert "SELECT pg_sleep($1)" in lines[2]
    assert " !" in lines[2]

    passed = _cli("--database-url", slo_url, "--fail-on", "never")
    assert passed.exit_code == 0
    assert passed.stdout.splitlines()[-1] == (
        "dbctl top-queries: ok (1 error, 0 warnings, 0 infos)"
    )
    relaxed = _cli("--database-url", slo_url, "--slo-ms", "100", "--fail-on", "error")
    assert relaxed.exit_code == 0
    assert relaxed.stdout.splitlines()[-1] == (
        "dbctl top-queries: ok (0 errors, 0 warnings, 0 infos)"
    )


def test_the_objective_comes_from_the_environment(
    slo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBCTL_SLO_MS", "100")
    assert _cli("--database-url", slo_url).exit_code == 0


def test_a_breach_beyond_the_limit_still_fails_the_gate(slo_url: str, tmp_path: Path) -> None:
    result = _top(tmp_path, slo_url, sort="calls", limit=1)
    assert [row.stats.query for row in result.rows] == ["SELECT $1"]
    [finding] = result.findings
    assert finding.queryid is None
    assert finding.message.startswith("1 more statements above the 3 ms objective are not listed")
    assert result.report().exit_code == 1


def test_github_annotations(slo_url: str) -> None:
    out = _cli("--database-url", slo_url, "--format", "github")
    assert out.exit_code == 1
    first = out.stdout.splitlines()[0]
    assert first.startswith("::error title=slo-breach::SELECT pg_sleep($1): mean ")


# -- snapshots ----------------------------------------------------------------------------


def test_save_and_since_give_the_window(make_database: MakeDatabase, tmp_path: Path) -> None:
    url = make_database("top_window")
    _run(url, "SELECT pg_sleep(0.001)", times=3)
    before = _pgss(url)
    saved = _top(tmp_path, url, save="before")
    assert saved.data["saved"]["statements"] == 1
    assert (tmp_path / "state" / "snapshots" / "before.json").is_file()

    _run(url, "SELECT pg_sleep(0.001)", times=5)
    _run(url, "SELECT count(*) FROM pg_class", times=2)
    after = _pgss(url)
    result = _top(tmp_path, url, since="before")
    sleep = _queryid(result, SLEEP)
    count = _queryid(result, "SELECT count(*) FROM pg_class")
    rows = {row.stats.queryid: row for row in result.rows}
    assert rows[sleep].stats.calls == 5
    window_ms = after[sleep]["total_ms"] - before[sleep]["total_ms"]
    assert rows[sleep].stats.total_ms == pytest.approx(window_ms, rel=1e-9)
    assert rows[sleep].stats.mean_ms == pytest.approx(window_ms / 5, rel=1e-9)
    assert rows[sleep].stats.max_ms is None  # not known for a window
    assert not rows[sleep].new
    assert rows[count].new
    assert rows[count].stats.calls == 2
    window = result.data["window"]
    assert window["since"] == "before"
    assert window["new_statements"] == 1
    assert window["reset_statements"] == 0
    assert not result.notes
    # --since as a time, as query-budget takes it: the newest snapshot saved by then
    by_time = _top(tmp_path, url, since="0s")
    assert by_time.data["window"]["since"] == "before"
    assert by_time.notes == ("--since 0s: the window since snapshot 'before'",)
    with pytest.raises(ConfigError, match="no snapshot was saved by then"):
        _top(tmp_path, url, since="2d")
    iso = datetime.now(UTC).isoformat()  # the ":" of a time is no snapshot name's
    assert _top(tmp_path, url, since=iso).data["window"]["since"] == "before"


def test_since_detects_a_reset(make_database: MakeDatabase, tmp_path: Path) -> None:
    url = make_database("top_reset_window")
    _run(url, "SELECT pg_sleep(0.001)", times=4)
    _top(tmp_path, url, save="before")
    reset = _top(tmp_path, url, reset=True, save="after")
    assert reset.rows  # what was read before the reset is shown
    _run(url, "SELECT pg_sleep(0.001)", times=2)

    result = _top(tmp_path, url, since="before")
    sleep = _queryid(result, SLEEP)
    [row] = [row for row in result.rows if row.stats.queryid == sleep]
    assert row.reset
    assert row.stats.calls == 2
    assert result.data["window"]["reset_statements"] == 1
    assert any("went down since snapshot 'before'" in note for note in result.notes)

    since_reset = _top(tmp_path, url, since="after")  # saved after the reset: counts from it
    [row] = [row for row in since_reset.rows if row.stats.queryid == sleep]
    assert row.stats.calls == 2
    assert not row.reset


def test_cli_save_and_since(
    make_database: MakeDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBCTL_STATE_DIR", str(tmp_path / "state"))
    url = make_database("top_cli_window")
    _run(url, "SELECT 1", times=2)
    saved = _cli("--database-url", url, "--save", "deploy")
    assert saved.exit_code == 0
    path = tmp_path / "state" / "snapshots" / "deploy.json"
    assert saved.stderr == f"note: saved snapshot 'deploy' (1 statements) to {path}\n"
    _run(url, "SELECT 1", times=3)
    since = _cli("--database-url", url, "--since", "deploy")
    assert since.exit_code == 0
    lines = since.stdout.splitlines()
    assert lines[0] == "since snapshot 'deploy' (0 min ago): 1 statements ran, 0 of them new"
    assert lines[3].split()[:2] == ["1", "3"]  # the row: number, calls in the window
    missing = _cli("--database-url", url, "--since", "nope")
    assert missing.exit_code == 2
    assert missing.stderr == (
        f"error: no snapshot named 'nope' in {path.parent} (saved: deploy): "
        "save one with --save nope\n"
    )


def test_since_refuses_another_database(make_database: MakeDatabase, tmp_path: Path) -> None:
    first, second = make_database("top_first"), make_database("top_second")
    _top(tmp_path, first, save="x")
    with pytest.raises(Exception, match=f"is of database {database_name(first)}, not"):
        _top(tmp_path, second, since="x")


# -- what dbctl leaves out ------------------------------------------------------------------


def test_dbctl_own_statements_are_left_out(make_database: MakeDatabase, tmp_path: Path) -> None:
    url = make_database("top_own")
    _run(url, "SELECT 1", times=2)
    _top(tmp_path, url)
    _top(tmp_path, url, sort="mean")
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        texts = [
            r[0]
            for r in conn.execute(
                "SELECT query FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ]
    assert any(text.startswith("/* dbctl */") for text in texts)  # they are there...
    result = _top(tmp_path, url, limit=100)
    listed = [row.stats.query for row in result.rows]
    assert not any(text.startswith("/* dbctl */") for text in listed)  # ...and not listed
    assert "SELECT $1" in listed
    untagged = (
        "SELECT query FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    assert untagged in listed  # an untagged read of the view is anyone's statement


def test_nested_statements_with_all_levels(make_database: MakeDatabase, tmp_path: Path) -> None:
    url = make_database("top_levels")
    _run(
        url,
        "CREATE FUNCTION touch() RETURNS bigint LANGUAGE plpgsql AS "
        "$$ BEGIN RETURN (SELECT count(*) FROM pg_namespace); END $$",
    )
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'all'")
        for _ in range(3):
            conn.execute("SELECT touch()")
    nested = "(SELECT count(*) FROM pg_namespace)"  # the text PL/pgSQL runs
    top = [row.stats.query for row in _top(tmp_path, url, limit=100).rows]
    assert "SELECT touch()" in top
    assert nested not in top
    every = _top(tmp_path, url, limit=100, all_levels=True)
    [row] = [row for row in every.rows if row.stats.query == nested]
    assert row.stats.calls == 3
    assert row.stats.toplevel is False


# -- privileges ---------------------------------------------------------------------------


@pytest.fixture
def roles(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """An application role and a monitoring role without pg_read_all_stats."""
    suffix = uuid.uuid4().hex[:8]
    app_role, monitor = f"app_{suffix}", f"monitor_{suffix}"
    with psycopg.connect(libpq_url(pg_admin_url), autocommit=True) as conn:
        for role in (app_role, monitor):
            conn.execute(f"CREATE ROLE {role} LOGIN")  # type: ignore[arg-type]
    yield app_role, monitor
    with psycopg.connect(libpq_url(pg_admin_url), autocommit=True) as conn:
        for role in (app_role, monitor):
            conn.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


def _as(url: str, user: str) -> str:
    return url.replace("://postgres@", f"://{user}@", 1)


def test_hidden_statements_are_counted_not_shown(
    make_database: MakeDatabase, tmp_path: Path, roles: tuple[str, str]
) -> None:
    app_role, monitor = roles
    url = make_database("top_hidden")
    db = database_name(url)
    _run(url, "SELECT pg_sleep(0.01)", times=2, user=app_role)
    _run(url, "SELECT 1", times=3, user=app_role)

    # The monitoring role sees no text at all: it cannot do its job (exit 2).
    out = _cli("--database-url", _as(url, monitor))
    assert out.exit_code == 2
    assert out.stderr == (
        f"error: role {monitor} cannot see the text of the 2 statements other roles ran in "
        f"database {db}: GRANT pg_read_all_stats TO {monitor};\n"
    )
    with pytest.raises(PrivilegeMissing):
        _top(tmp_path, _as(url, monitor))

    # Once it ran a statement of its own, the others are counted, not shown; the gate
    # still sees the hidden statement above the objective.
    _run(url, "SELECT 2", user=monitor)
    result = _top(tmp_path, _as(url, monitor))
    assert [row.stats.query for row in result.rows] == ["SELECT $1"]
    assert result.summary["hidden"] == 2
    assert result.summary["statements"] == 3
    assert result.data["hidden"]["statements"] == 2
    assert all("insufficient" not in row.stats.query for row in result.rows)
    [finding] = result.findings
    assert finding.queryid is None and finding.statement is None
    assert finding.suggestion == f"GRANT pg_read_all_stats TO {monitor};"
    assert result.notes[0].startswith("2 statements of other roles are counted but not shown (")
    assert result.notes[0].endswith(f"GRANT pg_read_all_stats TO {monitor}; shows them")

    _run(url, f"GRANT pg_read_all_stats TO {monitor}")
    granted = _top(tmp_path, _as(url, monitor))
    assert granted.summary["hidden"] == 0
    assert SLEEP in [row.stats.query for row in granted.rows]


# -- reset --------------------------------------------------------------------------------


def test_reset_resets_this_database_only(make_database: MakeDatabase) -> None:
    url, other = make_database("top_reset"), make_database("top_keep")
    for target in (url, other):
        _run(target, "SELECT 1", times=2)
    out = _cli("--database-url", url, "--reset", "--yes")
    assert out.exit_code == 0
    assert "SELECT $1" in out.stdout  # shown as read before the reset
    assert out.stderr == f"note: reset pg_stat_statements for database {database_name(url)}\n"
    assert _pgss(url) == {}
    assert [v["query"] for v in _pgss(other).values()] == ["SELECT $1"]


def test_reset_asks_first(make_database: MakeDatabase) -> None:
    url = make_database("top_ask")
    _run(url, "SELECT 1", times=2)
    declined = _cli("--database-url", url, "--reset", input="n\n")
    assert declined.exit_code == 2
    assert declined.stderr.endswith(
        "error: --reset not confirmed: nothing was done (or pass --yes)\n"
    )
    assert "SELECT" not in declined.stdout  # nothing was read (CliRunner echoes the answer)
    assert _pgss(url) != {}
    no_terminal = _cli("--database-url", url, "--reset")  # no answer at all: same
    assert no_terminal.exit_code == 2
    assert _pgss(url) != {}
    confirmed = _cli("--database-url", url, "--reset", input="y\n")
    assert confirmed.exit_code == 0
    assert "Reset pg_stat_statements of " in confirmed.stderr
    assert _pgss(url) == {}


# -- when it cannot read the statistics ---------------------------------------------------


def test_extension_not_created(make_database: MakeDatabase) -> None:
    url = make_database("top_noext")
    _run(url, "DROP EXTENSION pg_stat_statements")
    out = _cli("--database-url", url)
    assert out.exit_code == 2
    assert out.stdout == ""
    assert out.stderr == (
        f"error: pg_stat_statements is not created in database {database_name(url)}: "
        "run CREATE EXTENSION pg_stat_statements; there\n"
    )


def test_extension_in_a_schema_off_the_search_path(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    url = make_database("top_schema")
    _run(
        url,
        "DROP EXTENSION pg_stat_statements",
        "CREATE SCHEMA monitoring",
        "CREATE EXTENSION pg_stat_statements SCHEMA monitoring",
    )
    _run(url, "SELECT 1", times=4)
    result = _top(tmp_path, url, limit=100, reset=True)
    [row] = [row for row in result.rows if row.stats.query == "SELECT $1"]
    assert row.stats.calls == 4


def test_unreachable_database_is_one_line() -> None:
    out = _cli("--database-url", "postgresql://app:secret@127.0.0.1:1/app")
    assert out.exit_code == 2
    assert out.stderr.startswith("error: cannot connect to postgresql://app:***@127.0.0.1:1/app: ")
    assert out.stderr.count("\n") == 1
    assert "secret" not in out.output
    with pytest.raises(ConnectionFailed):
        top_queries(project_settings(), "postgresql://app@127.0.0.1:1/app", TopOptions())


def test_library_not_preloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second, throwaway server without shared_preload_libraries (about two seconds)."""
    from dbctl.errors import PostgresNotFound
    from dbctl.pg import sandbox

    settings = {
        k: v
        for k, v in sandbox._SERVER_SETTINGS.items()
        if k != "shared_preload_libraries" and not k.startswith("pg_stat_statements.")
    }
    monkeypatch.setattr(sandbox, "_SERVER_SETTINGS", settings)
    server = sandbox.Sandbox(tmp_path / "unloaded")
    try:
        status = server.start()
    except PostgresNotFound:
        pytest.skip("no PostgreSQL server binaries")
    try:
        assert status.url is not None
        out = _cli("--database-url", status.url)  # the extension is created, not loaded
        assert out.exit_code == 2
        assert out.stderr == (
            "error: pg_stat_statements is not loaded: add it to shared_preload_libraries in "
            "postgresql.conf (shared_preload_libraries = 'pg_stat_statements', keeping any "
            "library already listed) and restart the server (a reload is not enough)\n"
        )
        _run(status.url, "DROP EXTENSION pg_stat_statements")
        with pytest.raises(ExtensionMissing, match="neither loaded nor created: add it to "):
            _top(tmp_path, status.url)
    finally:
        server.stop(destroy=True)


def test_advise_shows_the_missing_index_under_its_statement(
    make_database: MakeDatabase,
) -> None:
    url = make_database("top_advise")
    _run(
        url,
        "CREATE TABLE big (id int PRIMARY KEY, owner int, note text); "
        "INSERT INTO big SELECT g, g % 3000, 'n' FROM generate_series(1, 30000) g; ANALYZE big",
    )
    _run(url, "SELECT pg_stat_statements_reset()")
    _run(url, "SELECT count(*) FROM big WHERE owner = 7", times=5)
    out = _cli("--database-url", url, "--advise", "--fail-on", "never", "--format", "json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    advice = [f for f in report["findings"] if f["rule"] == "missing-index"]
    assert [(f["table"], f["columns"]) for f in advice] == [("public.big", ["owner"])]
    assert (
        advice[0]["suggestion"] == "CREATE INDEX CONCURRENTLY ix_big_owner ON public.big (owner);"
    )


def test_sarif(slo_url: str) -> None:
    out = _cli("--database-url", slo_url, "--format", "sarif")
    assert out.exit_code == 1
    [run] = json.loads(out.stdout)["runs"]
    [result] = run["results"]
    assert result["ruleId"] == "slo-breach"


def test_a_role_that_may_not_reset_is_told_the_grant(
    make_database: MakeDatabase, tmp_path: Path, roles: tuple[str, str]
) -> None:
    _, monitor = roles
    url = make_database("top_noreset")
    _run(url, "SELECT 1", times=2, user=monitor)
    with pytest.raises(PrivilegeMissing) as caught:
        _top(tmp_path, _as(url, monitor), reset=True)
    message = str(caught.value)
    grant = f"GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO {monitor};"
    assert message == (
        f"role {monitor} may not reset pg_stat_statements: run as a superuser or {grant}"
    )
    assert _pgss(url) != {}
    _run(url, grant)  # the fix it names works
    _top(tmp_path, _as(url, monitor), reset=True)
    assert _pgss(url) == {}
    _run(
        url, f"REVOKE EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) FROM {monitor}"
    )


def test_no_statement_of_any_dbctl_command_is_listed(
    make_database: MakeDatabase, migrate_to: Callable[[str, str], None], tmp_path: Path
) -> None:
    """verify-schema --live (the models laid out in temporary tables, in scripts of many
    statements), check-indexes --validate, migrate status: none of what they send is listed,
    nor the drivers' transaction control and type lookups (issue 13)."""
    url = make_database("top_every_command")
    migrate_to(url, "head")
    _run(url, "/* dbctl */ SELECT pg_stat_statements_reset()")  # the test's own: tagged
    _run(url, "SELECT count(*) FROM orders WHERE status = 'paid'", times=3)
    queries = tmp_path / "q.sql"
    queries.write_text("SELECT * FROM orders WHERE status = 'paid';\n")
    runner = CliRunner()
    for args in (
        ["verify-schema", "--live", "--database-url", url],
        ["check-indexes", str(queries), "--database-url", url, "--validate"],
        ["migrate", "status", "--database-url", url],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 1), (args, result.output)
    listed = [row.stats.query for row in _top(tmp_path, url, limit=100).rows]
    assert listed == ["SELECT count(*) FROM orders WHERE status = $1"], listed
