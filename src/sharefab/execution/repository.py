"""Queries on work orders (bookings seen from the shop floor) and events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sharefab.capacity.models import Resource
from sharefab.execution.models import Event
from sharefab.market.models import Booking, BookingStatus


def list_work_orders(
    *,
    provider_organization_id: int | None = None,
    site_id: int | None = None,
    resource_id: int | None = None,
    starts_before: datetime | None = None,
    ends_after: datetime | None = None,
    status: BookingStatus | None = None,
) -> Select[Booking]:
    """Bookings by provider, site, resource, span and state; cancelled ones only if asked."""
    stmt = select(Booking).order_by(Booking.starts_at, Booking.id)
    if provider_organization_id is not None:
        stmt = stmt.where(Booking.provider_organization_id == provider_organization_id)
    if resource_id is not None:
        stmt = stmt.where(Booking.resource_id == resource_id)
    if site_id is not None:
        stmt = stmt.where(
            Booking.resource_id.in_(select(Resource.id).where(Resource.site_id == site_id))
        )
    if starts_before is not None:
        stmt = stmt.where(Booking.starts_at < starts_before)
    if ends_after is not None:
        stmt = stmt.where(Booking.ends_at > ends_after)
    if status is not None:
        stmt = stmt.where(Booking.status == status)
    else:
        stmt = stmt.where(Booking.status != BookingStatus.cancelled)
    return stmt


def bookings_on(
    session: Session,
    resource_id: int,
    starts_at: datetime,
    ends_at: datetime,
    statuses: Sequence[BookingStatus],
) -> list[Booking]:
    """Bookings of one resource in the given states that touch `[starts_at, ends_at)`."""
    stmt = select(Booking).where(
        Booking.resource_id == resource_id,
        Booking.status.in_(list(statuses)),
        Booking.starts_at < ends_at,
        Booking.ends_at > starts_at,
    )
    return list(session.scalars(stmt.order_by(Booking.starts_at)))


def events_of(booking_id: int) -> Select[Event]:
    """A work order's events, oldest first."""
    return select(Event).where(Event.booking_id == booking_id).order_by(Event.id)
