"""migrate: what dbctl's safety costs over a plain ``alembic upgrade head``.

    uv run python bench/migrate.py [--revisions 50] [--repeat 3]

A generated project of N revisions (each creates a table with an index and a foreign key
to the previous one; its downgrade drops them), with the stock Alembic env.py that builds
its own engine from ``sqlalchemy.url`` (the commonest shape, and the one dbctl must hold to
its database). Each run starts from an empty database; the report gives the median wall
time of

* ``alembic upgrade head`` (Alembic's ``command.upgrade``: one env.py run, all revisions);
* ``dbctl migrate`` (the advisory lock, one env.py run per revision with its timeouts, the
  connection check of every connection env.py opens, the read-back of ``alembic_version``
  on a fresh connection and the checksum row after each revision);
* ``dbctl verify-schema`` without models (upgrade from empty with a snapshot per revision,
  a second upgrade, and the down/up round trip of every revision, on a shadow database).

Uses a throwaway sandbox unless ``DBCTL_BENCH_DATABASE_URL`` names a server (superuser).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import throwaway_server
from dbctl.pg.url import libpq_url, with_database
from tests.support import env_variants
from tests.support.alembic_project import AlembicProject, Rev

ENV_PY = {"stock": env_variants.STOCK_TEMPLATE, "shared": env_variants.SHARED}


def build(root: Path, revisions: int, env: str) -> AlembicProject:
    project = AlembicProject(root, env_py=ENV_PY[env])
    down = None
    for n in range(revisions):
        ref = f", t{n - 1}_id int REFERENCES t{n - 1} (id)" if n else ""
        fk_index = f"; CREATE INDEX ix_t{n}_fk ON t{n} (t{n - 1}_id)" if n else ""
        project.add(
            Rev(
                f"r{n:04d}",
                down,
                f"CREATE TABLE t{n} (id int PRIMARY KEY, v text{ref}); "
                f"CREATE INDEX ix_t{n}_v ON t{n} (v){fk_index}",
                f"DROP TABLE t{n}",
            )
        )
        down = f"r{n:04d}"
    return project


def fresh(server: str) -> str:
    import psycopg

    name = f"bench_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return with_database(server, name)


def alembic_upgrade(project: AlembicProject, url: str) -> None:
    from alembic import command

    from dbctl.lifecycle.alembic_project import alembic_config

    config = alembic_config(project.settings(url))
    config.set_main_option("sqlalchemy.url", url)  # what a deploy's alembic.ini says
    command.upgrade(config, "head")


def dbctl_migrate(project: AlembicProject, url: str) -> None:
    from dbctl.lifecycle.migrate import upgrade

    upgrade(project.settings(url), url)


def dbctl_verify(project: AlembicProject, url: str) -> None:
    from dbctl.lifecycle.verify import verify_schema

    result = verify_schema(project.settings(url), url)
    assert not result.findings, result.findings


def median(runs: list[float]) -> str:
    return f"{statistics.median(runs):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--revisions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--env",
        choices=sorted(ENV_PY),
        default="stock",
        help="env.py: Alembic's stock template (its own engine) or the shared connection",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, throwaway_server(Path(tmp)) as server:
        project = build(Path(tmp) / "project", args.revisions, args.env)
        sys.path.insert(0, str(project.root))
        times: dict[str, list[float]] = {"alembic": [], "migrate": [], "verify": []}
        for _ in range(args.repeat):
            for name, run in (
                ("alembic", alembic_upgrade),
                ("migrate", dbctl_migrate),
                ("verify", dbctl_verify),
            ):
                url = server if name == "verify" else fresh(server)
                started = time.perf_counter()
                run(project, url)
                times[name].append(time.perf_counter() - started)
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{args.revisions} revisions, env.py: {args.env}"
    )
    alembic, migrate = statistics.median(times["alembic"]), statistics.median(times["migrate"])
    print(f"alembic upgrade head:   {median(times['alembic'])}")
    print(
        f"dbctl migrate:          {median(times['migrate'])} "
        f"(+{(migrate - alembic) / args.revisions * 1000:.1f} ms per revision)"
    )
    print(f"dbctl verify-schema:    {median(times['verify'])} (no models)")


if __name__ == "__main__":
    main()
