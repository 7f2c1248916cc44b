"""A first-come-first-served dispatcher: the engine of the `isolated` and `greedy` policies.

When an operation becomes ready (its order arrived, or its predecessors finished), it is given
to the candidate resource where it is expected to finish first, given what that resource has
queued, its capacity windows and the truck ride from the previous step. Each resource works
its queue in order of readiness, one operation at a time, inside its windows: an operation that
may not pause starts only if its planned time fits in the current window (overruns are
overtime); piece and desk work may start at any time in a window, stops at the window's end and
goes on in the next one. A breakdown pauses the running operation until the repair. Policies
differ only in which resources are candidates.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sharefab.sim.arrivals import Arrival, Breakdown, Scenario
from sharefab.sim.events import EventQueue
from sharefab.sim.record import Execution, Fate, OrderOutcome, RunRecord
from sharefab.sim.world import World

COMPLETE, REPAIR, BREAK, ARRIVE, TRY = "complete", "repair", "break", "arrive", "try"
PRIORITY = {COMPLETE: 1, REPAIR: 2, BREAK: 3, ARRIVE: 4, TRY: 6}

Candidates = Callable[[int, int], Sequence[tuple[int, int]]]
"""(order, position) -> the (resource, planned minutes) the operation may go to."""


@dataclass(order=True)
class _Task:
    ready: int
    seq: int
    order: int = field(compare=False)
    position: int = field(compare=False)
    resource: int = field(compare=False)
    planned: int = field(compare=False)


@dataclass
class _Resource:
    queue: list[_Task] = field(default_factory=list)
    running: Execution | None = None
    version: int = 0
    down_until: int = 0
    projected_free: int = 0
    tries: set[int] = field(default_factory=set)
    work_from: int = 0  # the running step works from here (after a repair: its end) ...
    work_left: int = 0  # ... for this many minutes of window time (a step that may pause)


@dataclass
class _Order:
    outcome: OrderOutcome
    waiting_on: list[int]
    ends: dict[int, int] = field(default_factory=dict)
    sites: dict[int, int] = field(default_factory=dict)
    started: bool = False


def charge_inbound(
    record: RunRecord, world: World, order: int, position: int, r: int, sites: dict[int, int]
) -> None:
    """The trucks that bring a step's inputs from its predecessors' sites to resource `r`."""
    site = world.resource_site[r]
    for p in world.preds[order][position]:
        if sites[p] != site:
            record.transport_cost += world.site_cost[sites[p]][site]
            record.trips += 1


def deliver(
    record: RunRecord,
    world: World,
    outcome: OrderOutcome,
    ends: dict[int, int],
    sites: dict[int, int],
) -> None:
    """All steps done: truck the last steps' work to the buyer; the order is completed."""
    dest = world.ship_to[outcome.order]
    delivered = 0
    for p, end in ends.items():
        if not world.succs[outcome.order][p]:
            site = sites[p]
            delivered = max(delivered, end + world.site_minutes[site][dest])
            if site != dest:
                record.transport_cost += world.site_cost[site][dest]
                record.trips += 1
    outcome.fate = Fate.completed
    outcome.delivered = delivered


def pause_for_repair(world: World, res: _Resource, ex: Execution, now: int, repair: int) -> int:
    """The new end of the step `ex` running on a resource that breaks down at `now` for `repair`
    minutes: pushed by the repair, or, for a step that may pause at a shift end, its window
    time left after the repair (`res.work_from` and `res.work_left` track it)."""
    if not world.pausable[ex.order][ex.position]:
        return ex.end + repair
    if now > res.work_from:
        res.work_left -= world.calendar.worked(ex.resource, res.work_from, now)
    res.work_from = max(res.work_from, now) + repair
    return world.finish(ex.order, ex.position, ex.resource, res.work_from, max(0, res.work_left))


