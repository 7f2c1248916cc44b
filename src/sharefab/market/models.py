"""Tables: plans (versioned sets of bookings) and bookings (an operation on a resource, a span).

Two live bookings of one resource never overlap: PostgreSQL enforces it with an exclusion
constraint over resource and time range (created by the migration), SQLite inside the
serialised write transaction.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # the live bookings are few beside the done and cancelled ones (a booking moved to
        # another provider leaves a cancelled work order behind): find them by status first
        Index("ix_bookings_status_resource_id", "status", "resource_id"),
        Index("ix_bookings_status_starts_at", "status", "starts_at"),
        # an order's bookings, the cancelled ones told apart in the index
        Index("ix_bookings_order_id_status", "order_id", "status"),
        # a resource's bookings in some states over a span (a start or rework checks what it
        # would overlap, idle pull reads the machine's next booking): without it SQLite walked
        # every done booking by start, slower each simulated week
        Index("ix_bookings_resource_id_status_starts_at", "resource_id", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    operation_id: Mapped[int] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), index=True
    )
    # indexed first in ix_bookings_resource_id_status_starts_at
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="RESTRICT"))
    provider_organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, native_enum=False, length=20), default=BookingStatus.committed
    )
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    promised_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quantity_done: Mapped[int] = mapped_column(Integer, default=0)
    quantity_scrapped: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the last noticeable move by a replan: where it was, why and when
    moved_from_resource_id: Mapped[int | None] = mapped_column(Integer)
    moved_from_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moved_reason: Mapped[str | None] = mapped_column(String(300))
    moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuoteStatus(enum.StrEnum):
    """A quote is open until accepted, superseded by another's acceptance, or expired."""

    open = "open"
    accepted = "accepted"
    superseded = "superseded"
    expired = "expired"


class Quote(Base):
    """A priced, dated offer for an order, backed by a tentative plan (its slots)."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    option: Mapped[str] = mapped_column(String(20))
    status: Mapped[QuoteStatus] = mapped_column(
        Enum(QuoteStatus, native_enum=False, length=20), default=QuoteStatus.open
    )
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    promised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    provider_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    slots: Mapped[list[QuoteSlot]] = relationship(
        back_populates="quote",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="QuoteSlot.starts_at",
    )


class QuoteSlot(Base):
    """One operation of a quote's tentative plan: a resource and a span, priced."""

    __tablename__ = "quote_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    provider_organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    price_minor: Mapped[int] = mapped_column(Integer)

    quote: Mapped[Quote] = relationship(back_populates="slots", lazy="raise")


class PlanClock(Base):
    """One row: the live plan's version, advanced by every transaction that changes bookings,
    capacity windows, downtimes or resources (``market/changes.py``)."""

    __tablename__ = "plan_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class PlanChange(Base):
    """A resource whose bookings, windows, downtimes or details changed at a plan version;
    ``calendar`` false: only its bookings or downtimes."""

    __tablename__ = "plan_changes"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


import sharefab.market.changes  # noqa: E402, F401  (records plan changes on every commit)
