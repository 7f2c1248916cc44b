"""Replanning and re-optimisation: new places for bookings not started, on the live plan.

Both run the rolling planner (``optimize.rolling``) over the live plan (``market/live.py``):

- ``replan(session, seeds, reason)``: a disruption (a breakdown, a rework, a late start) hit
  ``seeds``; they and the later steps of their orders get new places, everything else stays
  (minimal change). Called inside the transaction that records the disruption; ``unavailable``
  names time that transaction took and the live plan cannot see yet.
- ``pull(session, resource, at)``: a machine fell free; ready work booked later on
  other machines moves onto it when it would end sooner there, and the finished order's next
  steps come forward (the same re-planner, with these few bookings as its seeds).
- ``reoptimise(...)``: every booking not started is re-placed so that as many orders as possible
  keep their promised date, then as few are late against their due date (orders that can no
  longer be on time go last), preferring to leave a booking where it is when that costs no time.
  It runs on a snapshot and is applied in one short transaction only if it is better than the
  plan as it stands (promises broken, then weighted lateness) and nothing it moves changed
  meanwhile (a step that started, a booking another replan moved: nothing is applied, retry).

A booking moves in place when it stays with its provider; ``moved_from_*``, ``moved_reason`` and
``moved_at`` say where it came from and why, for the provider's work orders and the buyer's
order page. Work that goes to another provider is cancelled for the old one (with the reason)
and booked anew for the new one (same price and quote, ``moved_from_*`` set). An order whose
delivery now falls after its promised date gets the new date, and the report names it and the
reason.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from sharefab.kit.errors import LostRace
from sharefab.kit.settings import get_settings
from sharefab.kit.timespan import Span
from sharefab.kit.types import utcnow
from sharefab.market import repository
from sharefab.market.changes import after_commit, mark_changed
from sharefab.market.live import (
    LivePlan,
    ResourceInfo,
    duration_on,
    live_plan,
    minute_down,
    minute_up,
    moment,
    qualify,
)
from sharefab.market.models import Booking, BookingStatus
from sharefab.optimize.cluster.lns import TaskPool
from sharefab.optimize.cluster.params import WorkLimit
from sharefab.optimize.live import Copies, Network, Step
from sharefab.optimize.polish import POLISH_WORK, polish
from sharefab.optimize.rolling import (
    STICK_MINUTES,
    STICK_SITE,
    Pending,
    Replanned,
    best_of_passes,
    repair,
    retime,
)
from sharefab.orders.models import Operation, Order

# A move of a booking by less than this (same resource) is not worth telling its provider.
NOTICEABLE = timedelta(minutes=60)
REOPTIMISE_ROUNDS = 3
# idle pull: a machine counts as fallen free when it has STICK_MINUTES free within this many
# minutes; this many bookings (the next to start) are looked at for work to bring onto it
PULL_IDLE_WITHIN = 60
PULL_CANDIDATES = 100


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
    values: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "moved": [m.__dict__ for m in self.moves],
            "promised_dates_changed": self.promises,
            "unplaced": self.unplaced,
            **({"objective": self.values} if self.values else {}),
        }


def affected_closure(session: Session, seeds: list[Booking]) -> dict[int, list[Booking]]:
    """Per order: the seed bookings and every later not-started booking of the same order."""
    out: dict[int, list[Booking]] = defaultdict(list)
    seen: set[int] = set()
    for seed in seeds:
        for b in repository.bookings_of_order(session, seed.order_id):
            if b.id in seen or b.status != BookingStatus.committed:
                continue
            if b.id == seed.id or b.starts_at >= seed.starts_at:
                out[b.order_id].append(b)
                seen.add(b.id)
    return out


@dataclass
class Snapshot:
    """What a replan read: the orders, their moving bookings and the problem built from them."""

    now: int
    orders: dict[int, Any]  # the order's id, release, due and promised dates, weight, site
    moving: dict[int, list[Booking]]  # per order, in routing order
    pending: list[Pending]
    current: dict[int, list[tuple[int, int, int]]]  # per order: live index, start, end
    unplaced: list[dict[str, Any]]
    live: LivePlan
    seen: dict[int, tuple[BookingStatus, int, datetime]]  # booking id -> as read


_ORDER_COLUMNS = select(
    Order.id,
    Order.release_at,
    Order.due_at,
    Order.promised_at,
    Order.weight,
    Order.delivery_site_id,
)
_OPERATION_COLUMNS = select(
    Operation.id,
    Operation.order_id,
    Operation.seq,
    Operation.predecessors,
    Operation.interruptible,
    Operation.capability_code,
    Operation.material,
    Operation.certifications,
    Operation.quantity,
    Operation.setup_minutes,
    Operation.unit_seconds,
    Operation.class_unit_seconds,
)
_BOOKING_ENDS = select(
    Booking.id,
    Booking.order_id,
    Booking.operation_id,
    Booking.resource_id,
    Booking.starts_at,
    Booking.ends_at,
    Booking.completed_at,
)


def _held(session: Session, model: type[Any], row: Any) -> Any:
    """The session's object of ``row`` when it holds one, else the row."""
    held = session.identity_map.get(identity_key(model, row.id))
    return row if held is None else held


