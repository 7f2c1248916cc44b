"""Use cases of the shop floor: work orders, events validated against the plan, replanning.

A work order is a booking as its provider sees it. Events move it along
committed -> in_progress -> done; a breakdown takes its resource down until the expected
repair and replans every booking the downtime touches; a scrap that needs rework or a late
start replans the later steps of the order. Completing a step pays its provider out of escrow
and feeds the provider's credit score; a step that frees its machine brings ready work forward
(``market.replan.pull``: work waiting elsewhere for a later slot, the order's next steps).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.execution import repository
from sharefab.execution.models import Event, EventType
from sharefab.execution.schemas import BreakdownIn, EventIn
from sharefab.identity.principal import Principal, readable
from sharefab.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from sharefab.kit.timespan import Span
from sharefab.kit.types import utcnow
from sharefab.ledger import service as ledger
from sharefab.market import replan as replanning
from sharefab.market.models import Booking, BookingStatus
from sharefab.orders import service as orders
from sharefab.orders.models import Operation, Order, OrderStatus
from sharefab.reputation import service as reputation

LATE_START_MINUTES = 30


def visible_work_orders(principal: Principal, **filters: Any) -> Select[Booking]:
    """The caller's work orders (bookings on its resources); the operator sees all."""
    if not principal.is_operator:
        filters["provider_organization_id"] = principal.organization_id
    return repository.list_work_orders(**filters)


def get_work_order(session: Session, principal: Principal, booking_id: int) -> Booking:
    """A work order of the caller (or any, for the operator), or 404."""
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound(f"work order {booking_id} does not exist")
    readable(principal, booking.provider_organization_id, "work order", booking_id)
    return booking


def operation_of(session: Session, booking: Booking) -> Operation:
    """The routing step a booking runs."""
    op = session.get(Operation, booking.operation_id)
    assert op is not None
    return op


def order_of(session: Session, booking: Booking) -> Order:
    """The order a booking serves."""
    order = session.get(Order, booking.order_id)
    assert order is not None
    return order


def _own(principal: Principal, booking: Booking) -> None:
    if not principal.owns(booking.provider_organization_id):
        raise Forbidden("only the provider running this work order reports its events")
    if not principal.may("events:write"):
        raise Forbidden("this API key lacks the scope 'events:write'")


def report_event(
    session: Session, principal: Principal, booking_id: int, data: EventIn
) -> tuple[Event, dict[str, Any] | None]:
    """Record what happened to a work order; returns the event and any replan report."""
    booking = get_work_order(session, principal, booking_id)
    _own(principal, booking)
    at = data.at or utcnow()
    if at > utcnow() + timedelta(minutes=5):
        raise InvalidInput(
            "an event cannot happen in the future; omit `at` to use now",
            errors=[field_error("body.at", "in the future")],
        )
    op = operation_of(session, booking)
    order = orders.get_order_for_update(session, booking.order_id)
    handler = {
        EventType.started: _started,
        EventType.progress: _progress,
        EventType.completed: _completed,
        EventType.scrapped: _scrapped,
    }[data.type]
    report = handler(session, booking, op, order, data, at)
    event = Event(
        organization_id=booking.provider_organization_id,
        resource_id=booking.resource_id,
        booking_id=booking.id,
        type=data.type,
        quantity=data.quantity or 0,
        repair_minutes=data.rework_minutes,
        occurred_at=at,
        reported_by_user_id=principal.user_id,
        details={"note": data.note} if data.note else {},
    )
    session.add(event)
    session.flush()
    return event, report


def _need(booking: Booking, *states: BookingStatus, action: str) -> None:
    if booking.status not in states:
        allowed = " or ".join(s.value for s in states)
        raise Conflict(
            f"work order {booking.id} is {booking.status.value}; {action} needs it {allowed}",
            current_state=booking.status.value,
        )


def _started(
    session: Session, booking: Booking, op: Operation, order: Order, data: EventIn, at: datetime
) -> dict[str, Any] | None:
    _need(booking, BookingStatus.committed, action="starting")
    for pred in _predecessor_bookings(session, booking, op):
        if pred.status != BookingStatus.done:
            raise Conflict(
                f"operation {op.seq} cannot start: operation {_seq(session, pred)} of the same "
                f"order is {pred.status.value}, not done"
            )
    booking.status = BookingStatus.in_progress
    booking.started_at = at
    if order.status == OrderStatus.scheduled:
        orders.transition(order, OrderStatus.in_production)
    if at < booking.starts_at:
        # An early start (the resource was free and the inputs there): the booking moves to
        # when the work really runs, so its old span is free for others again.
        duration = booking.ends_at - booking.starts_at
        return _stretch(
            session,
            booking,
            at,
            at + duration,
            f"operation {op.seq} of order {order.id} started early",
            at,
        )
    late = at - booking.starts_at > timedelta(minutes=LATE_START_MINUTES)
    if not late:
        return None
    # A late start pushes this step's end; what that now overlaps moves.
    duration = booking.ends_at - booking.starts_at
    return _stretch(
        session,
        booking,
        at,
        at + duration,
        f"operation {op.seq} of order {order.id} started late",
        at,
    )


