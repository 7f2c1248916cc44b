"""API shapes for organisations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from sharefab.identity.models import Role
from sharefab.kit.schemas import PublicSchema, Schema


def _email(value: str) -> str:
    value = value.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise ValueError("not an e-mail address; give one like name@factory.cn")
    return value


EmailText = Annotated[str, Field(max_length=320), AfterValidator(_email)]


class OrganizationCreate(Schema):
    """A new organisation (tenant)."""

    name: str = Field(min_length=1, max_length=200)
    name_local: str | None = Field(default=None, max_length=200)
    slug: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$",
        description="URL-safe handle; derived from the name when omitted.",
    )
    is_provider: bool = False
    is_buyer: bool = False
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")


class OrganizationUpdate(Schema):
    """Fields of an organisation that may change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_local: str | None = Field(default=None, max_length=200)
    is_provider: bool | None = None
    is_buyer: bool | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class OrganizationPublic(PublicSchema):
    """An organisation as the API shows it."""

    id: int
    name: str
    name_local: str | None
    slug: str
    is_provider: bool
    is_buyer: bool
    is_operator: bool
    country: str
    created_at: datetime
    updated_at: datetime


class UserCreate(Schema):
    """A new user in an organisation (the caller's, or any for the operator)."""

    email: EmailText
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=200, description="At least 10 characters")
    role: Role = Role.member
    organization_id: int | None = Field(
        default=None, description="Operator only: the organisation to add the user to"
    )


class UserPublic(PublicSchema):
    """A user as the API shows it (never the password hash)."""

    id: int
    email: str
    full_name: str
    is_active: bool
    created_at: datetime


class MemberPublic(UserPublic):
    """A user with their role in one organisation."""

    organization_id: int
    role: Role


class MePublic(PublicSchema):
    """The caller: who, for which organisation, in which role."""

    user: UserPublic | None
    organization: OrganizationPublic
    role: Role
    api_key_id: int | None
    scopes: list[str] | None


class TokenResponse(PublicSchema):
    """OAuth2 token response (RFC 6749 §5.1) plus the organisation acted for."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str
    organization_id: int


class RefreshRequest(Schema):
    """A refresh token to trade or revoke."""

    refresh_token: str = Field(min_length=10, max_length=200)


class ApiKeyCreate(Schema):
    """A new API key for the caller's organisation."""

    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(min_length=1, max_length=10)


class ApiKeyPublic(PublicSchema):
    """An API key as listed (never the key itself)."""

    id: int
    organization_id: int
    name: str
    prefix: str
    scopes: list[str]
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    """A new API key, with the key shown this once."""

    key: str
