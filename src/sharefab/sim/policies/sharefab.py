"""`sharefab`: orders are quoted, booked and replanned by the platform's own services.

Each run gets its own SQLite database, seeded with the cluster (without its orders) by
`sharefab.seed.write_cluster`. Simulated minutes map onto datetimes from a fixed Monday, and
every service call runs inside `kit.types.clock_at(that moment)`, so the services see the
simulated time as "now". Then, as the simulation unfolds:

* an order arrives: its buyer creates it (`orders.service.create_order`), asks for a quote
  of the option it wants (`market.service.request_quotes`, placed on the platform's live plan;
  balanced unless `SimParams.buyer_picks` says otherwise) and accepts it (`accept_quote`); an
  order no quote can be made for is rejected with the service's reason;
* every `SimParams.reoptimise_every` minutes the operator's re-optimisation runs
  (`market.replan.reoptimise`: every booking not started may move, promises and due dates
  first);
* a resource is free and working: its provider starts the first booking planned on it whose
  inputs are there (`execution.service.report_event(started)`): at the booked time, or earlier
  when the machine is idle and the work fits before the next booking planned on it (the
  platform then moves the booking to now; a late start replans);
* the work ends (after its planned time times the scenario's noise): reported completed;
* a resource breaks down: its provider reports it (`report_breakdown`, which replans).

The physical world (who is busy, what is broken, how long work really takes, trucks, work that
pauses at a shift end) is the simulator's, the same as for the other policies; the plan is the
platform's. The simulator keeps what it needs of the plan in memory (each resource's committed
bookings in start order) and reads back only the resources the plan clock says changed after a
service call. Nothing here is timed: the same seed gives the same figures on any machine.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from multiprocessing.util import Finalize
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.capacity.models import Resource, Site
from sharefab.capacity.service import sync_taxonomy
from sharefab.execution import service as execution
from sharefab.execution.models import EventType
from sharefab.execution.schemas import BreakdownIn, EventIn
from sharefab.gen.cluster import GenOrder
from sharefab.identity.models import Organization, Role
from sharefab.identity.principal import Principal
from sharefab.kit.db import build_engine, unit_of_work
from sharefab.kit.errors import SharefabError
from sharefab.kit.migrate import upgrade
from sharefab.kit.types import clock_at
from sharefab.market import lifecycle, replan
from sharefab.market import service as market
from sharefab.market.changes import changed_since
from sharefab.market.models import Booking, BookingStatus
from sharefab.models import import_all_models
from sharefab.orders import service as orders
from sharefab.orders.schemas import OperationIn, OrderCreate
from sharefab.seed import write_cluster
from sharefab.sim.arrivals import Arrival, Breakdown, Scenario
from sharefab.sim.events import EventQueue
from sharefab.sim.metrics import MOVED_AWAY
from sharefab.sim.params import SimParams
from sharefab.sim.policies.dispatch import charge_inbound, deliver, pause_for_repair
from sharefab.sim.record import Execution, Fate, OrderOutcome, RunRecord
from sharefab.sim.world import World

# Minute 0 of every simulated run: a Monday, 00:00 in the cluster's time zone.
EPOCH = datetime(2030, 1, 7, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
COMPLETE, REPAIR, BREAK, ARRIVE, REOPT, TRY, DELIVERED, SETTLE = (
    "complete",
    "repair",
    "break",
    "arrive",
    "reoptimise",
    "try",
    "delivered",
    "settle",
)
PRIORITY = {COMPLETE: 1, REPAIR: 2, BREAK: 3, ARRIVE: 4, REOPT: 5, TRY: 6, DELIVERED: 7, SETTLE: 8}
# With `settle`, a buyer closes an order (escrow settled) and rates its providers this long after
# it confirmed the delivery.
SETTLE_AFTER = 1440


_COMMITTED_ON = select(
    Booking.id, Booking.resource_id, Booking.operation_id, Booking.starts_at
).where(Booking.status == BookingStatus.committed)


def moment(minute: int, epoch: datetime = EPOCH) -> datetime:
    """The datetime of a simulated minute."""
    return epoch + timedelta(minutes=minute)


def minute_of(at: datetime, epoch: datetime = EPOCH) -> int:
    """The simulated minute of a datetime (rounded up)."""
    return -(-int((at - epoch).total_seconds()) // 60)


def _scratch() -> str | None:
    """Where the per-run databases go: memory-backed /dev/shm when there is one."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@lru_cache(maxsize=1)
