"""Use cases of the marketplace: quote, accept and book, and what other domains ask of bookings.

Quotes place one order on the live plan (``market/live.py``, ``market/quoting.py``) without
moving any committed booking: four options (fastest, cheapest, balanced, safest), instantly.
Accepting a quote books all its slots in one transaction, or none, with 409 naming the slot
that was taken; the database has the last word, the live plan is only a cache.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.identity import service as identity
from sharefab.identity.principal import Principal, readable, writable
from sharefab.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from sharefab.kit.observability import BOOKING_CONFLICTS, timed
from sharefab.kit.settings import get_settings
from sharefab.kit.timespan import Span, offered, overlaps
from sharefab.kit.types import utcnow
from sharefab.ledger import service as ledger
from sharefab.market import promises, quoting, repository
from sharefab.market.live import live_plan, moment
from sharefab.market.models import Booking, BookingStatus, Plan, PlanStatus, Quote, QuoteStatus
from sharefab.market.quoting import OPTIONS, Priced
from sharefab.orders import service as orders
from sharefab.orders.models import Order, OrderStatus
from sharefab.reputation import service as reputation

# --- what other domains ask ---------------------------------------------------------------


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


def active_plan(session: Session) -> Plan:
    """The active plan (made on first use).

    Two first accepts at once both try to make plan version 1: the loser's insert fails inside a
    savepoint and it uses the winner's plan instead of failing the accept.
    """
    plan = repository.active_plan(session)
    if plan is not None:
        return plan
    plan = Plan(
        version=repository.next_plan_version(session),
        status=PlanStatus.active,
        note="bookings from accepted quotes",
    )
    try:
        with session.begin_nested():
            session.add(plan)
            session.flush()
    except IntegrityError:
        made = repository.active_plan(session)
        if made is None:
            raise
        return made
    return plan


# --- quotes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSlot:
    """One booked-to-be span of a quote option, as plain values."""

    operation_id: int
    resource_id: int
    provider_organization_id: int
    starts_at: datetime
    ends_at: datetime
    price_minor: int


@dataclass(frozen=True)
class QuotePlan:
    """What `plan_quotes` computed from a read snapshot, for `record_quotes` to store."""

    order_id: int
    inputs: tuple[Any, ...]
    options: list[tuple[Priced, list[PlannedSlot]]]


def request_quotes(
    session: Session,
    principal: Principal,
    order_id: int,
    options: Sequence[str] | None = None,
) -> list[Quote]:
    """Up to four priced options (fastest, cheapest, balanced, safest) for one of the caller's
    orders (only the `options` named, when given), placed on the live plan and stored."""
    return record_quotes(session, principal, plan_quotes(session, principal, order_id, options))


def _plan_inputs(order: Order) -> tuple[Any, ...]:
    """What a quote's plan depends on in the order (a routing edit replaces the operations)."""
    return (
        order.quantity,
        order.material,
        order.release_at,
        order.due_at,
        order.delivery_site_id,
        order.currency,
        tuple(sorted(op.id for op in order.operations)),
    )


