"""Tables: sites, resources, the capability taxonomy, resource capabilities, capacity windows.

Windows on one resource never overlap: PostgreSQL enforces it with an exclusion constraint
(created by the migration, `btree_gist`), SQLite inside the serialised write transaction.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class ResourceKind(enum.StrEnum):
    """What sort of thing a resource is."""

    machine = "machine"
    line = "line"
    tool = "tool"
    instrument = "instrument"
    vehicle = "vehicle"
    service_team = "service_team"


class Capability(Base):
    """One process code of the taxonomy (`milling.cnc.5axis`); synced from the shipped data."""

    __tablename__ = "capabilities"

    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    family: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class Site(Base):
    """A factory location of an organisation."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120), default="")
    region: Mapped[str] = mapped_column(String(120), default="", index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Resource(Base):
    """One thing with capacity at a site: a machine, line, tool, instrument, vehicle or team."""

    __tablename__ = "resources"
    __table_args__ = (CheckConstraint("hourly_rate_minor >= 0", name="rate_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ResourceKind] = mapped_column(Enum(ResourceKind, native_enum=False, length=20))
    resource_class: Mapped[str] = mapped_column(String(80), default="standard", index=True)
    hourly_rate_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    capabilities: Mapped[list[ResourceCapability]] = relationship(
        back_populates="resource",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ResourceCapability.capability_code",
    )


class ResourceCapability(Base):
    """A process a resource can perform, with its limits."""

    __tablename__ = "resource_capabilities"
    __table_args__ = (UniqueConstraint("resource_id", "capability_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    capability_code: Mapped[str] = mapped_column(ForeignKey("capabilities.code"), index=True)
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_envelope_mm: Mapped[list[int] | None] = mapped_column(JSON)
    tolerance_um: Mapped[int | None] = mapped_column(Integer)
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)

    resource: Mapped[Resource] = relationship(back_populates="capabilities", lazy="raise")


class CapacityWindow(Base):
    """A span of time `[starts_at, ends_at)` a provider offers on a resource."""

    __tablename__ = "capacity_windows"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Downtime(Base):
    """A span a resource cannot work: a breakdown until its expected repair."""

    __tablename__ = "downtimes"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="breakdown")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