class Dispatcher:
    """One run of a dispatching policy over one scenario."""

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        policy: str,
        candidates: Candidates,
        reject_reason: Callable[[int], str],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.world, self.scenario = world, scenario
        self.candidates, self.reject_reason = candidates, reject_reason
        self.record = RunRecord(policy=policy, seed=scenario.seed, end=world.end)
        self.events = EventQueue()
        self.resources = [_Resource() for _ in world.cluster.resources]
        self.orders: dict[int, _Order] = {}
        self._seq = 0
        self.progress = progress

    def _at(self, time: int, kind: str, data: object) -> None:
        self.events.schedule(time, kind, data, PRIORITY[kind])

    def run(self) -> RunRecord:
        for a in self.scenario.arrivals:
            if a.at < self.world.end:
                self._at(a.at, ARRIVE, a)
        for b in self.scenario.breakdowns:
            self._at(b.at, BREAK, b)
        handlers: dict[str, Callable[[object], None]] = {
            ARRIVE: self._arrive,  # type: ignore[dict-item]
            BREAK: self._break,  # type: ignore[dict-item]
            REPAIR: self._try,  # type: ignore[dict-item]
            TRY: self._try,  # type: ignore[dict-item]
            COMPLETE: self._complete,  # type: ignore[dict-item]
        }
        while self.events and (self.events.peek_time() or 0) < self.world.end:
            event = self.events.pop()
            times = self.record.event_times
            if self.progress and times and event.time // 1440 > times[-1] // 1440:
                self.progress(event.time)
            self.record.event_times.append(event.time)
            handlers[event.kind](event.data)
        self._finish()
        return self.record

    @property
    def now(self) -> int:
        return self.events.clock.now

    # --- orders ----------------------------------------------------------------------------

    def _arrive(self, a: Arrival) -> None:
        w = self.world
        outcome = OrderOutcome(a.order, a.at, a.due, w.home[a.order])
        self.record.orders[a.order] = outcome
        n = len(w.modes[a.order])
        for pos in range(n):
            if not self.candidates(a.order, pos):
                outcome.fate = Fate.rejected
                outcome.reason = self.reject_reason(a.order) or (
                    f"no resource can take operation {pos + 1}"
                )
                return
        state = _Order(outcome, [len(w.preds[a.order][p]) for p in range(n)])
        self.orders[a.order] = state
        for pos in range(n):
            if not w.preds[a.order][pos]:
                self._assign(state, pos)

    def _assign(self, state: _Order, pos: int) -> None:
        w, now = self.world, self.now
        order = state.outcome.order
        preds = w.preds[order][pos]
        best: tuple[int, int, int, int, int] | None = None  # finish, resource, start, ready, min
        for r, minutes in self.candidates(order, pos):
            site = w.resource_site[r]
            ready = max(
                [now, *(state.ends[p] + w.site_minutes[state.sites[p]][site] for p in preds)]
            )
            res = self.resources[r]
            got = w.place(order, pos, r, max(ready, res.projected_free, res.down_until), minutes)
            if got is None:
                continue
            start, finish = got
            key = (finish, r, start, ready, minutes)
            if best is None or key < best:
                best = key
        if best is None:
            state.outcome.reason = f"no capacity left for operation {pos + 1} before the end"
            self.record.note("stuck_operations")
            return
        finish, r, _start, ready, minutes = best
        self._seq += 1
        res = self.resources[r]
        bisect.insort(res.queue, _Task(ready, self._seq, order, pos, r, minutes))
        res.projected_free = finish
        self._wake(r, max(ready, now))

    def _complete(self, data: tuple[int, int]) -> None:
        r, version = data
        res = self.resources[r]
        ex = res.running
        if ex is None or version != res.version:
            return  # superseded by a breakdown that pushed the end
        ex.done, ex.end = True, self.now
        res.running = None
        w = self.world
        state = self.orders[ex.order]
        state.ends[ex.position] = self.now
        state.sites[ex.position] = w.resource_site[r]
        for s in w.succs[ex.order][ex.position]:
            state.waiting_on[s] -= 1
            if state.waiting_on[s] == 0:
                self._assign(state, s)
        if len(state.ends) == len(w.modes[ex.order]):
            deliver(self.record, w, state.outcome, state.ends, state.sites)
        self._refresh_projection(r)
        self._try(r)

    # --- resources -------------------------------------------------------------------------

    def _wake(self, r: int, t: int) -> None:
        res = self.resources[r]
        if t not in res.tries:
            res.tries.add(t)
            self._at(t, TRY, r)

    def _try(self, r: int) -> None:
        res, w, now = self.resources[r], self.world, self.now
        res.tries.discard(now)
        if res.running is not None or res.down_until > now:
            return
        window = w.window_at(r, now)
        chosen = None
        if window is not None:
            for k, task in enumerate(res.queue):
                if task.ready > now:
                    break
                if w.pausable[task.order][task.position] or now + task.planned <= window[1]:
                    chosen = res.queue.pop(k)
                    break
        if chosen is not None:
            actual = self.scenario.actual_minutes(chosen.order, chosen.position, chosen.planned)
            end = w.finish(chosen.order, chosen.position, r, now, actual)
            ex = Execution(chosen.order, chosen.position, r, now, end, actual, chosen.planned)
            res.work_from, res.work_left = now, actual
            self.record.executions.append(ex)
            state = self.orders[chosen.order]
            charge_inbound(self.record, w, chosen.order, chosen.position, r, state.sites)
            res.running = ex
            res.version += 1
            self._at(ex.end, COMPLETE, (r, res.version))
            state.started = True
            return
        nxt = [
            got[0]
            for task in res.queue
            if (got := w.place(task.order, task.position, r, max(task.ready, now), task.planned))
        ]
        later = [s for s in nxt if s > now]
        if later:
            self._wake(r, min(later))
        elif nxt:  # fits only from now but the window check failed: retry a minute later
            self._wake(r, now + 1)

    def _break(self, b: Breakdown) -> None:
        res = self.resources[b.resource]
        until = self.now + b.repair
        res.down_until = max(res.down_until, until)
        ex = res.running
        if ex is not None:
            ex.end = pause_for_repair(self.world, res, ex, self.now, b.repair)
            res.version += 1
            self._at(ex.end, COMPLETE, (b.resource, res.version))
        res.projected_free = max(res.projected_free, self.now) + b.repair
        self._at(until, REPAIR, b.resource)
        self.record.note("breakdowns")

    def _refresh_projection(self, r: int) -> None:
        res, w = self.resources[r], self.world
        s = max(self.now, res.down_until)
        for task in res.queue:
            got = w.place(task.order, task.position, r, max(s, task.ready), task.planned)
            if got is not None:
                s = got[1]
        res.projected_free = s

    def _finish(self) -> None:
        for state in self.orders.values():
            if state.outcome.fate == Fate.completed:
                continue
            state.outcome.fate = Fate.in_progress if state.started else Fate.waiting
