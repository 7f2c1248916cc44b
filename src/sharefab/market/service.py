"""Use cases of the marketplace: quote, accept and book, and what other domains ask of bookings.

Quotes insert one order into the current plan without moving any committed booking: each
candidate resource is offered to the solver as its capacity windows minus live bookings and
downtimes. Three objectives give three options (fastest, cheapest, balanced). Accepting a quote
books all its slots in one transaction, or none, with 409 naming the slot that was taken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.capacity.models import Resource, Site
from sharefab.identity import service as identity
from sharefab.identity.principal import Principal, readable, writable
from sharefab.kit import offload
from sharefab.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from sharefab.kit.gate import Gate
from sharefab.kit.observability import BOOKING_CONFLICTS, timed
from sharefab.kit.settings import get_settings
from sharefab.kit.timespan import Span, overlaps
from sharefab.kit.types import utcnow
from sharefab.ledger import service as ledger
from sharefab.market import repository
from sharefab.market.models import Booking, BookingStatus, Plan, PlanStatus, Quote, QuoteStatus
from sharefab.market.planning import (
    OPTIONS,
    Candidate,
    Excluded,
    Frame,
    OrderProblem,
    StepCandidates,
    build_problem,
    duration_on,
    free_minutes,
    machine_price,
    qualify,
    solver_params,
)
from sharefab.optimize.result import Assignment
from sharefab.optimize.solve import solve_validated
from sharefab.orders import service as orders
from sharefab.orders.models import Order, OrderStatus
from sharefab.reputation import service as reputation

QUOTE_HORIZON_DAYS = 42
SOLVE_SECONDS_PER_OPTION = 2.0


@lru_cache(maxsize=4)
def _gate(slots: int, queue: int) -> Gate:
    return Gate(slots, queue, seconds_per_job=SOLVE_SECONDS_PER_OPTION * len(OPTIONS))


def quote_gate() -> Gate:
    """The process's gate for quote solves (`solver_slots` at once, `solver_queue` waiting)."""
    settings = get_settings()
    return _gate(settings.solver_slots, settings.solver_queue)


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


# --- candidates -----------------------------------------------------------------------------


def collect_candidates(
    session: Session,
    frame: Frame,
    order: Order,
    ignore_booking_ids: frozenset[int] = frozenset(),
    unavailable: dict[int, list[Span]] | None = None,
) -> list[StepCandidates]:
    """For each operation of `order`, the resources that can take it and why others cannot."""
    steps: list[StepCandidates] = []
    rows_by_op = {}
    resource_ids: set[int] = set()
    for op in order.operations:
        rows = capacity.candidates_for(session, op.capability_code)
        rows_by_op[op.id] = rows
        resource_ids.update(r.id for r, _, _ in rows)
    ids = sorted(resource_ids)
    windows, down = capacity.unavailable_spans(session, ids, frame.t0, frame.horizon_end)
    busy: dict[int, list[Span]] = defaultdict(list)
    for b in repository.live_bookings_in_span(session, ids, frame.t0, frame.horizon_end):
        if b.id not in ignore_booking_ids:
            busy[b.resource_id].append((b.starts_at, b.ends_at))
    for rid in ids:
        busy[rid].extend(down[rid])
        if unavailable:
            busy[rid].extend(unavailable.get(rid, []))
    weights = {
        org: reputation.matching_weight(session, org)
        for org in {r.organization_id for r in _all_resources(rows_by_op)}
    }
    free_spans: dict[int, list[tuple[int, int]]] = {}
    for op in order.operations:
        step = StepCandidates(operation=op)
        for resource, cap, site in rows_by_op[op.id]:
            reason = qualify(op, cap, resource)
            if reason:
                step.excluded.append(Excluded(resource, site, reason))
                continue
            minutes = duration_on(op, resource)
            # The solver sees all of the resource's free time (the same for every operation
            # that may use it); the operation qualifies if some free span is long enough.
            free = free_spans.get(resource.id)
            if free is None:
                free = free_spans[resource.id] = free_minutes(
                    frame, windows[resource.id], busy[resource.id]
                )
            if not any(b - a >= minutes for a, b in free):
                step.excluded.append(
                    Excluded(
                        resource,
                        site,
                        f"busy: no free window long enough before {frame.horizon_end:%Y-%m-%d}",
                    )
                )
                continue
            step.candidates.append(
                Candidate(resource, cap, site, minutes, weights[resource.organization_id], free)
            )
        steps.append(step)
    return steps


def _all_resources(rows_by_op: dict[int, list[tuple[Resource, Any, Site]]]) -> list[Resource]:
    return [r for rows in rows_by_op.values() for r, _, _ in rows]


