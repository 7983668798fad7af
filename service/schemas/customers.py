from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from service.schemas.common import Email, Id, Name


class CustomerCreate(BaseModel):
    email: Email
    name: Name


class CustomerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    email: str
    name: str
    created_at: datetime
