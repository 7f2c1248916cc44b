"""Queries on plans and bookings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharefab.market.models import Booking, BookingStatus, Plan, PlanStatus, Quote, QuoteSlot


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


def active_plan(session: Session) -> Plan | None:
    """The plan currently in force."""
    stmt = select(Plan).where(Plan.status == PlanStatus.active).order_by(Plan.version.desc())
    return session.scalars(stmt).first()


def next_plan_version(session: Session) -> int:
    """One more than the newest plan version."""
    return int(session.scalar(select(func.max(Plan.version))) or 0) + 1


def new_slot(
    *,
    operation_id: int,
    resource_id: int,
    provider_organization_id: int,
    starts_at: datetime,
    ends_at: datetime,
    price_minor: int,
) -> QuoteSlot:
    """A quote slot row (added with its quote)."""
    return QuoteSlot(
        operation_id=operation_id,
        resource_id=resource_id,
        provider_organization_id=provider_organization_id,
        starts_at=starts_at,
        ends_at=ends_at,
        price_minor=price_minor,
    )


def quotes_of(session: Session, order_id: int) -> list[Quote]:
    """An order's quotes, newest first."""
    stmt = select(Quote).where(Quote.order_id == order_id).order_by(Quote.id.desc())
    return list(session.scalars(stmt))


def get_quote(session: Session, quote_id: int) -> Quote | None:
    """A quote by id."""
    return session.get(Quote, quote_id)


def bookings_of_order(session: Session, order_id: int) -> list[Booking]:
    """An order's bookings that are not cancelled (done ones included), by start."""
    stmt = (
        select(Booking)
        .where(Booking.order_id == order_id, Booking.status != BookingStatus.cancelled)
        .order_by(Booking.starts_at, Booking.id)
    )
    return list(session.scalars(stmt))


def committed(session: Session) -> list[Booking]:
    """Every committed booking (not started), by start."""
    stmt = select(Booking).where(Booking.status == BookingStatus.committed)
    return list(session.scalars(stmt.order_by(Booking.starts_at, Booking.id)))


def committed_after(session: Session, moment: datetime) -> list[Booking]:
    """Committed bookings (not started) that start after `moment`."""
    stmt = select(Booking).where(
        Booking.status == BookingStatus.committed, Booking.starts_at >= moment
    )
    return list(session.scalars(stmt.order_by(Booking.starts_at)))