def _snapshot(
    session: Session,
    live: LivePlan,
    groups: dict[int, list[Booking]],
    now: datetime,
) -> Snapshot:
    t_now = minute_up(now)
    orders: dict[int, Any] = {}
    moving: dict[int, list[Booking]] = {}
    pending: list[Pending] = []
    current: dict[int, list[tuple[int, int, int]]] = {}
    unplaced: list[dict[str, Any]] = []
    order_ids = sorted(groups)
    # plain rows, not ORM objects: a re-optimisation reads every order with work not started;
    # a row whose object this session holds is read from the object (it may hold changes not
    # flushed yet, as an ORM query would have kept them)
    rows = {
        o.id: _held(session, Order, o)
        for o in session.execute(_ORDER_COLUMNS.where(Order.id.in_(order_ids)))
    }
    operations: dict[int, list[Any]] = defaultdict(list)
    for step in session.execute(_OPERATION_COLUMNS.where(Operation.order_id.in_(order_ids))):
        operations[step.order_id].append(step)
    others: dict[int, list[Any]] = defaultdict(list)
    for row in session.execute(
        _BOOKING_ENDS.where(
            Booking.order_id.in_(order_ids), Booking.status != BookingStatus.cancelled
        ).order_by(Booking.starts_at, Booking.id)
    ):
        others[row.order_id].append(_held(session, Booking, row))
    for order_id, bookings in sorted(groups.items()):
        order = rows[order_id]
        ops = {op.id: op for op in operations[order_id]}
        seq_of = {op.id: op.seq for op in ops.values()}
        mine = sorted(bookings, key=lambda b: seq_of[b.operation_id])
        ids = {b.id for b in mine}
        position = {seq_of[b.operation_id]: k for k, b in enumerate(mine)}
        fixed = {seq_of[b.operation_id]: b for b in others[order_id] if b.id not in ids}
        steps: list[Step] = []
        slots: list[tuple[int, int, int]] = []
        ok = True
        for b in mine:
            op = ops[b.operation_id]
            modes, reasons = live.modes(op)
            if not modes:
                ok = False
                unplaced.append(
                    {
                        "order_id": order_id,
                        "operation_seq": op.seq,
                        "reason": "; ".join(sorted(set(reasons))) or "no resource can take it",
                    }
                )
                continue
            preds = tuple(position[p] for p in op.predecessors if p in position)
            after = []
            for p in op.predecessors:
                f = fixed.get(p)
                if f is not None and p not in position:
                    k = live.index.get(f.resource_id)
                    if k is not None and live.resources[k] is not None:
                        site = live.site_index[live.resources[k].site_id]  # type: ignore[union-attr]
                        after.append((site, minute_up(f.completed_at or f.ends_at)))
            steps.append(Step(tuple(modes), preds, op.interruptible, tuple(after)))
            k = live.index.get(b.resource_id, -1)
            slots.append((k, minute_down(b.starts_at), minute_up(b.ends_at)))
        if not ok:
            continue
        ship_to = live.site_of(session, order.delivery_site_id) if order.delivery_site_id else -1
        floor = 0
        succ = {p for op in ops.values() for p in op.predecessors}
        for seq, f in fixed.items():
            if seq in succ:
                continue
            k = live.index.get(f.resource_id)
            if k is None or live.resources[k] is None:
                continue
            site = live.site_index[live.resources[k].site_id]  # type: ignore[union-attr]
            truck = live.truck_minutes[site][ship_to] if ship_to >= 0 else 0
            floor = max(floor, minute_up(f.completed_at or f.ends_at) + truck)
        deadline = order.promised_at or order.due_at
        pending.append(
            Pending(
                key=order_id,
                steps=steps,
                release=max(t_now, minute_up(order.release_at)),
                ship_to=ship_to,
                deadline=minute_up(deadline),
                due=minute_up(order.due_at),
                weight=order.weight,
                floor=floor,
                given_up=order_id in live.given_up,
            )
        )
        orders[order_id] = order
        moving[order_id] = mine
        current[order_id] = slots
    seen = {b.id: (b.status, b.resource_id, b.starts_at) for bs in moving.values() for b in bs}
    return Snapshot(t_now, orders, moving, pending, current, unplaced, live, seen)


