"""pg_stat_statements: reading it, snapshots and their differences."""
