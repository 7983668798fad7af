"""Drift check: dbctl against Alembic's ``compare_metadata``, on generated schemas.

    uv run python bench/drift.py [--tables 100 500 2000] [--repeat 3]

For each size it builds a MetaData of N tables (about 8 columns, 2 foreign keys, 2
indexes, a check constraint and server defaults each), lays it out in a fresh database,
then applies the same handful of drifts to the database (a column type, a server default,
a nullability, an index's column order, a check constraint, an enum value and an index
made partial). Both tools then compare the models with that database; the report gives the
median wall time of each and what each detected. Uses the sandbox unless
``DBCTL_BENCH_DATABASE_URL`` names a server (superuser).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dbctl.config import load_settings  # noqa: E402
from dbctl.lifecycle import drift  # noqa: E402
from dbctl.lifecycle.models import create_schema  # noqa: E402
from dbctl.lifecycle.verify import snapshot  # noqa: E402
from dbctl.pg.connect import create_engine  # noqa: E402
from dbctl.pg.shadow import temporary_database  # noqa: E402

DRIFTS = [
    ("column type", "ALTER TABLE t{k} ALTER COLUMN qty TYPE bigint"),
    ("server default", "ALTER TABLE t{k} ALTER COLUMN status SET DEFAULT 'closed'"),
    ("nullability", "ALTER TABLE t{k} ALTER COLUMN name DROP NOT NULL"),
    ("index column order", "DROP INDEX ix_t{k}_name_created; "
     "CREATE INDEX ix_t{k}_name_created ON t{k} (created_at, name)"),
    ("check constraint", "ALTER TABLE t{k} DROP CONSTRAINT ck_t{k}_qty_positive; "
     "ALTER TABLE t{k} ADD CONSTRAINT ck_t{k}_qty_positive CHECK (qty >= 0)"),
    ("enum value", "ALTER TYPE mood ADD VALUE 'meh'"),
    ("partial index", "DROP INDEX ix_t{k}_status; CREATE INDEX ix_t{k}_status ON t{k} (status) "
     "WHERE status <> 'archived'"),
]  # fmt: skip


def build_metadata(tables: int) -> MetaData:
    metadata = MetaData()
    mood = Enum("happy", "sad", name="mood")
    for n in range(tables):
        columns: list[Any] = [
            Column("id", Integer, primary_key=True),
            Column("name", String(80), nullable=False),
            Column("status", String(20), nullable=False, server_default=text("'open'")),
            Column("qty", Integer, nullable=False, server_default=text("0")),
            Column("price", Numeric(12, 2)),
            Column("notes", Text),
            Column("mood", mood),
            Column("created_at", DateTime(timezone=True), server_default=func.now()),
        ]
        for ref in sorted({n // 2, n // 3}):
            if ref < n:
                columns.append(Column(f"t{ref}_id", Integer, ForeignKey(f"t{ref}.id")))
        Table(
            f"t{n}",
            metadata,
            *columns,
            CheckConstraint("qty > 0", name=f"ck_t{n}_qty_positive"),
            Index(f"ix_t{n}_name_created", "name", "created_at"),
            Index(f"ix_t{n}_status", "status"),
        )
    return metadata


def alembic_compare(url: str, metadata: MetaData) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def dbctl_compare(url: str, metadata: MetaData, server_url: str) -> list[Any]:
    settings = load_settings({}, cwd=ROOT, environ={})
    models = drift.Models(metadata)
    return drift.compare(settings, models, drift.models_catalog(models, server_url), snapshot(url))


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def server() -> str:
    url = os.environ.get("DBCTL_BENCH_DATABASE_URL")
    if url:
        return url
    from dbctl.pg.sandbox import Sandbox

    status = Sandbox(ROOT / ".dbctl").start()
    assert status.url is not None
    return status.url


def run(sizes: list[int], repeat: int) -> None:
    server_url = server()
    cores, python = os.cpu_count(), platform.python_version()
    print(f"machine: {platform.machine()}, {cores} cores, Python {python}")
    sizes_text = " ".join(map(str, sizes))
    print(f"command: uv run python bench/drift.py --tables {sizes_text} --repeat {repeat}")
    print()
    print(
        "| tables | Alembic compare_metadata | dbctl drift | speed-up "
        "| drifts found (of 7) Alembic / dbctl |"
    )
    print("| ---: | ---: | ---: | ---: | :---: |")
    for size in sizes:
        metadata = build_metadata(size)
        with temporary_database(server_url, purpose="bench") as url:
            engine = create_engine(url)
            with engine.begin() as conn:
                create_schema(conn, metadata)
                for _, sql in DRIFTS:
                    conn.exec_driver_sql(sql.format(k=size - 1))
                conn.exec_driver_sql("ANALYZE")
            engine.dispose()
            alembic_time, alembic_diffs = timed(
                lambda md=metadata, u=url: alembic_compare(u, md), repeat
            )
            dbctl_time, dbctl_findings = timed(
                lambda md=metadata, u=url: dbctl_compare(u, md, server_url), repeat
            )
        print(
            f"| {size} | {alembic_time:.2f} s | {dbctl_time:.2f} s | "
            f"{alembic_time / dbctl_time:.1f}x | {detected_alembic(alembic_diffs)} / "
            f"{detected_dbctl(dbctl_findings)} |",
            flush=True,
        )


def detected_alembic(diffs: list[Any]) -> int:
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    kinds = set()
    for diff in flat:
        op = diff[0]
        if op == "modify_type":
            kinds.add("column type")
        elif op == "modify_default":
            kinds.add("server default")
        elif op == "modify_nullable":
            kinds.add("nullability")
        elif op in ("add_index", "remove_index"):
            name = diff[1].name
            kinds.add("partial index" if "status" in name else "index column order")
        elif "constraint" in op:
            kinds.add("check constraint")
    return len(kinds)


def detected_dbctl(findings: list[Any]) -> int:
    mapping = {
        "column-type": "column type",
        "column-default": "server default",
        "column-nullable": "nullability",
        "check-definition": "check constraint",
        "enum-values": "enum value",
    }
    kinds = set()
    for finding in findings:
        kind = finding.evidence["kind"]
        if kind in mapping:
            kinds.add(mapping[kind])
        elif kind == "index-definition":
            obj = finding.evidence["object"]
            kinds.add("partial index" if "status" in obj else "index column order")
    return len(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run(args.tables, args.repeat)


if __name__ == "__main__":
    main()
