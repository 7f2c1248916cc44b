"""Tables: plans (versioned sets of bookings) and bookings (an operation on a resource, a span).

Two live bookings of one resource never overlap: PostgreSQL enforces it with an exclusion
constraint over resource and time range (created by the migration), SQLite inside the
serialised write transaction.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class PlanStatus(enum.StrEnum):
    """A plan is drafted by the optimiser, becomes active, and is superseded by the next."""

    draft = "draft"
    active = "active"
    superseded = "superseded"


class BookingStatus(enum.StrEnum):
    """A booking's life on the shop floor."""

    tentative = "tentative"
    committed = "committed"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


LIVE_BOOKING_STATUSES = ("tentative", "committed", "in_progress", "done")


class Plan(Base):
    """A versioned set of bookings made by the optimiser."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[PlanStatus] = mapped_column(
        Enum(PlanStatus, native_enum=False, length=20), default=PlanStatus.draft
    )
    objective: Mapped[str] = mapped_column(String(40), default="weighted_tardiness")
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Booking(Base):
    """An operation reserved on a resource for `[starts_at, ends_at)`."""

    __tablename__ = "bookings"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="RESTRICT"), index=True
    )
    provider_organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, native_enum=False, length=20), default=BookingStatus.committed
    )
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
