"""`sharefab`: orders are quoted, booked and replanned by the platform's own services.

Each run gets its own SQLite database, seeded with the cluster (without its orders) by
`sharefab.seed.write_cluster`. Simulated minutes map onto datetimes from a fixed Monday, and
every service call runs inside `kit.types.clock_at(that moment)`, so the services see the
simulated time as "now". Then, as the simulation unfolds:

* an order arrives: its buyer creates it (`orders.service.create_order`), asks for a quote
  of the option it wants (`market.service.request_quotes`; balanced unless
  `SimParams.buyer_picks` says otherwise) and accepts it (`accept_quote`); an order no
  quote can be made for is rejected with the service's reason;
* a booking's resource is free and working and its inputs are there: its provider reports it
  started (`execution.service.report_event`) at the booked time, or earlier when the work
  fits before the resource's next booking (the platform moves the booking; a late start
  replans);
* the work ends (after its planned time times the scenario's noise): reported completed;
* a resource breaks down: its provider reports it (`report_breakdown`, which replans).

The physical world (who is busy, what is broken, how long work really takes, trucks) is the
simulator's, the same as for the other policies; the plan is the platform's. Every solve of a
run stops on CP-SAT deterministic time (`SimParams.solver_deterministic_time`, through the
platform's `solver_deterministic_time` setting), so a seed gives the same figures on any load.
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
from sharefab.identity.models import Organization, Role
from sharefab.identity.principal import Principal
from sharefab.kit.db import build_engine, unit_of_work
from sharefab.kit.errors import SharefabError
from sharefab.kit.migrate import upgrade
from sharefab.kit.settings import get_settings
from sharefab.kit.types import clock_at
from sharefab.market import service as market
from sharefab.market.models import Booking, BookingStatus
from sharefab.models import import_all_models
from sharefab.orders import service as orders
from sharefab.orders.schemas import OperationIn, OrderCreate
from sharefab.seed import write_cluster
from sharefab.sim.arrivals import Arrival, Breakdown, Scenario
from sharefab.sim.events import EventQueue
from sharefab.sim.params import SimParams
from sharefab.sim.policies.dispatch import charge_inbound, deliver
from sharefab.sim.record import Execution, Fate, OrderOutcome, RunRecord
from sharefab.sim.world import World

# Minute 0 of every simulated run: a Monday, 00:00 in the cluster's time zone.
EPOCH = datetime(2030, 1, 7, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
COMPLETE, REPAIR, BREAK, ARRIVE, WAKE = "complete", "repair", "break", "arrive", "wake"
PRIORITY = {COMPLETE: 1, REPAIR: 2, BREAK: 3, ARRIVE: 4, WAKE: 6}


def moment(minute: int) -> datetime:
    """The datetime of a simulated minute."""
    return EPOCH + timedelta(minutes=minute)


def minute_of(at: datetime) -> int:
    """The simulated minute of a datetime (rounded up)."""
    return -(-int((at - EPOCH).total_seconds()) // 60)


def _scratch() -> str | None:
    """Where the per-run databases go: memory-backed /dev/shm when there is one."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextmanager
def deterministic_solver(units: float) -> Iterator[None]:
    """Within the block, the services' solves stop on `units` of CP-SAT deterministic time
    (the platform's `solver_deterministic_time` setting), not on the wall clock."""
    settings = get_settings()
    old = settings.solver_deterministic_time
    settings.solver_deterministic_time = units
    try:
        yield
    finally:
        settings.solver_deterministic_time = old


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
    with (
        tempfile.TemporaryDirectory(prefix="sharefab-run-", dir=_scratch()) as tmp,
        deterministic_solver(params.solver_deterministic_time),
    ):
        path = Path(tmp) / "run.db"
        shutil.copy(template, path)
        engine = build_engine(f"sqlite:///{path}")
        try:
            return _Run(world, scenario, engine, progress, params.buyer_picks).run()
        finally:
            engine.dispose()


