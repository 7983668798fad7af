"""``dbctl lint-migrations``: the hazards of Alembic revisions, read and measured."""
