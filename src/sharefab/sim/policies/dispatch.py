"""The dispatcher: the engine of the `isolated`, `greedy` and `greedy-edd` policies.

When an operation becomes ready (its order arrived, or its predecessors finished), it is given
to the candidate resource where it is expected to finish first, given what that resource has
queued, its capacity windows and the truck ride from the previous step. Each resource works
its queue one operation at a time, inside its windows: an operation that may not pause starts
only if its planned time fits in the current window (overruns are overtime); piece and desk
work may start at any time in a window, stops at the window's end and goes on in the next one.
A breakdown pauses the running operation until the repair. Policies differ in which resources
are candidates and in the queue discipline, the order in which a resource serves what waits:

* ``fcfs`` (first come, first served): in order of readiness;
* ``edd``: the orders that can still make their due date first, earliest due date first; then
  the hopeless ones, earliest due date first;
* ``slack``: still-feasible orders by least slack (due date minus the rest of their work, see
  below), then the hopeless ones by earliest due date;
* ``cr``: still-feasible orders by critical ratio (time left to the due date over the rest of
  their work), then the hopeless ones by earliest due date.

An order is *hopeless* at minute ``t`` for a step on resource ``r`` when it cannot be delivered
by its due date even if that step started at ``t`` on ``r`` and every later step ran on its
fastest candidate resource back to back, the final truck to the buyer included
(``Dispatcher.rest_of_work``; windows, queues and trucks between steps ignored: a lower bound).
The projection a resource uses to tell when a new step would finish there (the "finishes
first" of the assignment) follows the same discipline: the resource's queue is played forward,
non-preemptively, picking at each decision the waiting step the discipline puts first.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sharefab.sim.arrivals import Arrival, Breakdown, Scenario
from sharefab.sim.events import EventQueue
from sharefab.sim.record import Execution, Fate, OrderOutcome, RunRecord
from sharefab.sim.world import World

COMPLETE, REPAIR, BREAK, ARRIVE, TRY = "complete", "repair", "break", "arrive", "try"
PRIORITY = {COMPLETE: 1, REPAIR: 2, BREAK: 3, ARRIVE: 4, TRY: 6}

Candidates = Callable[[int, int], Sequence[tuple[int, int]]]
"""(order, position) -> the (resource, planned minutes) the operation may go to."""

DISCIPLINES = ("fcfs", "edd", "slack", "cr")
"""Queue disciplines (see the module docstring)."""


@dataclass(order=True)
class _Task:
    ready: int
    seq: int
    order: int = field(compare=False)
    position: int = field(compare=False)
    resource: int = field(compare=False)
    planned: int = field(compare=False)
    due: int = field(compare=False, default=0)
    # a lower bound on the minutes from this step's start to the order's delivery
    work: int = field(compare=False, default=1)

    def hopeless(self, t: int) -> bool:
        """Whether the order can no longer be delivered by its due date if this starts at `t`."""
        return t + self.work > self.due


@dataclass
class _Step:
    """One decision of a resource's projected queue: the machine free at `free`, the step
    `task` picked at `decided` (when it was the best waiting one), done at `end`."""

    free: int
    decided: int
    task: _Task
    end: int


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
    expected_end: int = 0  # the running step's end by its planned minutes (and repairs)
    # the queue played forward by the discipline from `projected_from` (None: to be redone)
    projection: list[_Step] | None = None
    projected_from: int = 0


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


class Work(Protocol):
    """Where the running step of a resource stands: it works from `work_from` for
    `work_left` more minutes of window time."""

    work_from: int
    work_left: int


def pause_for_repair(world: World, res: Work, ex: Execution, now: int, repair: int) -> int:
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
    """One run of a dispatching policy over one scenario, with the queue discipline
    `discipline` (one of `DISCIPLINES`)."""

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        policy: str,
        candidates: Candidates,
        reject_reason: Callable[[int], str],
        progress: Callable[[int], None] | None = None,
        discipline: str = "fcfs",
    ) -> None:
        if discipline not in DISCIPLINES:
            raise ValueError(
                f"unknown queue discipline {discipline!r}; choose one of {', '.join(DISCIPLINES)}"
            )
        self.world, self.scenario = world, scenario
        self.candidates, self.reject_reason = candidates, reject_reason
        self.discipline = discipline
        self.record = RunRecord(policy=policy, seed=scenario.seed, end=world.end)
        self.events = EventQueue()
        self.resources = [_Resource() for _ in world.cluster.resources]
        self.orders: dict[int, _Order] = {}
        self._seq = 0
        self._rest: dict[tuple[int, int], int] = {}
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

    # --- the queue discipline --------------------------------------------------------------

    def rest_of_work(self, order: int, position: int, r: int, minutes: int) -> int:
        """A lower bound on the minutes from the start of step `position` on resource `r`
        (taking `minutes` there) to the order's delivery: that step, then every later step on
        its fastest candidate resource back to back, the truck to the buyer included."""
        return minutes + self._after(order, position, self.world.resource_site[r])

    def _after(self, order: int, position: int, site: int) -> int:
        w = self.world
        succs = w.succs[order][position]
        if not succs:
            return w.site_minutes[site][w.ship_to[order]]
        return max(self._from_start(order, s) for s in succs)

    def _from_start(self, order: int, position: int) -> int:
        key = (order, position)
        got = self._rest.get(key)
        if got is None:
            site = self.world.resource_site
            got = min(
                (m + self._after(order, position, site[r]) for r, m in self.candidates(*key)),
                default=0,
            )
            self._rest[key] = got
        return got

    def _key(self, task: _Task, t: int) -> tuple[int, float, int, int]:
        """Where `task` stands in its resource's queue at minute `t` (smaller first)."""
        if task.hopeless(t):
            return (1, task.due, task.ready, task.seq)
        if self.discipline == "slack":
            return (0, task.due - task.work, task.ready, task.seq)
        if self.discipline == "cr":
            return (0, (task.due - t) / task.work, task.ready, task.seq)
        return (0, task.due, task.ready, task.seq)

    def _free_from(self, r: int) -> int:
        res = self.resources[r]
        free = max(self.now, res.down_until)
        if res.running is not None:
            free = max(free, res.expected_end)
        return free

    def _project(self, r: int) -> list[_Step]:
        """Resource `r`'s queue played forward by the discipline, from when it is next free
        (kept until the queue, the running step or the time it is free from changes)."""
        res, w = self.resources[r], self.world
        free = self._free_from(r)
        if res.projection is not None and res.projected_from == free:
            return res.projection
        res.projected_from = free
        out: list[_Step] = []
        queue = res.queue  # by readiness
        i, n = 0, len(queue)
        linear = self.discipline == "cr"  # its order changes with time: a plain scan
        pool: list[_Task] = []
        feasible: list[tuple[int, int, int, _Task]] = []
        hopeless: list[tuple[int, int, int, _Task]] = []
        while i < n or pool or feasible or hopeless:
            if not (pool or feasible or hopeless) and queue[i].ready > free:
                decided = queue[i].ready
            else:
                decided = free
            while i < n and queue[i].ready <= decided:
                task = queue[i]
                i += 1
                if linear:
                    pool.append(task)
                else:
                    primary = task.due - task.work if self.discipline == "slack" else task.due
                    heapq.heappush(feasible, (primary, task.ready, task.seq, task))
            if linear:
                task = min(pool, key=lambda x: self._key(x, decided))
                pool.remove(task)
            else:
                while feasible and feasible[0][3].hopeless(decided):
                    moved = heapq.heappop(feasible)[3]
                    heapq.heappush(hopeless, (moved.due, moved.ready, moved.seq, moved))
                task = heapq.heappop(feasible if feasible else hopeless)[-1]
            got = w.place(task.order, task.position, r, decided, task.planned)
            end = got[1] if got is not None else decided
            out.append(_Step(free, decided, task, end))
            free = end
        res.projection = out
        return out

    def _projected_start(self, r: int, task: _Task) -> int:
        """When `task` would start on resource `r` if it joined its queue now: the queue played
        forward by the discipline until the task is the best waiting one."""
        steps = self._project(r)
        ready = task.ready
        for step in steps:
            free, decided = step.free, step.decided
            if ready <= free:
                if decided > free or self._key(task, free) < self._key(step.task, free):
                    return free
            elif ready < decided or (
                ready == decided and self._key(task, decided) < self._key(step.task, decided)
            ):
                return ready
        return max(steps[-1].end if steps else self._free_from(r), ready)

    def _changed(self, r: int) -> None:
        self.resources[r].projection = None

    # --- orders ----------------------------------------------------------------------------

    def _arrive(self, a: Arrival) -> None:
        w = self.world
        outcome = OrderOutcome(
            a.order, a.at, a.due, w.home[a.order], feasible_alone=a.feasible_alone
        )
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
        if self.discipline != "fcfs":
            self._assign_by_discipline(state, pos)
            return
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
            self._stuck(state, pos)
            return
        finish, r, _start, ready, minutes = best
        self._seq += 1
        res = self.resources[r]
        bisect.insort(res.queue, _Task(ready, self._seq, order, pos, r, minutes))
        res.projected_free = finish
        self._wake(r, max(ready, now))

    def _assign_by_discipline(self, state: _Order, pos: int) -> None:
        """`_assign` where each resource's queue follows the discipline: the finish on each
        candidate is projected by playing its queue forward with the step in it. Candidates
        are tried by their finish on an empty machine, and those that cannot beat the best so
        far are skipped (the projection never finishes earlier than that)."""
        w, now = self.world, self.now
        order = state.outcome.order
        preds = w.preds[order][pos]
        due = state.outcome.due
        bounds = []
        for r, minutes in self.candidates(order, pos):
            site = w.resource_site[r]
            ready = max(
                [now, *(state.ends[p] + w.site_minutes[state.sites[p]][site] for p in preds)]
            )
            got = w.place(order, pos, r, max(ready, self._free_from(r)), minutes)
            if got is not None:
                bounds.append((got[1], r, ready, minutes))
        bounds.sort()
        best: tuple[int, int, int, _Task] | None = None  # finish, resource, start, task
        for bound, r, ready, minutes in bounds:
            if best is not None and (bound, r) > best[:2]:
                break
            task = _Task(
                ready, self._seq + 1, order, pos, r, minutes, due,
                max(1, self.rest_of_work(order, pos, r, minutes)),
            )  # fmt: skip
            got = w.place(order, pos, r, self._projected_start(r, task), minutes)
            if got is None:
                continue
            key = (got[1], r, got[0], task)
            if best is None or key[:3] < best[:3]:
                best = key
        if best is None:
            self._stuck(state, pos)
            return
        _finish, r, _start, task = best
        self._seq += 1
        bisect.insort(self.resources[r].queue, task)
        self._changed(r)
        self._wake(r, max(task.ready, now))

    def _stuck(self, state: _Order, pos: int) -> None:
        state.outcome.reason = f"no capacity left for operation {pos + 1} before the end"
        self.record.note("stuck_operations")

    def _complete(self, data: tuple[int, int]) -> None:
        r, version = data
        res = self.resources[r]
        ex = res.running
        if ex is None or version != res.version:
            return  # superseded by a breakdown that pushed the end
        ex.done, ex.end = True, self.now
        res.running = None
        self._changed(r)
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
        if self.discipline == "fcfs":
            self._refresh_projection(r)
        self._try(r)

    # --- resources -------------------------------------------------------------------------

    def _wake(self, r: int, t: int) -> None:
        res = self.resources[r]
        if t not in res.tries:
            res.tries.add(t)
            self._at(t, TRY, r)

    def _pick(self, r: int, window: tuple[int, int]) -> _Task | None:
        """The waiting step resource `r` starts now (None: none is ready and fits)."""
        res, w, now = self.resources[r], self.world, self.now
        if self.discipline == "fcfs":
            for k, task in enumerate(res.queue):
                if task.ready > now:
                    break
                if w.pausable[task.order][task.position] or now + task.planned <= window[1]:
                    return res.queue.pop(k)
            return None
        best: tuple[tuple[int, float, int, int], int] | None = None
        for k, task in enumerate(res.queue):
            if task.ready > now:
                break
            if w.pausable[task.order][task.position] or now + task.planned <= window[1]:
                key = self._key(task, now)
                if best is None or key < best[0]:
                    best = (key, k)
        return None if best is None else res.queue.pop(best[1])

    def _try(self, r: int) -> None:
        res, w, now = self.resources[r], self.world, self.now
        res.tries.discard(now)
        if res.running is not None or res.down_until > now:
            return
        window = w.window_at(r, now)
        chosen = self._pick(r, window) if window is not None else None
        if chosen is not None:
            actual = self.scenario.actual_minutes(chosen.order, chosen.position, chosen.planned)
            end = w.finish(chosen.order, chosen.position, r, now, actual)
            ex = Execution(chosen.order, chosen.position, r, now, end, actual, chosen.planned)
            res.work_from, res.work_left = now, actual
            res.expected_end = w.finish(chosen.order, chosen.position, r, now, chosen.planned)
            self.record.executions.append(ex)
            state = self.orders[chosen.order]
            charge_inbound(self.record, w, chosen.order, chosen.position, r, state.sites)
            res.running = ex
            res.version += 1
            self._changed(r)
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
            res.expected_end = max(res.expected_end, self.now) + b.repair
        res.projected_free = max(res.projected_free, self.now) + b.repair
        self._changed(b.resource)
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
