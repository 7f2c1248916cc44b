"""API shapes for capabilities, sites, resources, capacity windows and capacity search."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from pydantic import Field, field_validator, model_validator

from sharefab.capacity.models import ResourceKind
from sharefab.kit.schemas import AwareDatetime, Currency, MinorUnits, PublicSchema, Schema

_TIMEZONES = frozenset(available_timezones())


class CapabilityPublic(PublicSchema):
    """One process code of the taxonomy."""

    code: str
    family: str
    name: str
    name_zh: str
    description: str


class SiteCreate(Schema):
    """A new factory location of the caller's organisation."""

    name: str = Field(min_length=1, max_length=200)
    city: str = Field(default="", max_length=120)
    region: str = Field(default="", max_length=120)
    address: str = Field(default="", max_length=300)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone, e.g. Asia/Shanghai")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _TIMEZONES:
            raise ValueError(f"unknown time zone '{value}'; use an IANA name like Asia/Shanghai")
        return value


class SiteUpdate(Schema):
    """Fields of a site that may change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    address: str | None = Field(default=None, max_length=300)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _TIMEZONES:
            raise ValueError(f"unknown time zone '{value}'; use an IANA name like Asia/Shanghai")
        return value


class SitePublic(PublicSchema):
    """A site as the API shows it."""

    id: int
    organization_id: int
    name: str
    city: str
    region: str
    address: str
    latitude: float
    longitude: float
    timezone: str
    created_at: datetime
    updated_at: datetime


class ResourceCapabilityIn(Schema):
    """A capability a resource offers, with its limits."""

    code: str = Field(min_length=1, max_length=80, description="Taxonomy code, e.g. turning.cnc")
    materials: list[str] = Field(default_factory=list, max_length=50)
    max_envelope_mm: tuple[int, int, int] | None = Field(
        default=None, description="Largest part X, Y, Z in millimetres"
    )
    tolerance_um: int | None = Field(default=None, ge=0, description="Best tolerance, µm")
    certifications: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("max_envelope_mm")
    @classmethod
    def _positive_envelope(cls, value: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if value is not None and min(value) <= 0:
            raise ValueError("every envelope dimension must be a positive number of millimetres")
        return value


class ResourceCapabilityPublic(PublicSchema):
    """A capability of a resource, as shown."""

    code: str = Field(validation_alias="capability_code")
    materials: list[str]
    max_envelope_mm: list[int] | None
    tolerance_um: int | None
    certifications: list[str]


def _unique_capabilities(value: list[ResourceCapabilityIn]) -> list[ResourceCapabilityIn]:
    seen: set[str] = set()
    for cap in value:
        if cap.code in seen:
            raise ValueError(f"capability '{cap.code}' is listed twice; list it once")
        seen.add(cap.code)
    return value


class ResourceCreate(Schema):
    """A new resource at a site; its owner is the site's organisation."""

    site_id: int
    name: str = Field(min_length=1, max_length=200)
    kind: ResourceKind
    resource_class: str = Field(default="standard", min_length=1, max_length=80)
    hourly_rate_minor: MinorUnits
    currency: Currency = "CNY"
    description: str = Field(default="", max_length=2000)
    is_active: bool = True
    capabilities: list[ResourceCapabilityIn] = Field(min_length=1, max_length=60)

    @field_validator("capabilities")
    @classmethod
    def _unique_codes(cls, value: list[ResourceCapabilityIn]) -> list[ResourceCapabilityIn]:
        return _unique_capabilities(value)


class ResourceUpdate(Schema):
    """Fields of a resource that may change; `capabilities`, when given, replaces the list."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: ResourceKind | None = None
    resource_class: str | None = Field(default=None, min_length=1, max_length=80)
    hourly_rate_minor: MinorUnits | None = None
    currency: Currency | None = None
    description: str | None = Field(default=None, max_length=2000)
    is_active: bool | None = None
    capabilities: list[ResourceCapabilityIn] | None = Field(
        default=None, min_length=1, max_length=60
    )

    @field_validator("capabilities")
    @classmethod
    def _unique_codes(
        cls, value: list[ResourceCapabilityIn] | None
    ) -> list[ResourceCapabilityIn] | None:
        return None if value is None else _unique_capabilities(value)


class ResourcePublic(PublicSchema):
    """A resource as the API shows it."""

    id: int
    organization_id: int
    site_id: int
    name: str
    kind: ResourceKind
    resource_class: str
    hourly_rate_minor: int
    currency: str
    description: str
    is_active: bool
    capabilities: list[ResourceCapabilityPublic]
    created_at: datetime
    updated_at: datetime


class WindowCreate(Schema):
    """A span `[starts_at, ends_at)` a provider offers on a resource."""

    resource_id: int
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _ends_after_start(self) -> WindowCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at; a window needs a positive length")
        return self


class WindowUpdate(Schema):
    """New bounds or note for a window."""

    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=300)


class WindowPublic(PublicSchema):
    """A capacity window as the API shows it."""

    id: int
    organization_id: int
    resource_id: int
    starts_at: datetime
    ends_at: datetime
    note: str
    created_at: datetime


class FreeSpan(PublicSchema):
    """A stretch of offered, unbooked time."""

    starts_at: datetime
    ends_at: datetime
    minutes: int


class CapacityMatch(PublicSchema):
    """A resource with free capacity that matches a search.

    Another provider's identity (resource, site, organisation) is left out until a quote names
    it; capability, region, availability and the indicative hourly price are shown.
    """

    resource_id: int | None
    resource_name: str | None
    resource_class: str
    kind: ResourceKind
    organization_id: int | None
    site_id: int | None
    site_name: str | None
    city: str
    region: str
    distance_km: float | None
    hourly_rate_minor: int
    currency: str
    free_minutes: int
    free_spans: list[FreeSpan]
    materials: list[str]
    tolerance_um: int | None
    certifications: list[str]
