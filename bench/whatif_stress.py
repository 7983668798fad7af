"""--validate's selection on an adversarial workload: N statements on one 100,000-row table
of 10 columns, each an equality, a range and a sort under a LIMIT on three random columns
(almost no two alike, so nearly every statement wants its own index).

    .venv/bin/python bench/whatif_stress.py N [--server postgresql://postgres@127.0.0.1:PORT/postgres]

Prints the suggestions and other shapes priced, the indexes kept, the time of validate()
and the plans it asked for (each an EXPLAIN).
"""

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import psycopg

from dbctl.access.analyze import analyze
from dbctl.access.model import Statement
from dbctl.advise import whatif
from dbctl.advise.advisor import advise
from dbctl.advise.model import AdviceOptions
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.stats import load_statistics

server = sys.argv[sys.argv.index("--server") + 1] if "--server" in sys.argv else None
if server is None:
    sys.exit("give --server postgresql://postgres@127.0.0.1:PORT/postgres")
base = server.rpartition("/")[0]
with psycopg.connect(base + "/postgres", autocommit=True) as c:
    c.execute("DROP DATABASE IF EXISTS stress WITH (FORCE)")
    c.execute("CREATE DATABASE stress")
url = base + "/stress"
cols = [f"c{i}" for i in range(10)]
with psycopg.connect(url, autocommit=True) as c:
    c.execute("CREATE TABLE big (id int primary key, " + ", ".join(f"{x} int" for x in cols) + ")")
    c.execute(
        "INSERT INTO big SELECT g, "
        + ", ".join(f"(g * {i + 7}) % {100 * (i + 1)}" for i in range(10))
        + " FROM generate_series(1, 100000) g"
    )
    c.execute("ANALYZE big")
    c.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
random.seed(1)
stmts = []
for i in range(int(sys.argv[1])):
    a, b, s = random.sample(cols, 3)
    stmts.append(
        Statement(
            f"SELECT id, {s} FROM big WHERE {a} = $1 AND {b} > $2 ORDER BY {s} LIMIT {i % 7 + 1}",
            "x.sql",
            i + 1,
        )
    )
counts = {"explain": 0}
explain = whatif._Planner.explain


def counted(self, text):
    counts["explain"] += 1
    return explain(self, text)


whatif._Planner.explain = counted
with psycopg.connect(url) as conn:
    cat = load_catalog(conn)
    st = load_statistics(conn, list(cat.tables))
    adv = advise(
        analyze(stmts, cat, workers=1), cat, statistics=st, options=AdviceOptions(alternatives=True)
    )
    t = time.perf_counter()
    v = whatif.validate(adv, conn)
    dt = time.perf_counter() - t
print(
    len(stmts),
    "statements;",
    len(adv.suggestions),
    "+",
    len(adv.alternatives),
    "options ->",
    len(v.suggestions),
    f"kept; {dt:.1f} s, {counts['explain']} plans",
)
