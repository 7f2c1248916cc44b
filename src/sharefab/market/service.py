"""Use cases of the marketplace that other domains call: what is booked where."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from sharefab.kit.timespan import Span
from sharefab.market import repository


def booked_spans(
    session: Session, resource_ids: Sequence[int], starts_at: datetime, ends_at: datetime
) -> dict[int, list[Span]]:
    """Per resource, the spans live bookings hold inside `[starts_at, ends_at)`."""
    spans: dict[int, list[Span]] = defaultdict(list)
    for booking in repository.live_bookings_in_span(session, resource_ids, starts_at, ends_at):
        spans[booking.resource_id].append((booking.starts_at, booking.ends_at))
    return spans


def resources_have_bookings(session: Session, resource_ids: Sequence[int]) -> bool:
    """Whether any of the resources holds a live booking (then it may not be deleted)."""
    return repository.count_live_bookings(session, resource_ids=resource_ids) > 0
