"""The edges of dbctl that talk to PostgreSQL: URLs, connections, the sandbox."""