def _unplaceable(order: Order, steps: list[StepCandidates]) -> None:
    for step in steps:
        if not step.candidates:
            op = step.operation
            reasons = sorted({e.reason for e in step.excluded}) or [
                f"no resource offers {op.capability_code}"
            ]
            raise Conflict(
                f"operation {op.seq} of order {order.id} ({op.capability_code}) cannot be placed "
                f"in the next {QUOTE_HORIZON_DAYS} days: {'; '.join(reasons)}",
                operation_seq=op.seq,
            )


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
class Priced:
    """A solved option with its slots, price and explanation."""

    option: str
    assignments: list[Assignment]
    total: int
    breakdown: dict[str, Any]
    promised_at: datetime
    explanation: list[dict[str, Any]]
    providers: list[int]
    rows: list[Resource]
    slot_prices: dict[int, int]


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
    """Up to three priced options (fastest, cheapest, balanced) for one of the caller's orders
    (only the `options` named, when given: a buyer who wants just one solves just one).

    Plans and stores in the session's one transaction (CLI, seed, simulator). The API plans
    from a read snapshot and stores in a short write transaction of its own instead, so a
    solve never holds the database's write lock.
    """
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
    """Solve the quote options of an order (all, or those named in `options`); reads only (no
    row changes, no write lock)."""
    unknown = sorted(set(options or ()) - set(OPTIONS))
    if unknown:
        raise InvalidInput(
            f"unknown quote option {', '.join(unknown)}; choose from {', '.join(OPTIONS)}"
        )
    wanted = {k: v for k, v in OPTIONS.items() if options is None or k in options}
    order = orders.get_order(session, principal, order_id)
    writable(principal, order.organization_id, "order", order_id)
    orders.check_transition(order, OrderStatus.quoted)
    priced: list[Priced] = []
    solved: list[tuple[str, OrderProblem, tuple[Assignment, ...]]] = []
    # A burst of quotes waits in a short line, or gets 429 (see kit/gate.py), before it reads
    # the candidates: measured under load, that read costs more than the solve itself.
    with quote_gate().enter("the platform's solver is busy with other quotes"):
        now = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = max(now + timedelta(days=QUOTE_HORIZON_DAYS), order.due_at + timedelta(days=7))
        frame = Frame(t0=now, horizon_end=horizon)
        steps = collect_candidates(session, frame, order)
        _unplaceable(order, steps)
        budget = min(SOLVE_SECONDS_PER_OPTION, get_settings().max_solver_seconds / len(OPTIONS))
        for option, objective in wanted.items():
            problem = build_problem(frame, [order], [steps], objective)
            with timed("quote") as run:
                # in a solver worker process under `sharefab serve` (kit/offload.py)
                result, valid = offload.run(
                    solve_validated, problem.data, solver_params(), budget, 1, 0
                )
                run.status = result.status.value
            if not valid:
                continue  # no plan, or one the independent validator rejects: never offered
            solved.append((option, problem, tuple(sorted(result.schedule))))
    for option, problem, schedule in solved:
        offer = _price(session, option, problem, order, list(schedule))
        twin = next(
            (p for p in priced if (p.total, p.promised_at) == (offer.total, offer.promised_at)),
            None,
        )
        if twin is not None:  # the same price and date win twice: one quote, both labels
            twin.breakdown.setdefault("also_best_for", []).append(option)
            continue
        priced.append(offer)
    if not priced:
        raise Conflict(
            f"no schedule for order {order.id} fits the free capacity in the next "
            f"{QUOTE_HORIZON_DAYS} days; widen the due date or ask again later"
        )
    offers = [
        (
            p,
            [
                PlannedSlot(
                    operation_id=steps[a.operation].operation.id,
                    resource_id=p.rows[a.resource].id,
                    provider_organization_id=p.rows[a.resource].organization_id,
                    starts_at=frame.at(a.start),
                    ends_at=frame.at(a.end),
                    price_minor=p.slot_prices[a.operation],
                )
                for a in p.assignments
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


def _price(
    session: Session, option: str, problem: OrderProblem, order: Order, schedule: list[Assignment]
) -> Priced:
    """Price a plan so that the slots add up to the total the buyer pays into escrow.

    Each slot costs its machine time (setup and run, at the resource's hourly rate) plus the
    truck that brings the work to it (and, for the last step, on to the buyer's site): the
    receiving provider arranges that truck. The platform fee is taken out of each provider's
    share when the slot is paid out, so it is part of the total, not added to it.
    """
    rows = problem.resource_rows
    steps = problem.steps[0]
    by_op = {a.operation: a for a in schedule}
    position = {step.operation.seq: k for k, step in enumerate(steps)}
    site_of = {r.id: c.site for r, c in zip(rows, problem.resources, strict=True) if c}
    machine: dict[int, int] = defaultdict(int)
    setup_total = transport_total = 0
    slot_prices: dict[int, int] = {}
    for k, a in by_op.items():
        resource, op = rows[a.resource], steps[k].operation
        setup = machine_price(op.setup_minutes, resource.hourly_rate_minor)
        run = machine_price(a.end - a.start, resource.hourly_rate_minor) - setup
        inbound = sum(
            problem.site_graph.cost(
                site_of[rows[by_op[position[p]].resource].id], site_of[resource.id]
            )
            for p in op.predecessors
            if p in position
        )
        machine[resource.organization_id] += run
        setup_total += setup
        transport_total += inbound
        slot_prices[k] = setup + run + inbound
    last = max(schedule, key=lambda a: a.end)
    delivery_minutes = 0
    home = session.get(Site, order.delivery_site_id) if order.delivery_site_id else None
    if home is not None:
        origin = site_of[rows[last.resource].id]
        delivery = problem.site_graph.cost(origin, home)
        delivery_minutes = problem.site_graph.minutes(origin, home)
        slot_prices[last.operation] += delivery
        transport_total += delivery
    total = sum(slot_prices.values())
    fee = sum(ledger.fee_for(v, ledger.PLATFORM_FEE_BPS) for v in slot_prices.values())
    providers = sorted({rows[a.resource].organization_id for a in schedule})
    names = {org: identity.organization_name(session, org) for org in providers}
    breakdown = {
        "machine_time": [
            {"provider_id": org, "provider": names[org], "amount_minor": amount}
            for org, amount in sorted(machine.items())
        ],
        "setup_minor": setup_total,
        "transport_minor": transport_total,
        "platform_fee_minor": fee,
        "platform_fee_included": True,
        "total_minor": total,
    }
    return Priced(
        option=option,
        assignments=schedule,
        total=total,
        breakdown=breakdown,
        promised_at=problem.frame.at(last.end + delivery_minutes),
        explanation=_explain(problem, schedule),
        providers=providers,
        rows=rows,
        slot_prices=slot_prices,
    )


def _explain(problem: OrderProblem, schedule: list[Assignment]) -> list[dict[str, Any]]:
    """Per operation: eligible resources, the chosen one, and why the others were not chosen.

    Resources of providers not chosen are described without their identity (class, city,
    distance to the chosen one, rate), so a quote leaks nothing about other providers.
    """
    rows = problem.resource_rows
    out = []
    for k, step in enumerate(problem.steps[0]):
        a = next(x for x in schedule if x.operation == k)
        chosen = next(c for c in step.candidates if c.resource.id == rows[a.resource].id)
        others = []
        for c in step.candidates:
            if c is chosen:
                continue
            reasons = []
            if c.minutes > chosen.minutes:
                reasons.append(f"too slow ({c.minutes} min against {chosen.minutes})")
            if c.resource.hourly_rate_minor > chosen.resource.hourly_rate_minor:
                reasons.append("too expensive")
            dist = problem.site_graph.minutes(chosen.site, c.site)
            if dist > 0 and c.site.id != chosen.site.id:
                reasons.append(f"too far ({dist} min by truck from the chosen site)")
            if c.weight < chosen.weight:
                reasons.append("lower credit score")
            if not reasons:
                reasons.append("busy when needed")
            others.append(_anonymous(c.resource, c.site, reasons))
        for e in step.excluded:
            others.append(_anonymous(e.resource, e.site, [e.reason]))
        out.append(
            {
                "operation_seq": step.operation.seq,
                "capability": step.operation.capability_code,
                "eligible": len(step.candidates),
                "chosen": {
                    "resource_id": chosen.resource.id,
                    "resource": chosen.resource.name,
                    "resource_class": chosen.resource.resource_class,
                    "provider_id": chosen.resource.organization_id,
                    "city": chosen.site.city,
                    "minutes": chosen.minutes,
                    "hourly_rate_minor": chosen.resource.hourly_rate_minor,
                },
                "not_chosen": others,
            }
        )
    return out


def _anonymous(resource: Resource, site: Site, reasons: list[str]) -> dict[str, Any]:
    return {
        "resource_class": resource.resource_class,
        "city": site.city,
        "hourly_rate_minor": resource.hourly_rate_minor,
        "reasons": reasons,
    }


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
        inside = any(w[0] <= span[0] and span[1] <= w[1] for w in windows[slot.resource_id])
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