class _Run:
    def __init__(
        self,
        world: World,
        scenario: Scenario,
        engine: Engine,
        progress: Callable[[int], None] | None = None,
        buyer_picks: str = "balanced",
    ) -> None:
        self.world, self.scenario, self.engine = world, scenario, engine
        self.buyer_picks = buyer_picks
        self.progress = progress
        self.record = RunRecord(policy="sharefab", seed=scenario.seed, end=world.end)
        self.events = EventQueue()
        n = len(world.cluster.resources)
        self.running: list[tuple[Execution, int] | None] = [None] * n  # execution, booking
        self.version = [0] * n
        self.down_until = [0] * n
        self.wakes: set[int] = set()
        self.ends: dict[int, dict[int, int]] = {}
        self.sites: dict[int, dict[int, int]] = {}
        self.started: set[int] = set()
        self.ready: set[int] = set()  # operation ids whose predecessors are all done, not started
        self.op_of: dict[int, tuple[int, int]] = {}  # operation id -> (order, position)
        self.op_id: dict[tuple[int, int], int] = {}  # (order, position) -> operation id
        self.quantity: dict[int, int] = {}  # operation id -> parts
        self._seed_database()

    # --- set-up ----------------------------------------------------------------------------

    def _seed_database(self) -> None:
        cluster = dataclasses.replace(self.world.cluster, orders=())
        with self._services(-1440) as session:
            write_cluster(session, cluster, EPOCH)
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

    @contextmanager
    def _services(self, minute: int) -> Iterator[Session]:
        """A unit of work whose services see `minute` as now."""
        with clock_at(moment(minute)), unit_of_work(self.engine) as session:
            yield session

    @property
    def now(self) -> int:
        return self.events.clock.now

    def _at(self, time: int, kind: str, data: object = None) -> None:
        self.events.schedule(time, kind, data, PRIORITY[kind])

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> RunRecord:
        for a in self.scenario.arrivals:
            if a.at < self.world.end:
                self._at(a.at, ARRIVE, a)
        for b in self.scenario.breakdowns:
            self._at(b.at, BREAK, b)
        handlers: dict[str, Callable[[object], None]] = {
            ARRIVE: self._arrive,  # type: ignore[dict-item]
            BREAK: self._break,  # type: ignore[dict-item]
            REPAIR: lambda _: None,
            WAKE: lambda _: None,
            COMPLETE: self._complete,  # type: ignore[dict-item]
        }
        while self.events and (self.events.peek_time() or 0) < self.world.end:
            event = self.events.pop()
            times = self.record.event_times
            if self.progress and times and event.time // 1440 > times[-1] // 1440:
                self.progress(event.time)
            self.record.event_times.append(event.time)
            if event.kind == WAKE:
                self.wakes.discard(event.time)
            handlers[event.kind](event.data)
            if self.events.peek_time() != self.now:  # the minute's last event: dispatch
                self._advance()
        for k, outcome in self.record.orders.items():
            if outcome.fate in (Fate.completed, Fate.rejected):
                continue
            outcome.fate = Fate.in_progress if k in self.started else Fate.waiting
        return self.record

    def _wake(self, t: int) -> None:
        if t > self.now and t not in self.wakes and t < self.world.end:
            self.wakes.add(t)
            self._at(t, WAKE)

    # --- orders ----------------------------------------------------------------------------

    def _arrive(self, a: Arrival) -> None:
        w = self.world
        o = w.cluster.orders[a.order]
        outcome = OrderOutcome(
            a.order, a.at, a.due, w.home[a.order], feasible_alone=a.feasible_alone
        )
        self.record.orders[a.order] = outcome
        buyer = self.principals[w.org_index[o.buyer_org_key]]
        data = OrderCreate(
            reference=o.reference,
            title=o.title[:200],
            product_family=o.product_family,
            material=o.material,
            quantity=o.quantity,
            release_at=moment(a.at),
            due_at=moment(a.due),
            weight=o.weight,
            budget_minor=o.budget_minor,
            currency=o.currency,
            delivery_site_id=self.site_ids[w.ship_to[a.order]],
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
                )
                for op in o.operations
            ],
        )
        position = {op.seq: k for k, op in enumerate(o.operations)}
        try:
            with self._services(self.now) as session:
                row = orders.create_order(session, buyer, data)
                # the buyer asks only for the option it is going to accept
                quotes = market.request_quotes(session, buyer, row.id, (self.buyer_picks,))
                market.accept_quote(session, buyer, quotes[0].id)
                for op in row.operations:
                    self.op_of[op.id] = (a.order, position[op.seq])
                    self.op_id[(a.order, position[op.seq])] = op.id
                    self.quantity[op.id] = op.quantity
                    if not w.preds[a.order][position[op.seq]]:
                        self.ready.add(op.id)
        except SharefabError as exc:
            outcome.fate = Fate.rejected
            outcome.reason = str(exc)
            return
        self.ends[a.order], self.sites[a.order] = {}, {}

    # --- work ------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Start every booking whose resource is free and working and whose inputs are there:
        at its booked time, or earlier when the work fits before the resource's next booking
        (as a factory does with an idle machine; the platform then moves the booking to now).
        Then wake up at the next booked start."""
        w, now = self.world, self.now
        if not self.ready:
            return
        at_now = moment(now)
        with self._services(now) as session:
            startable = list(
                session.scalars(
                    select(Booking)
                    .where(Booking.status == BookingStatus.committed)
                    .where(Booking.operation_id.in_(sorted(self.ready)))
                    .order_by(Booking.starts_at, Booking.id)
                )
            )
            early = sorted({b.resource_id for b in startable if b.starts_at > at_now})
            ahead: dict[int, list[tuple[int, int]]] = {}
            if early:
                for rid, bid, starts in session.execute(
                    select(Booking.resource_id, Booking.id, Booking.starts_at)
                    .where(Booking.status.in_((BookingStatus.committed, BookingStatus.in_progress)))
                    .where(Booking.resource_id.in_(early))
                    .where(Booking.ends_at > at_now)
                ):
                    ahead.setdefault(rid, []).append((minute_of(starts), bid))
            session.expunge_all()
        for b in startable:
            r = self.resource_index[b.resource_id]
            if self.running[r] is not None or self.down_until[r] > now:
                continue
            order, pos = self.op_of[b.operation_id]
            ends, sites = self.ends[order], self.sites[order]
            site = w.resource_site[r]
            preds = w.preds[order][pos]
            ready = max([now, *(ends[p] + w.site_minutes[sites[p]][site] for p in preds)])
            if ready > now:
                self._wake(ready)
                continue
            booked_at = minute_of(b.starts_at)
            booked = max(1, minute_of(b.ends_at) - booked_at)
            planned = next((m for rr, m in w.modes[order][pos] if rr == r), booked)
            need = max(planned, booked)
            window = w.window_at(r, now)
            fits = window is not None and now + need <= window[1]
            if booked_at > now:
                # early: only into a gap that ends before anything else booked on the resource
                others = ahead.get(b.resource_id, ())
                nxt = min((t for t, bid in others if bid != b.id), default=None)
                if not fits or (nxt is not None and nxt < now + need):
                    later = w.fit_start(r, now + 1, need)
                    if later is not None and later < booked_at:
                        self._wake(later)
                    continue
            elif not fits:
                # late, and no longer fits this shift: like any factory, wait for one it fits
                later = w.fit_start(r, now, planned)
                if later is not None:
                    self._wake(later)
                continue
            provider = self.principals[w.resource_org[r]]
            try:
                with self._services(now) as session:
                    execution.report_event(
                        session, provider, b.id, EventIn(type=EventType.started, at=at_now)
                    )
            except SharefabError:
                self.record.note("start_refused")
                continue
            if booked_at > now:
                self.record.note("early_starts")
            self.ready.discard(b.operation_id)
            actual = self.scenario.actual_minutes(order, pos, planned)
            ex = Execution(order, pos, r, now, now + actual, actual, planned)
            self.record.executions.append(ex)
            charge_inbound(self.record, w, order, pos, r, sites)
            self.running[r] = (ex, b.id)
            self.version[r] += 1
            self._at(ex.end, COMPLETE, (r, self.version[r]))
            self.started.add(order)
        if not self.ready:
            return
        with self._services(now) as session:  # after the loop: starts may have replanned
            upcoming = session.scalar(
                select(func.min(Booking.starts_at))
                .where(Booking.status == BookingStatus.committed)
                .where(Booking.operation_id.in_(sorted(self.ready)))
                .where(Booking.starts_at > at_now)
            )
        if upcoming is not None:
            self._wake(minute_of(upcoming))

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
                execution.report_event(
                    session,
                    provider,
                    booking_id,
                    EventIn(
                        type=EventType.completed,
                        quantity=self.quantity[op_id],
                        at=moment(self.now),
                    ),
                )
        except SharefabError:
            self.record.note("complete_refused")
        ends, sites = self.ends[ex.order], self.sites[ex.order]
        ends[ex.position] = self.now
        sites[ex.position] = w.resource_site[r]
        for succ in w.succs[ex.order][ex.position]:
            if all(p in ends for p in w.preds[ex.order][succ]):
                self.ready.add(self.op_id[(ex.order, succ)])
        if len(ends) == len(w.modes[ex.order]):
            deliver(self.record, w, self.record.orders[ex.order], ends, sites)

    def _break(self, b: Breakdown) -> None:
        r = b.resource
        self.down_until[r] = max(self.down_until[r], self.now + b.repair)
        current = self.running[r]
        if current is not None:
            ex, _ = current
            ex.end += b.repair
            self.version[r] += 1
            self._at(ex.end, COMPLETE, (r, self.version[r]))
        self._at(self.now + b.repair, REPAIR, r)
        self.record.note("breakdowns")
        provider = self.principals[self.world.resource_org[r]]
        try:
            with self._services(self.now) as session:
                execution.report_breakdown(
                    session,
                    provider,
                    self.resource_ids[r],
                    BreakdownIn(repair_minutes=b.repair, at=moment(self.now)),
                )
        except SharefabError:
            self.record.note("replan_failed")
