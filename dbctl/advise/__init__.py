"""Index advice: access patterns x catalog (x statistics) -> indexes to create, as findings.

    advisor.py     advise(): the passes below, in order, and the other findings
    candidates.py  the btree each table access wants (filters, sorts, each join column)
    keys.py        key shapes: equality sets, range and sort parts; refine/serves
    coverage.py    whether an existing index (btree, hash, partial, expression) serves it
    merge.py       candidates on one table folded into a few indexes
    filters.py     with statistics: small tables, low selectivity, existing index enough
    predicates.py  partial-index predicates implied by a statement; expression matching
    unused.py      unused-index, from pg_stat_user_indexes
    model.py       Advice, Suggestion, AdviceOptions, PlanCost; the missing-index finding
    whatif.py      validate(): planner costs with HypoPG's hypothetical indexes
    migration.py   write_migration(): an Alembic revision creating them concurrently

Analysis modules take data, never a connection; only ``whatif`` (and the statistics
loader, ``dbctl.pg.stats``) talk to PostgreSQL.
"""