def _timelines(
    snap: Snapshot,
    unavailable: dict[int, list[Span]] | None,
    freed: dict[int, list[Span]] | None = None,
) -> Copies:
    live = snap.live
    give: list[tuple[int, int, int]] = []
    for rid, spans in (freed or {}).items():
        k = live.index.get(rid)
        if k is not None:
            give.extend((k, minute_down(s), minute_up(e)) for s, e in spans)
    for bookings in snap.moving.values():
        for b in bookings:
            k = live.index.get(b.resource_id)
            span = live.busy[k].get(("b", b.id)) if k is not None else None
            if k is not None and span is not None:
                give.append((k, *span))
    timelines = live.copy_timelines(give)
    for rid, spans in (unavailable or {}).items():
        k = live.index.get(rid)
        if k is not None:
            for s, e in spans:
                timelines[k].take(minute_down(s), minute_up(e))
    return timelines


def _apply(
    session: Session,
    snap: Snapshot,
    result: Replanned,
    reason: str,
    report: ReplanReport,
) -> None:
    """Write the new places in this transaction. Every moving booking is locked and compared
    with what the snapshot read: if another change moved or started one meanwhile, nothing is
    written (``LostRace``, retry)."""
    live = snap.live
    if session.get_bind().dialect.name == "postgresql":
        # bookings move in place, in any order: overlaps are checked when the transaction ends
        # (from here on: the caller's pending change, e.g. an early start's new span, may
        # overlap a booking this replan is about to move away)
        session.execute(text("SET CONSTRAINTS ex_bookings_no_overlap DEFERRED"))
    session.flush()
    rows = {
        b.id: b
        for b in session.scalars(
            select(Booking)
            .where(Booking.id.in_(sorted(snap.seen)))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    for bid, seen in snap.seen.items():
        row = rows.get(bid)
        if row is None or (row.status, row.resource_id, row.starts_at) != seen:
            raise LostRace(
                f"work order {bid} changed while re-planning ({reason}); nothing was moved, "
                "run it again"
            )
    at = utcnow()
    why = reason[:300]
    created: list[tuple[Move, Booking]] = []
    # in-place moves, written as one executemany per kind of change (a re-optimisation moves
    # thousands of bookings); the session's copies are expired after
    timed: list[dict[str, Any]] = []
    noticed: list[dict[str, Any]] = []
    cancelled: list[dict[str, Any]] = []
    for order_id, slots in result.slots.items():
        for b, (k, start, end) in zip(snap.moving[order_id], slots, strict=True):
            row = rows[b.id]
            info = live.resources[k]
            assert info is not None
            starts_at, ends_at = moment(start), moment(end)
            if (row.resource_id, row.starts_at, row.ends_at) == (info.id, starts_at, ends_at):
                continue
            noticeable = row.resource_id != info.id or abs(row.starts_at - starts_at) >= NOTICEABLE
            move = Move(
                old_booking_id=row.id,
                new_booking_id=row.id,
                order_id=order_id,
                operation_id=row.operation_id,
                from_resource_id=row.resource_id,
                to_resource_id=info.id,
                starts_at=starts_at,
                ends_at=ends_at,
                other_provider=info.organization_id != row.provider_organization_id,
            )
            values: dict[str, Any] = {
                "id": row.id,
                "resource_id": info.id,
                "starts_at": starts_at,
                "ends_at": ends_at,
            }
            if move.other_provider:
                # the old provider keeps its work order, cancelled with the reason; the new
                # one gets a booking of its own (same price, same quote)
                cancelled.append(
                    {
                        "id": row.id,
                        "status": BookingStatus.cancelled,
                        "moved_reason": why,
                        "moved_at": at,
                    }
                )
                new = Booking(
                    plan_id=row.plan_id,
                    order_id=row.order_id,
                    operation_id=row.operation_id,
                    resource_id=info.id,
                    provider_organization_id=info.organization_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    promised_end=row.promised_end,
                    status=BookingStatus.committed,
                    price_minor=row.price_minor,
                    quote_id=row.quote_id,
                    moved_from_resource_id=row.resource_id,
                    moved_from_starts_at=row.starts_at,
                    moved_reason=why,
                    moved_at=at,
                )
                created.append((move, new))
                report.moves.append(move)
            elif noticeable:
                values |= {
                    "moved_from_resource_id": row.resource_id,
                    "moved_from_starts_at": row.starts_at,
                    "moved_reason": why,
                    "moved_at": at,
                }
                noticed.append(values)
                report.moves.append(move)
            else:
                timed.append(values)
            mark_changed(session, (row.resource_id, info.id), calendar=False)
    for batch in (cancelled, timed, noticed):
        if batch:  # cancellations first: their slots are free before anything moves in
            session.execute(update(Booking), batch)
    for values in (*cancelled, *timed, *noticed):
        session.expire(rows[values["id"]])
    session.add_all([new for _, new in created])
    for order_id, delivery in result.delivery.items():
        promised = snap.orders[order_id].promised_at
        new_end = moment(delivery)
        if promised is not None and new_end > promised:
            order = session.get(Order, order_id)
            assert order is not None
            order.promised_at = new_end
            report.promises.append(
                {
                    "order_id": order_id,
                    "old_promised_at": promised.isoformat(),
                    "new_promised_at": new_end.isoformat(),
                    "reason": reason,
                }
            )
    # the orders now given up, remembered by this process's live plan once this commits
    after_commit(session, lambda: live.give_up(set(snap.orders), result.given_up))
    session.flush()
    for move, row in created:
        move.new_booking_id = row.id


def replan(
    session: Session,
    seeds: list[Booking],
    reason: str,
    earliest: datetime | None = None,
    unavailable: dict[int, list[Span]] | None = None,
    freed: dict[int, list[Span]] | None = None,
    **_: Any,
) -> ReplanReport:
    """Re-place `seeds` (and the later steps of their orders) without moving anything else.
    They stay where they are, only re-timed, unless placing them again gives a better plan
    or, as good, delivers sooner (``optimize.rolling.repair``).

    `unavailable` adds spans resources cannot be used (written in this transaction, not yet in
    the live plan); `freed` spans this transaction gave back (a step that finished early)."""
    report = ReplanReport(reason=reason)
    with session.no_autoflush:
        groups = affected_closure(session, seeds)
        if not groups:
            return report
        live = live_plan(session)
        with live.lock:
            snap = _snapshot(session, live, groups, earliest or utcnow())
            report.unplaced = snap.unplaced
            if not snap.pending:
                return report
            result = repair(
                _timelines(snap, unavailable, freed),
                live.network(),
                snap.pending,
                snap.now,
                snap.current,
                share=get_settings().replan_slack_share,
            )
            _unplaced(result, report)
            _apply(session, snap, result, reason, report)
    return report


def pull(
    session: Session,
    resource_id: int,
    at: datetime,
    finished: Booking | None = None,
    freed: Span | None = None,
) -> ReplanReport:
    """Resource `resource_id` fell free at `at` (`finished` ended then; `freed` is the time it
    gave back by ending early, not yet in the live plan): ready work waiting for its booked
    time on other machines moves onto it when it would end sooner here, and the next steps of
    `finished`'s order are placed again from now (those booked before now, because it ended
    late, and those booked ``STICK_MINUTES`` or more later).

    The candidates are the committed bookings of capabilities this resource offers whose inputs
    are all done, booked on another machine to start later; of those that would end at least
    ``STICK_MINUTES`` sooner here (``STICK_SITE`` times that from another site), the one whose
    order is due first goes to the re-planner (``replan``) with the next steps, which places
    them (minimal change: nothing else moves). Nothing is pulled when this resource's own next
    booking is ready: its provider starts that early instead. Best effort: a re-plan that loses
    a race with another change leaves everything as it was."""
    report = ReplanReport(reason="idle pull")
    if not get_settings().idle_pull:
        return report
    seeds: dict[int, Booking] = {}
    if finished is not None:
        # a next step booked to start a little later cannot gain enough to move; one booked
        # to start before now (its input finished late) is placed again from now
        soon = at + timedelta(minutes=STICK_MINUTES)
        seeds.update(
            (b.id, b)
            for b in _ready_next(session, finished)
            if b.starts_at < at or b.starts_at >= soon
        )
    live = live_plan(session)
    k = live.index.get(resource_id)
    info = live.resources[k] if k is not None else None
    if k is None or info is None:
        return report
    if info.is_active:
        with live.lock:
            timeline = live.timelines[k].copy()
            if freed is not None:
                timeline.give(minute_down(freed[0]), minute_up(freed[1]))
            t = minute_up(at)
            idle_from, _ = timeline.place(t, STICK_MINUTES, False)
            if idle_from < t + PULL_IDLE_WITHIN:
                best = _pull_candidate(session, live, k, timeline, at)
                if best is not None:
                    seeds[best.id] = best
    if not seeds:
        return report
    why = f"resource {info.id} fell free at {at:%Y-%m-%d %H:%M}: ready work brought forward"
    try:
        with session.begin_nested():
            return replan(
                session,
                list(seeds.values()),
                why,
                at,
                freed={resource_id: [freed]} if freed is not None else None,
            )
    except (LostRace, OperationalError):
        return report  # another change got there first: the plan stays as it was


def _ready_next(session: Session, finished: Booking) -> list[Booking]:
    """The committed bookings of `finished`'s order whose inputs are now all done."""
    rows = session.execute(
        select(Booking, Operation)
        .join(Operation, Operation.id == Booking.operation_id)
        .where(Booking.order_id == finished.order_id, Booking.status != BookingStatus.cancelled)
    ).all()
    done = {op.seq for b, op in rows if b.status == BookingStatus.done or b.id == finished.id}
    return [
        b
        for b, op in rows
        if b.status == BookingStatus.committed
        and op.predecessors
        and all(p in done for p in op.predecessors)
    ]


def _inputs(
    session: Session, order_ids: list[int]
) -> dict[tuple[int, int], tuple[BookingStatus, int, datetime]]:
    """Per (order, operation seq): the booking's status, resource and when it ended (or will)."""
    rows = session.execute(
        select(
            Booking.order_id,
            Operation.seq,
            Booking.status,
            Booking.resource_id,
            func.coalesce(Booking.completed_at, Booking.ends_at),
        )
        .join(Operation, Operation.id == Booking.operation_id)
        .where(Booking.order_id.in_(order_ids), Booking.status != BookingStatus.cancelled)
    )
    return {(o, seq): (status, rid, ended) for o, seq, status, rid, ended in rows}


def _resource(live: LivePlan, resource_id: int) -> ResourceInfo | None:
    k = live.index.get(resource_id)
    return live.resources[k] if k is not None else None


def _pull_candidate(
    session: Session, live: LivePlan, k: int, timeline: Any, at: datetime
) -> Booking | None:
    """The booking to bring onto resource `k` (see ``pull``), or None."""
    info = live.resources[k]
    assert info is not None
    # the machine's own next booking, when its inputs are done, starts early there instead
    own = session.execute(
        select(Booking.order_id, Operation.predecessors)
        .join(Operation, Operation.id == Booking.operation_id)
        .where(Booking.status == BookingStatus.committed, Booking.resource_id == info.id)
        .order_by(Booking.starts_at, Booking.id)
        .limit(1)
    ).first()
    if own is not None:
        done = _inputs(session, [own.order_id])
        if all(
            done.get((own.order_id, p), (None,))[0] == BookingStatus.done for p in own.predecessors
        ):
            return None
    codes = sorted({c.code for c in info.capabilities})
    # plain rows (up to PULL_CANDIDATES of them at every completion); only the one chosen is
    # loaded as a booking
    rows = session.execute(
        select(Booking.id.label("booking_id"), Booking.resource_id, Booking.ends_at)
        .add_columns(*_OPERATION_COLUMNS.selected_columns)
        .join(Operation, Operation.id == Booking.operation_id)
        .where(
            Booking.status == BookingStatus.committed,
            Booking.resource_id != info.id,
            Booking.starts_at >= at + timedelta(minutes=STICK_MINUTES),
            # wrapped so that SQLite walks the few committed bookings by start (their status
            # index) and stops at the limit, rather than every operation ever ordered with
            # these capabilities (their index): 2 ms against 50 ms after six simulated weeks
            func.coalesce(Operation.capability_code, "").in_(codes),
        )
        .order_by(Booking.starts_at, Booking.id)
        .limit(PULL_CANDIDATES)
    ).all()
    if not rows:
        return None
    order_ids = sorted({row.order_id for row in rows})
    inputs = _inputs(session, order_ids)
    dates = {
        i: (due_at, release_at)
        for i, due_at, release_at in session.execute(
            select(Order.id, Order.due_at, Order.release_at).where(Order.id.in_(order_ids))
        )
    }
    here = live.site_index[info.site_id]
    t = minute_up(at)
    best: tuple[datetime, int, int] | None = None
    for row in rows:  # a committed booking with its operation's columns
        if qualify(row, info) is not None:
            continue
        due, release = dates[row.order_id]
        ready = max(t, minute_up(release))
        for p in row.predecessors:
            got = inputs.get((row.order_id, p))
            if got is None or got[0] != BookingStatus.done:
                break
            src = _resource(live, got[1])
            truck = live.truck_minutes[live.site_index[src.site_id]][here] if src else 0
            ready = max(ready, minute_up(got[2]) + truck)
        else:
            _, end = timeline.place(ready, duration_on(row, info), row.interruptible)
            now_on = _resource(live, row.resource_id)
            same_site = now_on is not None and now_on.site_id == info.site_id
            gain = minute_up(row.ends_at) - end
            if gain < STICK_MINUTES * (1 if same_site else STICK_SITE):
                continue
            key = (due, -gain, row.booking_id)
            if best is None or key < best:
                best = key
    return None if best is None else session.get(Booking, best[2])


def _unplaced(result: Replanned, report: ReplanReport) -> None:
    for order_id in result.unplaced:
        report.unplaced.append(
            {"order_id": order_id, "reason": "no capacity window left fits a step; kept as is"}
        )


def _values(values: tuple[int, int, int]) -> dict[str, Any]:
    return {
        "weighted_orders_late": values[0],
        "weighted_promises_broken": values[1],
        "weighted_lateness_h": round(values[2] / 60, 1),
    }


def _searching(best: Replanned, search: bool | None) -> bool:
    """Whether the search runs after the list-scheduling passes: asked for (`search`, else
    the `reoptimise_search` setting) and orders are still late."""
    wanted = get_settings().reoptimise_search > 0 if search is None else search
    return wanted and best.values[0] > 0


def _search(
    snap: Snapshot,
    timelines: Copies,
    network: Network,
    best: Replanned,
    pool: TaskPool | None,
    started: float,
    time_limit: float | None,
    progress: Callable[[float, str, dict[str, Any] | None], None] | None,
) -> Replanned | None:
    """The cluster planner's search from `best` when orders are still late in it: a
    deterministic number of neighbourhoods, or what is left of `time_limit` (None when there
    is no time left)."""
    settings = get_settings()
    work: WorkLimit | None = None
    seconds = 0.0
    if time_limit is None or settings.solver_deterministic_time is not None:
        count = settings.reoptimise_search or POLISH_WORK.neighbourhoods
        work = replace(POLISH_WORK, neighbourhoods=count)
    else:
        seconds = started + time_limit - time.perf_counter()
        if seconds < 0.2:
            return None
    if progress:
        progress(0.5, "searching (cluster planner, from the best plan so far)", None)

    def improved(at: float, values: tuple[int, int]) -> None:
        if progress:
            progress(0.5, f"search: weighted tardiness {values[0]} min", None)

    return polish(
        timelines,
        network,
        snap.pending,
        snap.now,
        best,
        pool,
        work,
        seconds,
        on_improve=improved,
    )


def reoptimise(
    session: Session,
    apply_in: Callable[[], Any] | None = None,
    progress: Callable[[float, str, dict[str, Any] | None], None] | None = None,
    rounds: int = REOPTIMISE_ROUNDS,
    time_limit: float | None = None,
    pool: TaskPool | None = None,
    search: bool | None = None,
) -> ReplanReport:
    """Re-place every booking not yet started (see the module docstring).

    Reads and plans in `session`; writes in `session` too, or, when `apply_in` is given, in the
    transaction that context manager opens (a job's final transaction; every moving booking
    is re-checked there). `progress(fraction, message, best)` hears how far it got (a job's
    may raise to cancel it). `time_limit` seconds end the give-up rounds early and bound the
    search after them (None: count rounds and neighbourhoods only, the same plan on any
    machine). The search (``optimize.polish``: the cluster planner's LNS from the best plan
    found so far), when `search` (None: the `reoptimise_search` setting) and orders are still
    late, runs on `pool` (an engine of ``sharefab.engine``; None: in this process).
    """
    started = time.perf_counter()
    now = utcnow()
    reason = "re-optimisation of bookings not yet started"
    pending_rows = repository.committed(session)
    if not pending_rows:
        return ReplanReport(reason="re-optimisation: nothing to move")
    groups: dict[int, list[Booking]] = defaultdict(list)
    for b in pending_rows:
        groups[b.order_id].append(b)
    live = live_plan(session)
    report = ReplanReport(reason=reason)
    with live.lock:
        snap = _snapshot(session, live, dict(groups), now)
        report.unplaced = snap.unplaced
        if progress:
            progress(0.2, f"{sum(len(b) for b in snap.moving.values())} bookings read", None)
        kept = retime(_timelines(snap, None), live.network(), snap.pending, snap.now, snap.current)
        if progress:
            progress(0.3, "the current plan re-timed", _values(kept.values))
        deadline = None if time_limit is None else started + time_limit
        result = best_of_passes(
            _timelines(snap, None),
            live.network(),
            snap.pending,
            snap.now,
            kept,
            rounds,
            share=get_settings().replan_slack_share,
            stay=snap.current,
            deadline=deadline,
        )
        ran = taken = False
        if _searching(result, search):
            timelines, network = _timelines(snap, None), live.network()
    if _searching(result, search):
        # on copies, outside the lock: quotes in this process go on meanwhile (what changes
        # meanwhile is re-checked where the result is written)
        searched = _search(snap, timelines, network, result, pool, started, time_limit, progress)
        ran = searched is not None
        # taken for fewer orders late or promises broken, not for minutes alone: the search
        # moves much of the plan, and providers feel every move
        if searched is not None and searched.values[:2] < result.values[:2]:
            result, taken = searched, True
    with live.lock:
        report.values = {"before": _values(kept.values), "after": _values(result.values)}
        report.values["search"] = {"ran": ran, "taken": taken}
        if progress:
            progress(0.8, "planned", report.values["after"])
        report.values["applied"] = result.values < kept.values
        if not report.values["applied"]:
            # no better assignment: the current one, with its times brought up to date
            result = kept
            reason = "re-timing of bookings not yet started"
        _unplaced(result, report)
        if apply_in is None:
            _apply(session, snap, result, reason, report)
        else:
            with apply_in() as writer:
                _apply(writer, snap, result, reason, report)
    return report
