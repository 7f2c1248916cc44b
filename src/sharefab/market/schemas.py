"""API shapes for quotes and bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from sharefab.kit.schemas import PublicSchema, Schema
from sharefab.market.models import BookingStatus, QuoteStatus


class QuoteSlotPublic(PublicSchema):
    """One operation of a quote's tentative plan."""

    operation_id: int
    resource_id: int
    provider_organization_id: int
    starts_at: datetime
    ends_at: datetime
    price_minor: int


class QuotePublic(PublicSchema):
    """A priced, dated offer: the price breakdown, the promised date, the providers, the plan
    behind it, and why each resource was or was not chosen."""

    id: int
    order_id: int
    option: str
    status: QuoteStatus
    total_minor: int
    currency: str
    promised_at: datetime
    expires_at: datetime
    breakdown: dict[str, Any]
    explanation: list[dict[str, Any]]
    provider_ids: list[int]
    slots: list[QuoteSlotPublic]
    created_at: datetime


class BookingPublic(PublicSchema):
    """An operation reserved on a resource for a span."""

    id: int
    order_id: int
    operation_id: int
    resource_id: int
    provider_organization_id: int
    starts_at: datetime
    ends_at: datetime
    promised_end: datetime | None
    status: BookingStatus
    price_minor: int
    quantity_done: int
    quantity_scrapped: int
    started_at: datetime | None
    completed_at: datetime | None
    # the last noticeable move by a replan: where the work was, why it moved, when
    moved_from_resource_id: int | None = None
    moved_from_starts_at: datetime | None = None
    moved_reason: str | None = None
    moved_at: datetime | None = None


class AcceptedPublic(PublicSchema):
    """The outcome of accepting a quote: the quote, the order's new state and its bookings."""

    quote: QuotePublic
    order_status: str
    bookings: list[BookingPublic]


class DisputeIn(Schema):
    """Why the buyer disputes the work."""

    reason: str = Field(min_length=3, max_length=2000)


class ResolveIn(Schema):
    """How the operator resolves a dispute: close (settle as agreed) or cancel (refund)."""

    outcome: Literal["close", "cancel"]


class OrderStatePublic(PublicSchema):
    """An order's state after an action."""

    id: int
    status: str
    promised_at: datetime | None
    price_minor: int | None
