"""Queries on plans and bookings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharefab.market.models import Booking, BookingStatus


def live_bookings_in_span(
    session: Session, resource_ids: Sequence[int], starts_at: datetime, ends_at: datetime
) -> list[Booking]:
    """Bookings not cancelled on the given resources that touch `[starts_at, ends_at)`."""
    if not resource_ids:
        return []
    stmt = select(Booking).where(
        Booking.resource_id.in_(resource_ids),
        Booking.status != BookingStatus.cancelled,
        Booking.starts_at < ends_at,
        Booking.ends_at > starts_at,
    )
    return list(session.scalars(stmt))


def count_live_bookings(session: Session, *, resource_ids: Sequence[int]) -> int:
    """How many bookings not cancelled hold any of the given resources."""
    if not resource_ids:
        return 0
    stmt = select(func.count()).where(
        Booking.resource_id.in_(resource_ids), Booking.status != BookingStatus.cancelled
    )
    return int(session.scalar(stmt) or 0)
