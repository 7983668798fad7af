"""From SQL text to table accesses: statement sources, fingerprints, sqlglot extraction."""
