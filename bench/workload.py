"""A generated workload: a 50-table schema and N distinct parameterised statements, as
pg_stat_statements holds them (``$n`` parameters, no two alike).

    uv run python bench/workload.py --statements 5000 --out /tmp/workload
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

TABLES = 50


def schema() -> str:
    lines = []
    for t in range(TABLES):
        parent = f"    parent_id bigint REFERENCES t{t // 2} (id),\n" if t else ""
        lines.append(
            f"CREATE TABLE t{t} (\n    id bigint PRIMARY KEY,\n{parent}"
            f"    owner_id bigint,\n    status text,\n    kind int,\n    amount numeric,\n"
            f"    name text,\n    created_at timestamptz,\n    updated_at timestamptz\n);"
        )
    return "\n".join(lines) + "\n"


COLUMNS = ["owner_id", "status", "kind", "amount", "name", "created_at", "updated_at", "id"]


def statement(rng: random.Random, n: int) -> str:
    """One statement; ``n`` names an output column, so no two are alike even normalised."""
    t = rng.randrange(TABLES)
    other = rng.randrange(TABLES)
    a, b = rng.sample(COLUMNS[:-1], 2)
    tag = f"c{n}"
    shape = rng.randrange(7)
    if shape == 0:
        return (
            f"SELECT id AS {tag}, name FROM t{t} WHERE {a} = $1 AND {b} > $2 "
            "ORDER BY created_at DESC LIMIT $3"
        )
    if shape == 1:
        return (
            f"SELECT x.id AS {tag}, y.name FROM t{t} x JOIN t{other} y ON y.owner_id = x.id "
            f"WHERE x.{a} = $1 AND y.{b} IN ($2, $3) LIMIT $4"
        )
    if shape == 2:
        return (
            f"WITH recent AS (SELECT id, {a} FROM t{t} WHERE created_at > $1) "
            f"SELECT r.id AS {tag} FROM recent r JOIN t{other} o ON o.parent_id = r.id "
            f"WHERE o.{b} = $2 LIMIT $3"
        )
    if shape == 3:
        return f"UPDATE t{t} SET amount = $1 WHERE {a} = $2 RETURNING id AS {tag}"
    if shape == 4:
        return f"DELETE FROM t{t} WHERE {a} < $1 AND {b} = $2 RETURNING id AS {tag}"
    if shape == 5:
        return (
            f"SELECT {a}, count(*) AS {tag} FROM t{t} WHERE {b} BETWEEN $1 AND $2 "
            f"GROUP BY {a} ORDER BY count(*) DESC LIMIT $3"
        )
    return (
        f"SELECT id AS {tag} FROM t{t} WHERE id IN (SELECT owner_id FROM t{other} "
        f"WHERE {a} = $1) AND {b} IS NULL ORDER BY id LIMIT $2"
    )


def workload(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [statement(rng, n) for n in range(1, count + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/dbctl-workload"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "schema.sql").write_text(schema())
    (args.out / "statements.sql").write_text(";\n".join(workload(args.statements)) + ";\n")


if __name__ == "__main__":
    main()