def _template() -> Path:
    """A migrated database with the taxonomy loaded (made once per process, removed at exit),
    copied for each run."""
    import_all_models()
    directory = tempfile.mkdtemp(prefix="sharefab-sim-", dir=_scratch())
    # removed when this process ends, also as a worker of a process pool (no atexit there)
    Finalize(None, shutil.rmtree, args=(directory, True), exitpriority=0)
    path = Path(directory) / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    with unit_of_work(engine) as session:
        sync_taxonomy(session)
    engine.dispose()
    return path


def run_sharefab(
    world: World,
    scenario: Scenario,
    progress: Callable[[int], None] | None = None,
    params: SimParams | None = None,
) -> RunRecord:
    """Play `scenario` with the platform quoting, booking and replanning every order."""
    template = _template()
    params = params or SimParams()
    with tempfile.TemporaryDirectory(prefix="sharefab-run-", dir=_scratch()) as tmp:
        path = Path(tmp) / "run.db"
        shutil.copy(template, path)
        engine = build_engine(f"sqlite:///{path}")
        try:
            return _Run(world, scenario, engine, progress, params).run()
        finally:
            engine.dispose()


@dataclasses.dataclass
class _Work:
    """Where the running step of a resource stands (see `dispatch.pause_for_repair`)."""

    work_from: int = 0
    work_left: int = 0


@dataclasses.dataclass
class _Planned:
    """A committed booking as the simulator mirrors it."""

    id: int
    start: int
    order: int
    position: int


def order_create(
    o: GenOrder, release_at: datetime, due_at: datetime, delivery_site_id: int | None
) -> OrderCreate:
    """What the buyer of generated order `o` submits to the platform."""
    return OrderCreate(
        reference=o.reference,
        title=o.title[:200],
        product_family=o.product_family,
        material=o.material,
        quantity=o.quantity,
        release_at=release_at,
        due_at=due_at,
        weight=o.weight,
        budget_minor=o.budget_minor,
        currency=o.currency,
        delivery_site_id=delivery_site_id,
        operations=[
            OperationIn(
                seq=op.seq,
                name=op.name[:200],
                capability_code=op.capability_code,
                setup_minutes=op.setup_minutes,
                unit_seconds=op.unit_seconds,
                class_unit_seconds=dict(op.class_unit_seconds),
                predecessors=list(op.predecessors),
                material=op.material or o.material,
                interruptible=op.interruptible,
            )
            for op in o.operations
        ],
    )