def _progress(
    session: Session, booking: Booking, op: Operation, order: Order, data: EventIn, at: datetime
) -> dict[str, Any] | None:
    _need(booking, BookingStatus.in_progress, action="reporting progress")
    done = _quantity(data, op)
    if done < booking.quantity_done:
        raise InvalidInput(
            f"progress goes forward: {done} done is less than the {booking.quantity_done} "
            "reported before; report the total done so far",
            errors=[field_error("body.quantity", "smaller than reported before")],
        )
    booking.quantity_done = done
    return None


def _completed(
    session: Session, booking: Booking, op: Operation, order: Order, data: EventIn, at: datetime
) -> dict[str, Any] | None:
    _need(booking, BookingStatus.in_progress, action="completing")
    booking.quantity_done = (
        _quantity(data, op)
        if data.quantity is not None
        else op.quantity - booking.quantity_scrapped
    )
    booking.status = BookingStatus.done
    booking.completed_at = at
    freed: Span | None = None
    if booking.starts_at < at < booking.ends_at:
        # Finished early: the rest of its span is free for others again.
        freed = (at, booking.ends_at)
        booking.ends_at = at
    on_time = booking.promised_end is None or at <= booking.promised_end
    response = None
    if booking.started_at is not None:
        response = int((booking.started_at - booking.created_at).total_seconds() // 60)
    ledger.release_to_provider(
        session,
        order_id=order.id,
        provider_org_id=booking.provider_organization_id,
        amount_minor=booking.price_minor,
        currency=order.currency,
        fee_bps=ledger.PLATFORM_FEE_BPS,
        reference=f"booking:{booking.id}",
    )
    reputation.record_operation_outcome(
        session,
        provider_org_id=booking.provider_organization_id,
        on_time=on_time,
        quantity_done=booking.quantity_done,
        quantity_scrapped=booking.quantity_scrapped,
        response_minutes=max(0, response) if response is not None else None,
    )
    remaining = [b for b in _order_bookings(session, order.id) if b.status != BookingStatus.done]
    if not remaining and order.status == OrderStatus.in_production:
        orders.transition(order, OrderStatus.completed)
        order.completed_at = at
    # the machine is free now and the order's next steps may be ready: ready work comes forward
    session.flush()
    report = replanning.pull(session, booking.resource_id, at, finished=booking, freed=freed)
    return report.as_dict() if report.moves else None


def _scrapped(
    session: Session, booking: Booking, op: Operation, order: Order, data: EventIn, at: datetime
) -> dict[str, Any] | None:
    _need(booking, BookingStatus.in_progress, action="reporting scrap")
    quantity = _quantity(data, op)
    if booking.quantity_scrapped + quantity > op.quantity:
        raise InvalidInput(
            f"{booking.quantity_scrapped + quantity} scrapped would exceed the {op.quantity} "
            "parts of this operation",
            errors=[field_error("body.quantity", "more than the operation's quantity")],
        )
    booking.quantity_scrapped += quantity
    if not data.rework_minutes:
        return None
    # Rework keeps this resource busy longer; whatever that now overlaps moves.
    return _stretch(
        session,
        booking,
        booking.starts_at,
        booking.ends_at + timedelta(minutes=data.rework_minutes),
        f"rework of {quantity} scrapped parts on work order {booking.id}",
        at,
    )


def report_breakdown(
    session: Session, principal: Principal, resource_id: int, data: BreakdownIn
) -> tuple[Event, dict[str, Any]]:
    """A resource broke down until the expected repair: mark it down and replan what it held."""
    resource = capacity.get_resource(session, principal, resource_id)
    if not principal.owns(resource.organization_id) or not principal.may("events:write"):
        raise Forbidden("only the resource's provider (with events:write) reports a breakdown")
    at = data.at or utcnow()
    until = at + timedelta(minutes=data.repair_minutes)
    event = Event(
        organization_id=resource.organization_id,
        resource_id=resource.id,
        type=EventType.breakdown,
        repair_minutes=data.repair_minutes,
        occurred_at=at,
        reported_by_user_id=principal.user_id,
        details={"note": data.note} if data.note else {},
    )
    session.add(event)
    session.flush()
    capacity.add_downtime(session, resource.id, at, until, f"breakdown (event {event.id})")
    blocked: list[Span] = [(at, until)]
    seeds: dict[int, Booking] = {
        b.id: b
        for b in repository.bookings_on(session, resource.id, at, until, [BookingStatus.committed])
    }
    with session.no_autoflush:
        for running in repository.bookings_on(
            session, resource.id, at, until, [BookingStatus.in_progress]
        ):
            # paused work finishes after the repair
            running.ends_at = running.ends_at + timedelta(minutes=data.repair_minutes)
            blocked.append((running.starts_at, running.ends_at))
            seeds.update((b.id, b) for b in _pushed_by(session, running))
        report = replanning.replan(
            session,
            list(seeds.values()),
            f"resource {resource.id} broke down until {until.isoformat()}",
            at,
            unavailable={resource.id: blocked},
        )
    session.flush()
    return event, report.as_dict()


def report_resumed(
    session: Session, principal: Principal, resource_id: int, at: datetime | None
) -> Event:
    """The resource is repaired: its downtime ends now, and ready work waiting on other
    machines may move onto it (idle pull, as when a step finishes early)."""
    resource = capacity.get_resource(session, principal, resource_id)
    if not principal.owns(resource.organization_id) or not principal.may("events:write"):
        raise Forbidden("only the resource's provider (with events:write) reports a repair")
    when = at or utcnow()
    freed = capacity.end_downtime(session, resource.id, when)
    if not freed:
        raise Conflict(f"resource {resource_id} is not down; nothing to resume")
    event = Event(
        organization_id=resource.organization_id,
        resource_id=resource.id,
        type=EventType.resumed,
        occurred_at=when,
        reported_by_user_id=principal.user_id,
    )
    session.add(event)
    session.flush()
    # the moves show on the work orders (moved from, why); the answer stays the event
    replanning.pull(session, resource.id, when, freed=max(freed, key=lambda s: s[1]))
    return event


def _quantity(data: EventIn, op: Operation) -> int:
    if data.quantity is None:
        raise InvalidInput(
            f"this event needs a quantity (0 to {op.quantity})",
            errors=[field_error("body.quantity", "required for this event")],
        )
    if data.quantity > op.quantity:
        raise InvalidInput(
            f"quantity {data.quantity} is more than the {op.quantity} parts of this operation",
            errors=[field_error("body.quantity", f"at most {op.quantity}")],
        )
    return data.quantity


def _order_bookings(session: Session, order_id: int) -> list[Booking]:
    from sharefab.market import service as market

    return market.order_bookings(session, order_id)


def _predecessor_bookings(session: Session, booking: Booking, op: Operation) -> list[Booking]:
    preds = set(op.predecessors)
    out = []
    for b in _order_bookings(session, booking.order_id):
        if b.id != booking.id and operation_of(session, b).seq in preds:
            out.append(b)
    return out


def _seq(session: Session, booking: Booking) -> int:
    return operation_of(session, booking).seq


def _pushed_by(session: Session, booking: Booking) -> list[Booking]:
    """Committed bookings that `booking`'s (new, unwritten) span now collides with: on the same
    resource, or later steps of the same order that start before it ends."""
    same_resource = [
        b
        for b in repository.bookings_on(
            session,
            booking.resource_id,
            booking.starts_at,
            booking.ends_at,
            [BookingStatus.committed],
        )
        if b.id != booking.id
    ]
    successors = [
        b
        for b in _order_bookings(session, booking.order_id)
        if b.status == BookingStatus.committed
        and b.id != booking.id
        and b.starts_at < booking.ends_at
    ]
    return list({b.id: b for b in same_resource + successors}.values())


def _stretch(
    session: Session,
    booking: Booking,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    at: datetime,
) -> dict[str, Any] | None:
    """Give a booking a new span; replan whatever it now collides with, then write it.

    Work already running or done on the resource cannot move: a new span over it is refused
    (409 naming that work order), so the resource never holds two live bookings at once.
    """
    with session.no_autoflush:
        running = next(
            (
                b
                for b in repository.bookings_on(
                    session,
                    booking.resource_id,
                    starts_at,
                    ends_at,
                    [BookingStatus.in_progress, BookingStatus.done],
                )
                if b.id != booking.id
            ),
            None,
        )
        if running is not None:
            raise Conflict(
                f"resource {booking.resource_id} is taken by work order {running.id} "
                f"({running.status.value}) from {running.starts_at.isoformat()} to "
                f"{running.ends_at.isoformat()}; {reason} would overlap it. Complete work "
                f"order {running.id} first",
                work_order_id=running.id,
            )
        booking.starts_at, booking.ends_at = starts_at, ends_at
        pushed = _pushed_by(session, booking)
        report = (
            replanning.replan(
                session,
                pushed,
                reason,
                at,
                unavailable={booking.resource_id: [(starts_at, ends_at)]},
            )
            if pushed
            else None
        )
    session.flush()
    return report.as_dict() if report else None