def plan_quotes(
    session: Session,
    principal: Principal,
    order_id: int,
    options: Sequence[str] | None = None,
) -> QuotePlan:
    """Place the quote options of an order on the live plan (all, or those named in
    `options`); reads only (no row changes, no write lock). See `market/quoting.py`."""
    unknown = sorted(set(options or ()) - set(OPTIONS))
    if unknown:
        raise InvalidInput(
            f"unknown quote option {', '.join(unknown)}; choose from {', '.join(OPTIONS)}"
        )
    wanted = [o for o in OPTIONS if options is None or o in options]
    order = orders.get_order(session, principal, order_id)
    writable(principal, order.organization_id, "order", order_id)
    orders.check_transition(order, OrderStatus.quoted)
    with timed("quote"):
        # read before the live plan's lock: other quotes need not wait for it
        slip = promises.slip_fraction(session, utcnow(), get_settings().promise_level)
        live = live_plan(session)
        with live.lock:
            live.refresh(session)
            found = quoting.collect(session, live, order, utcnow())
            orgs = {
                live.resources[r].organization_id  # type: ignore[union-attr]
                for step in found.steps
                for r, _ in step.modes
            }
            weights = reputation.matching_weights(session, sorted(orgs))
            placed = quoting.place(live, live.network(weights), found, wanted)
            chosen = sorted(
                {
                    live.resources[r].organization_id  # type: ignore[union-attr]
                    for p in placed.values()
                    for r, _, _ in p.slots
                }
            )
            names = identity.organization_names(session, chosen)
            priced: list[Priced] = []
            for option, placement in placed.items():
                offer = quoting.price(live, found, option, placement, names, weights, slip)
                twin = next(
                    (
                        p
                        for p in priced
                        if (p.total, p.promised_at, p.placement.slots)
                        == (offer.total, offer.promised_at, offer.placement.slots)
                    ),
                    None,
                )
                if twin is not None:  # the same plan wins twice: one quote, both labels
                    twin.breakdown.setdefault("also_best_for", []).append(option)
                    continue
                priced.append(offer)
            offers = [
                (
                    p,
                    [
                        PlannedSlot(
                            operation_id=found.operations[k].id,
                            resource_id=live.resources[r].id,  # type: ignore[union-attr]
                            provider_organization_id=live.resources[r].organization_id,  # type: ignore[union-attr]
                            starts_at=moment(start),
                            ends_at=moment(end),
                            price_minor=p.slot_prices[k],
                        )
                        for k, (r, start, end) in enumerate(p.placement.slots)
                    ],
                )
                for p in priced
            ]
    return QuotePlan(order_id=order.id, inputs=_plan_inputs(order), options=offers)


def record_quotes(session: Session, principal: Principal, plan: QuotePlan) -> list[Quote]:
    """Store the options of `plan` as open quotes, if the order is still as it was planned.

    Capacity may have moved since the plan was read: that is fine, a quote is only an offer and
    accepting it re-checks every slot. The order itself must still be quotable with the same
    routing and dates, and every resource must still exist; otherwise 409, ask again.
    """
    order = orders.get_order_for_update(session, plan.order_id)
    writable(principal, order.organization_id, "order", plan.order_id)
    if _plan_inputs(order) != plan.inputs:
        raise Conflict(
            f"order {order.id} changed while its quotes were being computed; ask for quotes again"
        )
    orders.transition(order, OrderStatus.quoted)
    wanted = {s.resource_id for _, slots in plan.options for s in slots}
    if not capacity.resources_exist(session, wanted):
        raise Conflict(
            f"a resource planned for order {order.id} was removed while its quotes were being "
            "computed; ask for quotes again"
        )
    fee_bps = ledger.PLATFORM_FEE_BPS
    expires = utcnow() + timedelta(minutes=get_settings().quote_ttl_minutes)
    quotes = []
    for p, slots in plan.options:
        quote = Quote(
            order_id=order.id,
            organization_id=order.organization_id,
            option=p.option,
            status=QuoteStatus.open,
            total_minor=p.total,
            currency=order.currency,
            promised_at=p.promised_at,
            expires_at=expires,
            breakdown={**p.breakdown, "platform_fee_bps": fee_bps},
            explanation=p.explanation,
            provider_ids=p.providers,
        )
        quote.slots = [
            repository.new_slot(
                operation_id=s.operation_id,
                resource_id=s.resource_id,
                provider_organization_id=s.provider_organization_id,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                price_minor=s.price_minor,
            )
            for s in slots
        ]
        session.add(quote)
        quotes.append(quote)
    session.flush()
    return quotes


def list_quotes(session: Session, principal: Principal, order_id: int) -> list[Quote]:
    """The quotes of one of the caller's orders (expired ones marked so)."""
    order = orders.get_order(session, principal, order_id)
    quotes = repository.quotes_of(session, order.id)
    _expire(quotes)
    return quotes


def get_quote(session: Session, principal: Principal, quote_id: int) -> Quote:
    """A quote the caller may see (its buyer, or the operator), or 404."""
    quote = repository.get_quote(session, quote_id)
    if quote is None:
        raise NotFound(f"quote {quote_id} does not exist")
    readable(principal, quote.organization_id, "quote", quote_id)
    _expire([quote])
    return quote


def _expire(quotes: Sequence[Quote]) -> None:
    now = utcnow()
    for q in quotes:
        if q.status == QuoteStatus.open and q.expires_at <= now:
            q.status = QuoteStatus.expired


