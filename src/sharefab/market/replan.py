"""Replanning: move the bookings a disruption touched, leave everything else where it is.

Given bookings that can no longer happen as planned (a breakdown, a rework, a late start),
the affected set grows to the later steps of the same orders. Those are re-placed with the
solver; every other booking stays fixed (minimal change). The objective is lexicographic:
first keep promised dates (weighted tardiness against each order's promise), then cost, where
staying on the same resource is cheapest, another resource of the same provider dearer, and
another provider dearest: work moves to another provider only when that is the only way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.kit import offload
from sharefab.kit.errors import Conflict, LostRace
from sharefab.kit.timespan import Span
from sharefab.kit.types import utcnow
from sharefab.market import repository
from sharefab.market.models import Booking, BookingStatus
from sharefab.market.planning import (
    Frame,
    OrderProblem,
    StepCandidates,
    build_problem,
    solver_params,
)
from sharefab.optimize.data import Objective, ObjectiveTerm
from sharefab.optimize.result import Assignment
from sharefab.optimize.solve import solve_validated
from sharefab.optimize.validate import objective_values, validate
from sharefab.orders.models import Order

REPLAN_SECONDS = 5.0
SAME_PROVIDER_PENALTY = 3
OTHER_PROVIDER_PENALTY = 10
# A re-optimisation may move work wherever it is cheaper; the small penalties only keep
# bookings in place when moving them gains (almost) nothing.
REOPTIMISE_PENALTIES = (1.05, 1.15)
OBJECTIVE = Objective(
    lexicographic=(ObjectiveTerm.WEIGHTED_TARDINESS, ObjectiveTerm.COST),
    weights=((ObjectiveTerm.WEIGHTED_TARDINESS, 1), (ObjectiveTerm.COST, 1)),
)


@dataclass
class Move:
    """One booking moved by a replan."""

    old_booking_id: int
    new_booking_id: int
    order_id: int
    operation_id: int
    from_resource_id: int
    to_resource_id: int
    starts_at: datetime
    ends_at: datetime
    other_provider: bool


@dataclass
class ReplanReport:
    """What a replan changed and why."""

    reason: str
    moves: list[Move] = field(default_factory=list)
    promises: list[dict[str, Any]] = field(default_factory=list)
    unplaced: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "moved": [m.__dict__ for m in self.moves],
            "promised_dates_changed": self.promises,
            "unplaced": self.unplaced,
        }


def affected_closure(session: Session, seeds: list[Booking]) -> dict[int, list[Booking]]:
    """Per order: the seed bookings and every later not-started booking of the same order."""
    out: dict[int, list[Booking]] = defaultdict(list)
    seen: set[int] = set()
    for seed in seeds:
        order_bookings = repository.bookings_of_order(session, seed.order_id)
        for b in order_bookings:
            movable = b.status == BookingStatus.committed
            if b.id in seen or not movable:
                continue
            if b.id == seed.id or b.starts_at >= seed.starts_at:
                out[b.order_id].append(b)
                seen.add(b.id)
    return out


def replan(
    session: Session,
    seeds: list[Booking],
    reason: str,
    earliest: datetime | None = None,
    unavailable: dict[int, list[Span]] | None = None,
    time_limit: float = REPLAN_SECONDS,
    penalties: tuple[float, float] = (SAME_PROVIDER_PENALTY, OTHER_PROVIDER_PENALTY),
    only_if_better: bool = False,
) -> ReplanReport:
    """Re-place `seeds` (and the later steps of their orders) without moving anything else.

    `unavailable` adds spans resources cannot be used (a stretched booking not yet written).
    Runs without autoflush, and cancels the old bookings before writing anything else, so the
    database never holds two live bookings over one slot, not even within the transaction.
    """
    with session.no_autoflush:
        return _replan(
            session, seeds, reason, earliest, unavailable, time_limit, penalties, only_if_better
        )


def _replan(
    session: Session,
    seeds: list[Booking],
    reason: str,
    earliest: datetime | None,
    unavailable: dict[int, list[Span]] | None,
    time_limit: float,
    penalties: tuple[float, float],
    only_if_better: bool,
) -> ReplanReport:
    from sharefab.market import service as market

    report = ReplanReport(reason=reason)
    groups = affected_closure(session, seeds)
    if not groups:
        return report
    now = (earliest or utcnow()).replace(second=0, microsecond=0) + timedelta(minutes=1)
    moving_ids = frozenset(b.id for bs in groups.values() for b in bs)
    orders_list: list[Order] = []
    steps_list: list[list[StepCandidates]] = []
    originals: dict[tuple[int, int], Booking] = {}
    releases: dict[int, int] = {}
    horizon = now + timedelta(days=60)
    frame = Frame(t0=now, horizon_end=horizon)
    for order_id, bookings in sorted(groups.items()):
        order = session.get(Order, order_id)
        assert order is not None
        op_ids = {b.operation_id for b in bookings}
        all_steps = market.collect_candidates(
            session, frame, order, ignore_booking_ids=moving_ids, unavailable=unavailable
        )
        steps = [s for s in all_steps if s.operation.id in op_ids]
        kept = [
            b for b in repository.bookings_of_order(session, order_id) if b.id not in moving_ids
        ]
        release = max([now, order.release_at, *(b.ends_at for b in kept)])
        releases[order_id] = frame.minute(release)
        for b in bookings:
            originals[(order_id, b.operation_id)] = b
        for step in steps:
            original = originals[(order_id, step.operation.id)]
            for c in step.candidates:
                if c.resource.id == original.resource_id:
                    c.weight = 1.0
                elif c.resource.organization_id == original.provider_organization_id:
                    c.weight = 1.0 / penalties[0]
                else:
                    c.weight = 1.0 / penalties[1]
            if not step.candidates:
                report.unplaced.append(
                    {
                        "order_id": order_id,
                        "operation_seq": step.operation.seq,
                        "reason": "; ".join(sorted({e.reason for e in step.excluded}))
                        or "no resource can take it",
                    }
                )
        if any(not s.candidates for s in steps):
            continue
        orders_list.append(order)
        steps_list.append(steps)
    if not orders_list:
        return report
    problem = build_problem(
        frame, orders_list, steps_list, OBJECTIVE, fixed_minutes=lambda o: releases[o.id]
    )
    initial = _current_plan(problem, orders_list, steps_list, originals)
    # in a solver worker process under `sharefab serve` (kit/offload.py)
    result, valid = offload.run(
        solve_validated,
        problem.data,
        solver_params(),
        time_limit,
        1,
        0,
        initial=initial or None,
    )
    if only_if_better:
        # An optional improvement: apply it only if it beats the plan as it stands, which
        # must itself still be valid (otherwise nothing is moved and the reason is reported).
        if not initial or validate(problem.data, initial):
            report.unplaced.append(
                {"reason": "the current plan no longer fits the capacity; nothing was moved"}
            )
            return report
        current = objective_values(
            problem.data, sorted(initial, key=lambda a: (a.job, a.operation))
        )
        if not result.feasible or tuple(result.objectives) >= current:
            return report
    if not valid:
        raise Conflict(
            f"replanning after '{reason}' found no valid plan within {time_limit:.0f} s; "
            "the affected bookings are unchanged, resolve by hand or retry"
        )
    old_promises = {o.id: o.promised_at for o in orders_list}
    unchanged = {
        key
        for a in result.schedule
        if (key := (orders_list[a.job].id, steps_list[a.job][a.operation].operation.id))
        and _same(originals[key], problem.resource_rows[a.resource].id, frame, a.start, a.end)
    }
    placed = {
        (orders_list[a.job].id, steps_list[a.job][a.operation].operation.id)
        for a in result.schedule
    } - unchanged
    cancelled = [originals[k].id for k in placed]
    # Only bookings still committed: under concurrency another replan may have moved them since
    # they were read (the update waits for its row locks, then re-checks). Writing the new
    # bookings anyway would leave the order with two live bookings for one step.
    moved = session.execute(
        update(Booking)
        .where(Booking.id.in_(cancelled), Booking.status == BookingStatus.committed)
        .values(status=BookingStatus.cancelled)
        .returning(Booking.id)
        .execution_options(synchronize_session="fetch")
    ).all()
    if len(moved) != len(cancelled):
        raise LostRace(
            f"another change moved bookings of order(s) "
            f"{', '.join(str(o.id) for o in orders_list)} while replanning after '{reason}'; "
            "nothing was changed, retry"
        )
    made: list[tuple[Move, Booking]] = []
    for a in result.schedule:
        order = orders_list[a.job]
        step = steps_list[a.job][a.operation]
        if (order.id, step.operation.id) in unchanged:
            continue
        old = originals[(order.id, step.operation.id)]
        resource = problem.resource_rows[a.resource]
        new = Booking(
            plan_id=old.plan_id,
            order_id=order.id,
            operation_id=old.operation_id,
            resource_id=resource.id,
            provider_organization_id=resource.organization_id,
            starts_at=frame.at(a.start),
            ends_at=frame.at(a.end),
            promised_end=old.promised_end,
            status=BookingStatus.committed,
            price_minor=old.price_minor,
            quote_id=old.quote_id,
        )
        session.add(new)
        made.append(
            (
                Move(
                    old_booking_id=old.id,
                    new_booking_id=0,
                    order_id=order.id,
                    operation_id=old.operation_id,
                    from_resource_id=old.resource_id,
                    to_resource_id=resource.id,
                    starts_at=new.starts_at,
                    ends_at=new.ends_at,
                    other_provider=resource.organization_id != old.provider_organization_id,
                ),
                new,
            )
        )
    try:
        session.flush()
    except IntegrityError:  # a concurrent booking took the capacity this plan counted on
        raise LostRace(
            "another change booked the same capacity while replanning; nothing was changed, retry"
        ) from None
    for move, row in made:
        move.new_booking_id = row.id
        report.moves.append(move)
    for order in orders_list:
        ends = [b.ends_at for b in repository.bookings_of_order(session, order.id)]
        new_end = max(ends) if ends else order.promised_at
        promised = old_promises[order.id]
        if promised is not None and new_end is not None and new_end > promised:
            order.promised_at = new_end
            report.promises.append(
                {
                    "order_id": order.id,
                    "old_promised_at": promised.isoformat(),
                    "new_promised_at": new_end.isoformat(),
                    "reason": reason,
                }
            )
    session.flush()
    return report


def _same(b: Booking, resource_id: int, frame: Frame, start: int, end: int) -> bool:
    return (
        b.resource_id == resource_id
        and frame.minute(b.starts_at) == start
        and frame.minute(b.ends_at) == end
    )


def _current_plan(
    problem: OrderProblem,
    orders_list: list[Order],
    steps_list: list[list[StepCandidates]],
    originals: dict[tuple[int, int], Booking],
) -> list[Assignment]:
    """The bookings as they stand, as a starting solution (the solver rejects it if invalid),
    so a re-optimisation can only improve on the current plan."""
    index = {r.id: i for i, r in enumerate(problem.resource_rows)}
    out = []
    for j, (order, steps) in enumerate(zip(orders_list, steps_list, strict=True)):
        for o, step in enumerate(steps):
            b = originals[(order.id, step.operation.id)]
            if b.resource_id not in index:
                return []
            start = problem.frame.minute(b.starts_at)
            out.append(
                Assignment(j, o, index[b.resource_id], start, problem.frame.minute(b.ends_at))
            )
    return out


def reoptimise(session: Session, time_limit: float = 30.0) -> ReplanReport:
    """Re-place every booking not yet started to cut tardiness and cost, keeping promises.

    The current plan is the starting solution, so the result is never worse than it.
    """
    now = utcnow()
    pending = repository.committed_after(session, now + timedelta(minutes=15))
    if not pending:
        return ReplanReport(reason="re-optimisation: nothing to move")
    return replan(
        session,
        pending,
        "operator re-optimisation of bookings not yet started",
        now,
        time_limit=time_limit,
        penalties=REOPTIMISE_PENALTIES,
        only_if_better=True,
    )
