"""Field types shared by the API shapes.

Every string the API takes is ``PgText``: PostgreSQL's text cannot hold a NUL character and
UTF-8 cannot encode a lone surrogate (JSON's ``"\\ud800"`` decodes to one), so either is a
422 naming the field instead of a failed statement. Every id is within PostgreSQL's bigint.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

BIGINT_MAX = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(value: Any) -> Any:
    """``value`` unchanged when it is not a string PostgreSQL cannot store; raises for one
    with a NUL character or a lone surrogate. (Other types are left to the field's type.)"""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("string_nul", "must not contain a NUL character (\\x00)")
        if _SURROGATE.search(value):
            raise PydanticCustomError(
                "string_surrogate", "must not contain a lone surrogate (not valid UTF-8)"
            )
    return value


# A BeforeValidator wraps what comes before it: it runs first, so NUL is said as such even
# where a pattern would also reject it.
PgText = BeforeValidator(storable_text)

# A simple shape check (no email-validator dependency); stored lower-cased.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=EMAIL_PATTERN),
    PgText,
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), PgText
]
Id = Annotated[int, Field(gt=0, le=BIGINT_MAX)]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]
