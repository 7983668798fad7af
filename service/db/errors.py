"""Domain errors raised by the data-access functions; the API turns them into responses.

DataAccessError
├── NotFound     a referenced row does not exist (HTTP 404)
├── Conflict     a unique value is already taken (HTTP 409)
└── OutOfStock   an order asks for more than the stock (HTTP 409)
"""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import IntegrityError


class DataAccessError(Exception):
    """Base of the errors that the data-access functions raise on purpose."""


class NotFound(DataAccessError):
    def __init__(self, entity: str, ids: int | list[int]) -> None:
        self.entity = entity
        self.ids = ids if isinstance(ids, list) else [ids]
        listed = ", ".join(str(i) for i in self.ids)
        super().__init__(f"{entity} not found: {listed}")


class Conflict(DataAccessError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class OutOfStock(DataAccessError):
    def __init__(self, shortages: dict[int, tuple[int, int]]) -> None:
        """``shortages``: product id -> (requested quantity, stock)."""
        self.shortages = shortages
        listed = ", ".join(
            f"product {pid} (requested {want}, in stock {have})"
            for pid, (want, have) in sorted(shortages.items())
        )
        super().__init__(f"insufficient stock: {listed}")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an ``IntegrityError`` reports (psycopg's diagnostics)."""
    original = exc.orig
    if isinstance(original, psycopg.Error):
        return original.diag.constraint_name
    return None
