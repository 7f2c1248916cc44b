"""API shapes for organisations."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sharefab.kit.schemas import PublicSchema, Schema

Slug = str


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
