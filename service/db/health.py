"""Data access for the health check."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session


def ping(*, session: Session) -> None:
    """Run ``SELECT 1``; raises SQLAlchemy's ``OperationalError`` when the DB is unreachable."""
    session.execute(select(1))