class _Run:
    def __init__(
        self,
        world: World,
        scenario: Scenario,
        engine: Engine,
        progress: Callable[[int], None] | None,
        params: SimParams,
        epoch: datetime = EPOCH,
        settle: bool = False,
    ) -> None:
        self.world, self.scenario, self.engine = world, scenario, engine
        self.params = params
        self.epoch = epoch
        # buyers confirm deliveries, then close and rate (the demo's history; the simulator's
        # figures do not need it)
        self.settle = settle
        self.progress = progress
        self.record = RunRecord(policy="sharefab", seed=scenario.seed, end=world.end)
        self.events = EventQueue()
        n = len(world.cluster.resources)
        self.running: list[tuple[Execution, int] | None] = [None] * n  # execution, booking
        self.version = [0] * n  # bumps when a running step's end moves
        self.down_until = [0] * n
        self.work = [_Work() for _ in range(n)]
        self.planned: list[list[_Planned]] = [[] for _ in range(n)]  # committed, by start
        self.where: dict[tuple[int, int], int] = {}  # (order, position) -> resource planned
        self.plan_version = 0
        self.tries: set[tuple[int, int]] = set()
        self.ends: dict[int, dict[int, int]] = {}
        self.sites: dict[int, dict[int, int]] = {}
        self.started: set[int] = set()
        self.op_of: dict[int, tuple[int, int]] = {}  # operation id -> (order, position)
        self.op_id: dict[tuple[int, int], int] = {}
        self.quantity: dict[int, int] = {}  # operation id -> parts
        self.order_ids: dict[int, int] = {}  # cluster order -> order id
        self.resource_index: dict[int, int] = {}
        self._seed_database()

    # --- set-up ----------------------------------------------------------------------------

    def _seed_database(self) -> None:
        cluster = dataclasses.replace(self.world.cluster, orders=())
        with self._services(-1440) as session:
            write_cluster(session, cluster, self.epoch)
            by_name = {
                o.name: o for o in session.scalars(select(Organization).order_by(Organization.id))
            }
            site_rows = list(session.scalars(select(Site).order_by(Site.id)))
            res_rows = list(session.scalars(select(Resource).order_by(Resource.id)))
        gen = self.world.cluster
        if [r.name for r in res_rows] != [r.name for r in gen.resources] or len(site_rows) != len(
            gen.sites
        ):
            raise RuntimeError("the seeded database does not match the cluster")
        self.org_rows = [by_name[o.name] for o in gen.organizations]
        self.site_ids = [s.id for s in site_rows]
        self.resource_ids = [r.id for r in res_rows]
        self.resource_index = {rid: k for k, rid in enumerate(self.resource_ids)}
        self.principals = [
            Principal(
                organization_id=o.id,
                role=Role.admin,
                is_operator=False,
                is_provider=o.is_provider,
                is_buyer=o.is_buyer,
            )
            for o in self.org_rows
        ]
        self.operator = Principal(
            organization_id=self.org_rows[0].id,
            role=Role.admin,
            is_operator=True,
            is_provider=False,
            is_buyer=False,
        )

    @contextmanager
    def _services(self, minute: int) -> Iterator[Session]:
        """A unit of work whose services see `minute` as now; afterwards the mirrored plan
        catches up with what the call changed."""
        with clock_at(self.moment(minute)), unit_of_work(self.engine) as session:
            yield session
        self._sync()

    def _sync(self) -> None:
        """Reload the committed bookings of the resources the plan clock says changed (on a
        plain connection, in one read transaction: no session is needed to read rows)."""
        with self.engine.connect() as conn:
            version, changed = changed_since(conn, self.plan_version)
            self.plan_version = version
            ids = sorted(changed & self.resource_index.keys())
            if not ids:
                return
            rows = conn.execute(_COMMITTED_ON.where(Booking.resource_id.in_(ids))).all()
        fresh: dict[int, list[_Planned]] = {self.resource_index[rid]: [] for rid in ids}
        for bid, rid, op_id, starts in rows:
            order, pos = self.op_of[op_id]
            fresh[self.resource_index[rid]].append(
                _Planned(bid, minute_of(starts, self.epoch), order, pos)
            )
        for r, items in fresh.items():
            items.sort(key=lambda p: (p.start, p.id))
            for p in self.planned[r]:
                if self.where.get((p.order, p.position)) == r:
                    del self.where[(p.order, p.position)]
            for p in items:
                self.where[(p.order, p.position)] = r
            self.planned[r] = items
            if items:
                self._wake(r, items[0].start)

    @property
    def now(self) -> int:
        return self.events.clock.now

    def moment(self, minute: int) -> datetime:
        return moment(minute, self.epoch)

    def _at(self, time: int, kind: str, data: object = None) -> None:
        self.events.schedule(time, kind, data, PRIORITY[kind])

    def _wake(self, r: int, t: int) -> None:
        t = max(t, self.now)
        if (r, t) not in self.tries and t < self.world.end:
            self.tries.add((r, t))
            self._at(t, TRY, r)

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> RunRecord:
        for a in self.scenario.arrivals:
            if a.at < self.world.end:
                self._at(a.at, ARRIVE, a)
        for b in self.scenario.breakdowns:
            self._at(b.at, BREAK, b)
        every = self.params.reoptimise_every
        if every > 0:
            for t in range(every, self.world.end, every):
                self._at(t, REOPT)
        handlers: dict[str, Callable[[object], None]] = {
            ARRIVE: self._arrive,  # type: ignore[dict-item]
            BREAK: self._break,  # type: ignore[dict-item]
            REPAIR: self._try,  # type: ignore[dict-item]
            TRY: self._try,  # type: ignore[dict-item]
            REOPT: self._reoptimise,
            COMPLETE: self._complete,  # type: ignore[dict-item]
            DELIVERED: self._delivered,  # type: ignore[dict-item]
            SETTLE: self._settle,  # type: ignore[dict-item]
        }
        while self.events and (self.events.peek_time() or 0) < self.world.end:
            event = self.events.pop()
            times = self.record.event_times
            if self.progress and times and event.time // 1440 > times[-1] // 1440:
                self.progress(event.time)
            self.record.event_times.append(event.time)
            handlers[event.kind](event.data)
        for k, outcome in self.record.orders.items():
            if outcome.fate in (Fate.completed, Fate.rejected):
                continue
            outcome.fate = Fate.in_progress if k in self.started else Fate.waiting
        with unit_of_work(self.engine, write=False) as session:
            # a work order moved to another provider stays with the first one, cancelled
            moved_away = session.scalar(
                select(func.count())
                .select_from(Booking)
                .where(Booking.status == BookingStatus.cancelled, Booking.moved_at.is_not(None))
            )
        self.record.note(MOVED_AWAY, moved_away or 0)
        return self.record

    # --- orders ----------------------------------------------------------------------------

    def _arrive(self, a: Arrival) -> None:
        w = self.world
        o = w.cluster.orders[a.order]
        outcome = OrderOutcome(
            a.order, a.at, a.due, w.home[a.order], feasible_alone=a.feasible_alone
        )
        self.record.orders[a.order] = outcome
        buyer = self.principals[w.org_index[o.buyer_org_key]]
        data = order_create(
            o, self.moment(a.at), self.moment(a.due), self.site_ids[w.ship_to[a.order]]
        )
        position = {op.seq: k for k, op in enumerate(o.operations)}
        try:
            with self._services(self.now) as session:
                row = orders.create_order(session, buyer, data)
                self.order_ids[a.order] = row.id
                for op in row.operations:
                    self.op_of[op.id] = (a.order, position[op.seq])
                    self.op_id[(a.order, position[op.seq])] = op.id
                    self.quantity[op.id] = op.quantity
                # the buyer asks only for the option it is going to accept
                quotes = market.request_quotes(session, buyer, row.id, (self.params.buyer_picks,))
                quote, _ = market.accept_quote(session, buyer, quotes[0].id)
                outcome.promised = minute_of(quote.promised_at, self.epoch)
        except SharefabError as exc:
            outcome.fate = Fate.rejected
            outcome.reason = str(exc)
            return
        self.ends[a.order], self.sites[a.order] = {}, {}

    def _reoptimise(self, _: object) -> None:
        try:
            with self._services(self.now) as session:
                report = replan.reoptimise(session)
        except SharefabError:
            self.record.note("reoptimise_failed")
            return
        if report.values.get("applied"):
            self.record.note("reoptimised")
            self.record.note("moves", len(report.moves))

    # --- work ------------------------------------------------------------------------------

    def _ready_at(self, order: int, pos: int, r: int) -> int | None:
        """When the inputs of that step are at resource `r` (None: a predecessor is not done)."""
        w = self.world
        ends, sites = self.ends.get(order), self.sites.get(order)
        if ends is None or sites is None:
            return None
        t = self.record.orders[order].arrived
        site = w.resource_site[r]
        for p in w.preds[order][pos]:
            if p not in ends:
                return None
            t = max(t, ends[p] + w.site_minutes[sites[p]][site])
        return t

    def _try(self, r: int) -> None:
        """Resource `r` may be free: start the first booking planned on it that can start now
        (its inputs are there and it fits the window; at its booked time or earlier), else wake
        up when one could. A machine does not stand idle while work booked on it is ready: a
        step may go ahead of earlier bookings whose inputs are not there yet, and a late start
        replans what it pushes (until commit 096a35a a step went ahead only when it ended
        before the machine's next booking; see docs/simulate.md)."""
        now, w = self.now, self.world
        self.tries.discard((r, now))
        if self.running[r] is not None or self.down_until[r] > now:
            return
        window = w.window_at(r, now)
        items = self.planned[r]
        wake: list[int] = []
        waiting: int | None = None  # booked start of the first booking here still short of inputs
        for p in items:
            ready = self._ready_at(p.order, p.position, r)
            if ready is None or ready > now:
                if waiting is None:
                    waiting = p.start
                if ready is not None:
                    wake.append(ready)
                continue
            if window is None:
                break
            planned = dict(w.modes[p.order][p.position])[r]
            pausable = w.pausable[p.order][p.position]
            if not pausable and now + planned > window[1]:
                fits = w.place(p.order, p.position, r, now, planned)
                if fits is not None:
                    wake.append(fits[0])
                continue
            # early, and running past the time of a booking still short of its inputs (which
            # it then pushes): counted, as the rule before commit 5433de0 forbade it
            ahead = (
                waiting is not None
                and p.start > now
                and w.finish(p.order, p.position, r, now, planned) > waiting
            )
            if self._start(r, p, planned):
                if ahead:
                    self.record.note("started_ahead")
                return
        if items:
            wake.append(items[0].start)
        if window is None and items:
            nxt = w.calendar.span(r, now, 1)
            if nxt is not None:
                wake.append(nxt[0])
        later = [t for t in wake if t > now]
        if later:
            self._wake(r, min(later))

    def _start(self, r: int, p: _Planned, planned: int) -> bool:
        now, w = self.now, self.world
        provider = self.principals[w.resource_org[r]]
        try:
            with self._services(now) as session:
                execution.report_event(
                    session, provider, p.id, EventIn(type=EventType.started, at=self.moment(now))
                )
        except SharefabError:
            self.record.note("start_refused")
            return False
        if p.start > now:
            self.record.note("early_starts")
        actual = self.scenario.actual_minutes(p.order, p.position, planned)
        end = w.finish(p.order, p.position, r, now, actual)
        ex = Execution(p.order, p.position, r, now, end, actual, planned)
        self.record.executions.append(ex)
        charge_inbound(self.record, w, p.order, p.position, r, self.sites[p.order])
        self.running[r] = (ex, p.id)
        self.work[r].work_from, self.work[r].work_left = now, actual
        self.version[r] += 1
        self._at(ex.end, COMPLETE, (r, self.version[r]))
        self.started.add(p.order)
        items = self.planned[r]
        if p in items:
            items.remove(p)
        self.where.pop((p.order, p.position), None)
        return True

    def _complete(self, data: tuple[int, int]) -> None:
        r, version = data
        current = self.running[r]
        if current is None or version != self.version[r]:
            return
        ex, booking_id = current
        self.running[r] = None
        ex.done, ex.end = True, self.now
        w = self.world
        provider = self.principals[w.resource_org[r]]
        op_id = self.op_id[(ex.order, ex.position)]
        try:
            with self._services(self.now) as session:
                _, pulled = execution.report_event(
                    session,
                    provider,
                    booking_id,
                    EventIn(
                        type=EventType.completed,
                        quantity=self.quantity[op_id],
                        at=self.moment(self.now),
                    ),
                )
            if pulled:  # ready work brought onto the machine (or the order's next steps)
                self.record.note("pulled", len(pulled["moved"]))
        except SharefabError:
            self.record.note("complete_refused")
        ends, sites = self.ends[ex.order], self.sites[ex.order]
        ends[ex.position] = self.now
        sites[ex.position] = w.resource_site[r]
        for succ in w.succs[ex.order][ex.position]:
            q = self.where.get((ex.order, succ))
            if q is not None and all(p in ends for p in w.preds[ex.order][succ]):
                ready = self._ready_at(ex.order, succ, q)
                if ready is not None:
                    self._wake(q, ready)
        if len(ends) == len(w.modes[ex.order]):
            outcome = self.record.orders[ex.order]
            deliver(self.record, w, outcome, ends, sites)
            if self.settle and outcome.delivered is not None:
                self._at(max(self.now, outcome.delivered), DELIVERED, ex.order)
        self._try(r)

    def _buyer_of(self, order: int) -> Principal:
        return self.principals[self.world.org_index[self.world.cluster.orders[order].buyer_org_key]]

    def _delivered(self, order: int) -> None:
        """The work reached the buyer: it confirms the delivery (`settle` runs only)."""
        try:
            with self._services(self.now) as session:
                lifecycle.confirm_delivery(session, self._buyer_of(order), self.order_ids[order])
        except SharefabError:
            self.record.note("delivery_refused")
            return
        self._at(self.now + SETTLE_AFTER, SETTLE, order)

    def _settle(self, order: int) -> None:
        """A day later the buyer closes the order (the escrow settles) and rates each provider
        (4 or 5 stars: 5 when the order came by its due date)."""
        buyer = self._buyer_of(order)
        outcome = self.record.orders[order]
        stars = 5 if outcome.delivered is not None and outcome.delivered <= outcome.due else 4
        try:
            with self._services(self.now) as session:
                order_id = self.order_ids[order]
                lifecycle.close(session, buyer, order_id)
                for provider in sorted(lifecycle.providers_of(session, order_id)):
                    lifecycle.rate(session, buyer, order_id, provider, stars, "")
        except SharefabError:
            self.record.note("settle_refused")

    def _break(self, b: Breakdown) -> None:
        r, now, w = b.resource, self.now, self.world
        self.down_until[r] = max(self.down_until[r], now + b.repair)
        current = self.running[r]
        if current is not None:
            ex, _ = current
            ex.end = pause_for_repair(w, self.work[r], ex, now, b.repair)
            self.version[r] += 1
            self._at(ex.end, COMPLETE, (r, self.version[r]))
        self._at(now + b.repair, REPAIR, r)
        self.record.note("breakdowns")
        provider = self.principals[w.resource_org[r]]
        try:
            with self._services(now) as session:
                execution.report_breakdown(
                    session,
                    provider,
                    self.resource_ids[r],
                    BreakdownIn(repair_minutes=b.repair, at=self.moment(now)),
                )
        except SharefabError:
            self.record.note("replan_failed")
