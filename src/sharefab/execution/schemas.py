"""API shapes for work orders and shop-floor events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictInt

from sharefab.execution.models import EventType
from sharefab.kit.schemas import AwareDatetime, PublicSchema, Schema


class EventIn(Schema):
    """A report on a work order: started, progress (total done), completed, scrapped."""

    type: Literal[EventType.started, EventType.progress, EventType.completed, EventType.scrapped]
    quantity: StrictInt | None = Field(
        default=None, ge=0, description="progress: total done so far; scrapped: parts scrapped"
    )
    rework_minutes: StrictInt | None = Field(
        default=None, ge=1, le=100_000, description="scrapped: extra minutes to rework"
    )
    at: AwareDatetime | None = Field(default=None, description="When it happened; default now")
    note: str = Field(default="", max_length=500)


class BreakdownIn(Schema):
    """A resource stopped; it is expected back after `repair_minutes`."""

    repair_minutes: StrictInt = Field(ge=1, le=100_000)
    at: AwareDatetime | None = None
    note: str = Field(default="", max_length=500)


class ResumedIn(Schema):
    """A resource works again."""

    at: AwareDatetime | None = None


class EventPublic(PublicSchema):
    """A shop-floor event as recorded."""

    id: int
    resource_id: int
    booking_id: int | None
    type: EventType
    quantity: int
    repair_minutes: int | None
    occurred_at: datetime
    details: dict[str, Any]


class EventOutcome(PublicSchema):
    """An event and, when it moved bookings, the replan report (what moved, which promised
    dates changed and why)."""

    event: EventPublic
    replan: dict[str, Any] | None = None


class WorkOrderOperation(PublicSchema):
    """The routing step a work order runs (all a provider sees of the order's routing)."""

    seq: int
    name: str
    capability_code: str
    quantity: int
    material: str
    setup_minutes: int
    certifications: list[str]


class WorkOrderOrder(PublicSchema):
    """What a provider sees of the order behind a work order (it is accepted, so the drawing
    reference is shared)."""

    id: int
    reference: str
    title: str
    drawing_ref: str | None
    status: str


class WorkOrderPublic(PublicSchema):
    """A booking as its provider sees it."""

    id: int
    order_id: int
    operation_id: int
    resource_id: int
    provider_organization_id: int
    starts_at: datetime
    ends_at: datetime
    promised_end: datetime | None
    status: str
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
    operation: WorkOrderOperation
    order: WorkOrderOrder

    @classmethod
    def booking_fields(cls) -> list[str]:
        """The fields copied from the booking row."""
        return [f for f in cls.model_fields if f not in ("operation", "order")]
