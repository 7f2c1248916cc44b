"""Routes: /api/v1/work-orders (the provider's view of bookings) and shop-floor events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from sharefab.execution import repository, service
from sharefab.execution.schemas import (
    BreakdownIn,
    EventIn,
    EventOutcome,
    EventPublic,
    ResumedIn,
    WorkOrderPublic,
)
from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate
from sharefab.kit.schemas import AwareDatetime
from sharefab.market.models import Booking, BookingStatus

router = APIRouter(
    tags=["execution"], responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("events"))]
)


def _work_order(session: Session, booking: Booking) -> WorkOrderPublic:
    op = service.operation_of(session, booking)
    order = service.order_of(session, booking)
    return WorkOrderPublic.model_validate(
        {
            **{k: getattr(booking, k) for k in WorkOrderPublic.booking_fields()},
            "operation": op,
            "order": order,
        }
    )


@router.get("/work-orders")
def list_work_orders(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    site_id: int | None = None,
    resource_id: int | None = None,
    starts_before: AwareDatetime | None = None,
    ends_after: AwareDatetime | None = None,
    status: BookingStatus | None = None,
) -> Page[WorkOrderPublic]:
    """Your work orders: bookings on your resources, by site, resource, date and state."""
    stmt = service.visible_work_orders(
        principal,
        site_id=site_id,
        resource_id=resource_id,
        starts_before=starts_before,
        ends_after=ends_after,
        status=status,
    )
    rows, total = paginate(session, stmt, page)
    items = [_work_order(session, b) for b in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/work-orders/{booking_id}")
def get_work_order(
    session: SessionDep, principal: CurrentPrincipal, booking_id: int
) -> WorkOrderPublic:
    """One work order with its operation and order reference."""
    return _work_order(session, service.get_work_order(session, principal, booking_id))


@router.post("/work-orders/{booking_id}/events", status_code=status.HTTP_201_CREATED)
def report_event(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    booking_id: int,
    body: EventIn,
) -> EventOutcome:
    """Report started, progress, completed or scrapped; late starts and rework replan."""

    def produce() -> Any:
        event, report = service.report_event(session, principal, booking_id, body)
        return EventOutcome(event=EventPublic.model_validate(event), replan=report)

    return idem.run(produce)


@router.get("/work-orders/{booking_id}/events")
def list_events(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    booking_id: int,
) -> Page[EventPublic]:
    """What was reported on a work order, oldest first."""
    booking = service.get_work_order(session, principal, booking_id)
    rows, total = paginate(session, repository.events_of(booking.id), page)
    items = [EventPublic.model_validate(e) for e in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/resources/{resource_id}/breakdown", status_code=status.HTTP_201_CREATED)
def report_breakdown(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    resource_id: int,
    body: BreakdownIn,
) -> EventOutcome:
    """A resource broke down: it is down until the expected repair and its work is replanned."""

    def produce() -> Any:
        event, report = service.report_breakdown(session, principal, resource_id, body)
        return EventOutcome(event=EventPublic.model_validate(event), replan=report)

    return idem.run(produce)


@router.post("/resources/{resource_id}/resume", status_code=status.HTTP_201_CREATED)
def report_resumed(
    session: SessionDep,
    principal: CurrentPrincipal,
    resource_id: int,
    body: ResumedIn | None = None,
) -> EventPublic:
    """The resource works again (its downtime ends now); ready work waiting on other machines
    may move onto it (the moved work orders say so)."""
    event = service.report_resumed(session, principal, resource_id, body.at if body else None)
    return EventPublic.model_validate(event)
