from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from slotbook.schemas import Currency, Name, PatchModel, Slug

Password = Annotated[str, Field(min_length=8, max_length=200)]
Email = Annotated[EmailStr, StringConstraints(max_length=320)]


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_name: Name
    email: Email
    password: Password
    name: Name | None = None
    currency: Currency = "USD"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Annotated[str, Field(min_length=1, max_length=200)]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: str


class SignupOut(BaseModel):
    tenant_id: str
    user: UserOut
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeOut(UserOut):
    tenant_id: str
    tenant_slug: str


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name
    role: Literal["admin", "staff"]


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    slug: str
    currency: str


class TenantUpdate(PatchModel):
    """The owner renames the business or changes its slug (its public booking URLs)."""

    name: Name | None = None
    slug: Slug | None = None
