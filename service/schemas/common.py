"""Field types shared by the API shapes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

# A simple shape check (no email-validator dependency); stored lower-cased.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=EMAIL_PATTERN),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[int, Field(gt=0, le=2**63 - 1)]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]
