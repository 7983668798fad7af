"""Alembic hooks that keep dbctl's bookkeeping out of the project's autogenerate.

``dbctl migrate`` records the checksum of each applied revision in ``dbctl_migrations``,
beside ``alembic_version``. Autogenerate (``alembic revision --autogenerate``,
``alembic check``) compares the models with every table it reflects, so it would propose
dropping that table. In the project's ``env.py``::

    from dbctl.alembic import include_name

    context.configure(connection=connection, target_metadata=target_metadata,
                      include_name=include_name)

A project with a filter of its own calls ``is_dbctl_table(name)`` from it. Only the
standard library is imported here: env.py stays cheap to load.
"""

from __future__ import annotations

from typing import Any

TABLES = frozenset({"dbctl_migrations"})


def is_dbctl_table(name: str | None) -> bool:
    """Whether ``name`` is one of the tables dbctl keeps in the project's database."""
    return name in TABLES


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: every name but dbctl's tables."""
    return not (type_ == "table" and is_dbctl_table(name))


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object`` hook, for projects that filter objects: every object but
    dbctl's tables (and their indexes and constraints)."""
    if type_ == "table":
        return not is_dbctl_table(name)
    table = getattr(obj, "table", None)
    return not is_dbctl_table(getattr(table, "name", None))
