"""pgbench: the built-in "TPC-B (sort of)" script of PostgreSQL's pgbench
(``src/bin/pgbench/pgbench.c``, ``tpcb-like``; docs: "What Is the Transaction Actually
Performed in pgbench?"), its ``:variables`` written ``$n``, on the tables ``pgbench -i``
creates with the primary keys ``pgbench -i`` adds.

Data: scale 5 (5 branches, 50 tellers, 500,000 accounts), as ``pgbench -i -s 5`` fills them
(balances 0, blank fillers, each account's branch by its number); history starts empty. The
script draws its keys uniformly, as pgbench does by default.

Expert: none. Every statement reaches its row by primary key or inserts; the bench checks
that the advice stays empty (a false positive here costs writes on every transaction).
"""

from __future__ import annotations

from bench.public import Benchmark, Statement

SCALE = 5

SCHEMA = """
CREATE TABLE pgbench_branches (
    bid int NOT NULL, bbalance int, filler char(88), PRIMARY KEY (bid)
);
CREATE TABLE pgbench_tellers (
    tid int NOT NULL, bid int, tbalance int, filler char(84), PRIMARY KEY (tid)
);
CREATE TABLE pgbench_accounts (
    aid int NOT NULL, bid int, abalance int, filler char(84), PRIMARY KEY (aid)
);
CREATE TABLE pgbench_history (
    tid int, bid int, aid int, delta int, mtime timestamp, filler char(22)
);
"""

_DATA = f"""
INSERT INTO pgbench_branches SELECT b, 0, NULL FROM generate_series(1, {SCALE}) b;
INSERT INTO pgbench_tellers SELECT t, (t - 1) / 10 + 1, 0, NULL
FROM generate_series(1, {SCALE * 10}) t;
INSERT INTO pgbench_accounts SELECT a, (a - 1) / 100000 + 1, 0, ''
FROM generate_series(1, {SCALE * 100_000}) a;
"""

BENCHMARK = Benchmark(
    name="pgbench",
    source="pgbench's built-in tpcb-like script",
    schema=SCHEMA,
    data=tuple(s for s in _DATA.split(";\n") if s.strip()),
    statements=(
        Statement(
            "update account",
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
        ),
        Statement("read account", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"),
        Statement(
            "update teller", "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2"
        ),
        Statement(
            "update branch",
            "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
        ),
        Statement(
            "insert history",
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)"
            " VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
        ),
    ),
    expert=(),
)
