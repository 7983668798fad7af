"""lint-migrations side by side with squawk on the same revisions: hazards found, false
alarms, time.

    .venv/bin/python bench/lint_vs_squawk.py --server postgresql://postgres@127.0.0.1:PORT/postgres

The revisions are tests/support/lint_chain.py's: a base revision filling two tables with
100,000 rows, six hazards (h_: a plain CREATE INDEX, a column type change, SET NOT NULL, a
foreign key without NOT VALID, a volatile default, a column rename) and six safe patterns
(s_: CREATE INDEX CONCURRENTLY, NOT VALID then VALIDATE, a nullable column, a constant
default, a new table altered in its own revision), each safe one setting a lock_timeout.

Squawk (squawk-cli, a dev dependency) reads SQL, so it is given what users give it: the
offline SQL of Alembic (``dbctl migrate sql``), (a) revision by revision (``--from PREV --to
REV``) and (b) the whole chain at once (``alembic upgrade --sql`` piped in). A hazard is
*found* when the tool reports anything on its revision; a *false alarm* is a finding on a
safe revision. dbctl runs (c) ``--offline`` (rules only) and (d) measured on a shadow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.lint_chain import BASE, CHAIN, lint_project  # noqa: E402

BIN = ROOT / ".venv" / "bin"


def _env(url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBCTL_DATABASE_URL")}
    if url:
        env["DBCTL_DATABASE_URL"] = url
    return env


def _sql(project: Path, start: str | None, end: str) -> str:
    command = [str(BIN / "dbctl"), "migrate", "sql", "--to", end]
    if start:
        command += ["--from", start]
    done = subprocess.run(
        command, cwd=project, env=_env(None), capture_output=True, text=True, check=True
    )
    return done.stdout


def _squawk(files: list[Path]) -> tuple[list[dict[str, object]], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "squawk"), "--reporter", "json", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return json.loads(done.stdout or "[]"), seconds


def _dbctl(project: Path, url: str | None, offline: bool) -> tuple[dict[str, object], float]:
    command = [str(BIN / "dbctl"), "lint-migrations", "--from", BASE.revision, "--format", "json"]
    if offline:
        command.append("--offline")
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=project, env=_env(url), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"dbctl lint-migrations failed: {done.stderr}")
    report: dict[str, object] = json.loads(done.stdout)
    return report, seconds


def _score(by_revision: dict[str, list[str]]) -> tuple[int, int, int]:
    hazards = [r for r, _, _ in CHAIN if r.startswith("h_")]
    found = sum(1 for r in hazards if by_revision.get(r))
    alarms = sum(len(v) for r, v in by_revision.items() if r.startswith("s_"))
    return found, len(hazards), alarms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="a server for dbctl's shadow")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = lint_project(Path(folder) / "proj").root
        # (a) squawk, revision by revision
        files, down = [], BASE.revision
        for revision, _, _ in CHAIN:
            path = Path(folder) / f"{revision}.sql"
            path.write_text(_sql(project, down, revision))
            files.append(path)
            down = revision
        findings, squawk_seconds = _squawk(files)
        per: dict[str, list[str]] = {}
        for finding in findings:
            per.setdefault(Path(str(finding["file"])).stem, []).append(str(finding["rule_name"]))
        rows = [("squawk, revision by revision", per, squawk_seconds)]
        # (b) squawk, the whole chain in one file (r0 creates the tables: all "new")
        whole = Path(folder) / "whole.sql"
        whole.write_text(_sql(project, None, CHAIN[-1][0]))
        chain_findings, chain_seconds = _squawk([whole])
        starts = [
            (number, line.split(" -> ")[1].strip())
            for number, line in enumerate(whole.read_text().splitlines())
            if line.startswith("-- Running upgrade")
        ]
        per = {}
        for finding in chain_findings:
            line = int(str(finding["line"]))
            owner = [revision for number, revision in starts if number <= line]
            if owner:
                per.setdefault(owner[-1], []).append(str(finding["rule_name"]))
        rows.append(("squawk, whole chain (alembic upgrade --sql)", per, chain_seconds))
        # (c), (d) dbctl
        for label, offline in (("dbctl --offline", True), ("dbctl, measured", False)):
            report, seconds = _dbctl(project, args.server, offline)
            per = {}
            for finding in report["findings"]:  # type: ignore[attr-defined]
                revision = (finding.get("evidence") or {}).get("revision")
                if revision:
                    per.setdefault(revision, []).append(finding["rule"])
            rows.append((label, per, seconds))
    print("| tool | hazards found | false alarms | time |")
    print("| --- | ---: | ---: | ---: |")
    for label, per, seconds in rows:
        found, total, alarms = _score(per)
        print(f"| {label} | {found}/{total} | {alarms} | {seconds:.2f} s |")
    print()
    for label, per, _ in rows:
        if per:
            print(f"{label}:")
            for revision, _, _ in CHAIN:
                print(f"  {revision}: {', '.join(sorted(set(per.get(revision, [])))) or '-'}")


if __name__ == "__main__":
    main()
