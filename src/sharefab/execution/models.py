"""Tables: shop-floor events."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class EventType(enum.StrEnum):
    """What can happen on the shop floor."""

    started = "started"
    progress = "progress"
    completed = "completed"
    scrapped = "scrapped"
    breakdown = "breakdown"
    resumed = "resumed"


class Event(Base):
    """One report from the shop floor, on a work order (booking) or a resource."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[EventType] = mapped_column(Enum(EventType, native_enum=False, length=20))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    repair_minutes: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_by_user_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