# --- accept and book ------------------------------------------------------------------------


def accept_quote(
    session: Session, principal: Principal, quote_id: int
) -> tuple[Quote, list[Booking]]:
    """Book every slot of a quote atomically, fund the escrow, and schedule the order.

    If capacity moved since the quote (a slot overlaps a live booking, a downtime, or is no
    longer inside an offered window) nothing is booked and 409 names the slot.
    """
    quote = get_quote(session, principal, quote_id)
    writable(principal, quote.organization_id, "quote", quote_id)
    if not principal.may("orders:write"):
        raise Forbidden("accepting quotes needs the orders:write scope")
    order = orders.get_order_for_update(session, quote.order_id)
    if quote.status != QuoteStatus.open:
        raise Conflict(
            f"quote {quote_id} is {quote.status.value}; only an open quote can be accepted"
            + ("; ask for new quotes" if quote.status == QuoteStatus.expired else ""),
            quote_status=quote.status.value,
        )
    orders.transition(order, OrderStatus.accepted)
    ids = sorted({s.resource_id for s in quote.slots})
    first = min(s.starts_at for s in quote.slots)
    last = max(s.ends_at for s in quote.slots)
    windows, down = capacity.unavailable_spans(session, ids, first, last)
    taken = repository.live_bookings_in_span(session, ids, first, last)
    pausable = {op.id: op.interruptible for op in order.operations}
    for slot in sorted(quote.slots, key=lambda s: s.starts_at):
        span = (slot.starts_at, slot.ends_at)
        seq = _seq(order, slot.operation_id)
        clash = next(
            (
                b
                for b in taken
                if b.resource_id == slot.resource_id and overlaps(span, (b.starts_at, b.ends_at))
            ),
            None,
        )
        inside = offered(span, windows[slot.resource_id], pausable[slot.operation_id])
        broken = any(overlaps(span, d) for d in down[slot.resource_id])
        if clash or broken or not inside:
            BOOKING_CONFLICTS.inc()
            why = (
                "was booked by someone else"
                if clash
                else "is down for repair"
                if broken
                else "is no longer offered"
            )
            raise Conflict(
                f"the slot of operation {seq} on resource {slot.resource_id} "
                f"({slot.starts_at.isoformat()} to {slot.ends_at.isoformat()}) {why} since the "
                "quote was made; ask for new quotes",
                operation_seq=seq,
                resource_id=slot.resource_id,
            )
    plan = active_plan(session)
    bookings = [
        Booking(
            plan_id=plan.id,
            order_id=order.id,
            operation_id=slot.operation_id,
            resource_id=slot.resource_id,
            provider_organization_id=slot.provider_organization_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            promised_end=slot.ends_at,
            status=BookingStatus.committed,
            price_minor=slot.price_minor,
            quote_id=quote.id,
        )
        for slot in quote.slots
    ]
    session.add_all(bookings)
    try:
        session.flush()
    except IntegrityError:
        # PostgreSQL's exclusion constraint caught a booking made concurrently.
        BOOKING_CONFLICTS.inc()
        raise Conflict(
            f"a slot of quote {quote_id} was booked by someone else a moment ago; "
            "ask for new quotes",
        ) from None
    quote.status = QuoteStatus.accepted
    for other in repository.quotes_of(session, order.id):
        if other.id != quote.id and other.status == QuoteStatus.open:
            other.status = QuoteStatus.superseded
    order.promised_at = quote.promised_at
    order.accepted_at = utcnow()
    order.planned_end_at = last
    order.price_minor = quote.total_minor
    orders.transition(order, OrderStatus.scheduled)
    ledger.fund_escrow(
        session,
        order_id=order.id,
        buyer_org_id=order.organization_id,
        amount_minor=quote.total_minor,
        currency=quote.currency,
    )
    reputation.record_order_placed(session, buyer_org_id=order.organization_id)
    session.flush()
    return quote, bookings


def _seq(order: Order, operation_id: int) -> int:
    return next((op.seq for op in order.operations if op.id == operation_id), 0)


def order_bookings(session: Session, order_id: int) -> list[Booking]:
    """The live bookings of an order, by start."""
    return repository.bookings_of_order(session, order_id)
