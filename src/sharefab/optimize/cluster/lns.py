"""Plan a whole cluster: dispatch start plan, then large-neighbourhood search on a task pool.

``plan_cluster(data, pool, time_limit, seed)``:

1. refuses input no plan can exist for (``checks``), naming the order and operation;
2. dispatches the orders with each rule of ``params.rules`` (the first gives the first feasible
   plan within seconds; ``op_slack`` also with the other ``params.slack_shares``), improves the
   sequence by iterated dispatch for ``params.start_share`` of the time, and keeps the best plan,
   validated;
3. until the time is up, keeps ``pool.slots`` neighbourhoods in flight: the adaptive choice picks a
   kind (roulette on recent success), the operator frees operations that no neighbourhood in flight
   touches, ``extract`` turns them into a small ``SubProblem`` and the pool solves it with CP-SAT
   (``submodel.solve_subproblem``) wherever its workers are;
4. each answer that improves the objective (weighted tardiness, then cost) is applied; the plan
   is checked by the independent validator after every batch of accepted answers (at most
   ``params.validate_every`` seconds apart and so that it takes about ``params.validate_share`` of
   the time, and always before the plan is returned), and a batch
   the validator refuses is rolled back; only validated plans are reported or returned. A failed
   or lost task just drops its neighbourhood: the incumbent is never touched by it.

The pool is anything with ``slots``, ``submit(fn, arg)`` and ``wait(timeout)`` (``TaskPool``); the
engines in ``sharefab.engine`` provide a process pool and a Dask cluster, ``InlinePool`` solves
in this process. This module imports neither.

**Deterministic mode** (``work_limit=WorkLimit(...)``): the run stops on counts of work instead
of ``time_limit``: the start plan tries every rule and ``dispatch_rounds`` rounds of iterated
dispatch; the LNS builds ``neighbourhoods`` neighbourhoods, ``batch`` at a time whatever the
pool's slots, each solved by CP-SAT on ``sub_deterministic_time`` with one worker and a seed
drawn from the planner's seeded generator; a batch's answers are awaited in full and applied in
submission order (never in arrival order); re-sequencing steps and validator runs are counted in
batches. The same inputs and seed therefore give the same plan on any machine and any pool
(inline, process pool, Dask), as long as no worker is lost.

**Warm start** (``initial``): a complete schedule to start from instead of the dispatch start
plan; it is validated first and ignored (the dispatch start is used) if the validator refuses
it. Since only improving answers are applied, the plan returned is never worse than it.

**Cancel** (``should_stop``): polled between batches (and between start-plan rules and rounds);
when it returns True the run ends at once with the best validated plan so far
(``ClusterResult.stopped``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from sharefab.optimize.cluster.checks import check_plannable
from sharefab.optimize.cluster.dispatch import (
    DispatchError,
    dispatch,
    iterated_dispatch,
    iterated_op_dispatch,
    op_dispatch,
)
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.neighbourhoods import OPERATORS, Busy
from sharefab.optimize.cluster.params import ClusterParams, WorkLimit
from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.cluster.resequence import bottleneck_queue, remaining_work, resequence
from sharefab.optimize.cluster.submodel import solve_subproblem
from sharefab.optimize.cluster.subproblem import SubProblem, SubSolution, extract
from sharefab.optimize.data import ProblemData
from sharefab.optimize.result import Assignment
from sharefab.optimize.validate import validate


class TaskPool(Protocol):
    """Where sub-problems are solved: up to ``slots`` tasks at once."""

    @property
    def slots(self) -> int: ...

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        """Start ``fn(arg)``; return a ticket."""
        ...

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        """Tickets finished within ``timeout`` s with their result (or the exception raised)."""
        ...


class InlinePool:
    """Solve each task in this process when it is waited for (one slot)."""

    def __init__(self) -> None:
        self._queue: list[tuple[int, Callable[[Any], Any], Any]] = []
        self._next = 0

    @property
    def slots(self) -> int:
        return 1

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        self._next += 1
        self._queue.append((self._next, fn, arg))
        return self._next

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        if not self._queue:
            return []
        ticket, fn, arg = self._queue.pop(0)
        try:
            return [(ticket, fn(arg))]
        except Exception as exc:  # a failed task drops its neighbourhood, nothing more
            return [(ticket, exc)]


@dataclass
class KindStats:
    weight: float = 1.0
    size: float = 40.0
    tries: int = 0
    improvements: int = 0


@dataclass
class ClusterResult:
    """The best validated plan and how the search got there."""

    schedule: list[Assignment]
    values: tuple[int, int]  # (weighted tardiness, cost)
    valid: bool
    first_feasible_s: float
    start_rule: str
    start_values: tuple[int, int]
    iterations: int = 0  # neighbourhoods solved
    improvements: int = 0
    dropped: int = 0  # failed, lost or stale tasks
    rejected: int = 0  # batches the validator refused
    runtime_s: float = 0.0
    history: list[tuple[float, int, int]] = field(default_factory=list)  # (s, tardiness, cost)
    kinds: dict[str, KindStats] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # CP-SAT status -> neighbourhoods
    solve_time_s: float = 0.0  # CP-SAT wall time summed over neighbourhoods
    lns_s: float = 0.0  # seconds of the LNS phase (after the start plan)
    deterministic: bool = False  # stopped on a ``WorkLimit``, not on the clock
    stopped: bool = False  # ``should_stop`` ended the run early
    det_time: float = 0.0  # CP-SAT deterministic time summed over neighbourhoods


@dataclass
class _InFlight:
    sub: SubProblem
    jobs: set[int]
    versions: dict[int, int]  # resource -> version at submission
    job_versions: dict[int, int]


class _Search:
    """State of one LNS run (the incumbent, versions, adaptive weights)."""

    def __init__(
        self,
        index: ClusterIndex,
        plan: Plan,
        params: ClusterParams,
        rng: random.Random,
        t0: float,
    ) -> None:
        self.index, self.plan, self.params, self.rng, self.t0 = index, plan, params, rng, t0
        self.values = plan.values()
        self.tardiness = [plan.job_tardiness(j) for j in range(index.num_jobs)]
        self.res_version = [0] * index.num_resources
        self.job_version = [0] * index.num_jobs
        self.busy = Busy()
        self.kinds = {k: KindStats(size=float(params.initial_size)) for k in params.kinds}
        self.inflight: dict[int, _InFlight] = {}
        self.tag = 0
        self.history: list[tuple[float, int, int]] = [
            (time.perf_counter() - t0, self.values[0], self.values[1])
        ]
        self.iterations = self.improvements = self.dropped = self.rejected = 0
        self.statuses: dict[str, int] = {}
        self.solve_time = 0.0
        self.det_time = 0.0
        self.rem = remaining_work(index)
        self.queue = KindStats(size=float(params.resequence_size))
        self.queue_time = 0.0
        self.queue_streak = 0  # re-sequencings in a row that did not improve
        self.queue_pause = params.resequence_pause
        self.queue_resume_at = 0.0  # perf_counter time before which re-sequencing rests

    def pick_kind(self) -> str:
        total = sum(s.weight for s in self.kinds.values())
        x = self.rng.random() * total
        for kind, s in self.kinds.items():
            x -= s.weight
            if x <= 0:
                return kind
        return next(iter(self.kinds))

    def neighbourhood(self) -> SubProblem | None:
        for _try in range(5):
            kind = self.pick_kind()
            stats = self.kinds[kind]
            size = max(self.params.min_size, round(stats.size))
            free = OPERATORS[kind](self.plan, self.rng, size, self.busy, self.tardiness)
            if len(free) < 2:
                continue
            self.tag += 1
            return extract(
                self.plan,
                free,
                self.rng,
                tag=self.tag,
                kind=kind,
                max_modes=self.params.max_modes,
                busy_resources=self.busy.resources,
            )
        return None

    def submitted(self, sub: SubProblem) -> None:
        jobs = {self.index.op_job[op.op] for op in sub.ops}
        self.busy.take(jobs, sub.resources)
        self.inflight[sub.tag] = _InFlight(
            sub,
            jobs,
            {r: self.res_version[r] for r in sub.resources},
            {j: self.job_version[j] for j in jobs},
        )
        self.kinds[sub.kind].tries += 1

    def finished(self, tag: int) -> _InFlight:
        task = self.inflight.pop(tag)
        self.busy.release(task.jobs, task.sub.resources)
        return task

    def adapt(
        self, kind: str, sol: SubSolution | None, improved: bool, det_limit: float | None = None
    ) -> None:
        """Update the kind's weight and size; ``det_limit``: deterministic mode, where "quick"
        means proven within that much CP-SAT deterministic time, not half the wall-clock
        limit."""
        p = self.params
        s = self.kinds[kind]
        score = 3.0 if improved else 0.5 if sol is not None and sol.status == "optimal" else 0.1
        s.weight = max(0.05, (1 - p.reaction) * s.weight + p.reaction * score)
        quick = sol is not None and (
            sol.wall_time < 0.5 * p.sub_time_limit
            if det_limit is None
            else sol.stats.get("det_time", 0.0) < det_limit
        )
        if sol is not None and sol.status == "optimal" and quick:
            s.size = min(p.max_size, s.size * 1.15)
        elif sol is None or sol.status != "optimal":
            s.size = max(p.min_size, s.size * 0.85)

    def apply(self, task: _InFlight, sol: SubSolution) -> list[tuple[int, int, int, int]] | None:
        """Apply ``sol`` if it is fresh and improves; return the undo list (None: not applied)."""
        if any(self.res_version[r] != v for r, v in task.versions.items()) or any(
            self.job_version[j] != v for j, v in task.job_versions.items()
        ):
            self.dropped += 1
            return None
        return self._try(task.jobs, sol.changes)

    def _try(
        self, job_set: set[int], changes: tuple[tuple[int, int, int, int], ...] | list[Any]
    ) -> list[tuple[int, int, int, int]] | None:
        """Apply ``changes`` (to operations of ``job_set`` only) if they improve the plan."""
        plan = self.plan
        jobs = sorted(job_set)
        before = [plan.job_values(j) for j in jobs]
        undo = [(i, plan.res[i], plan.start[i], plan.end[i]) for i, _, _, _ in changes]
        plan.move(changes)
        after = [plan.job_values(j) for j in jobs]
        dt = sum(a[0] for a in after) - sum(b[0] for b in before)
        dc = sum(a[1] for a in after) - sum(b[1] for b in before)
        if (dt, dc) >= (0, 0):
            plan.move(undo)
            return None
        self.values = (self.values[0] + dt, self.values[1] + dc)
        for j, a in zip(jobs, after, strict=True):
            self.tardiness[j] = a[0]
        self._bump(changes, undo)
        return undo

    def resequence_step(self, clock: bool = True) -> list[tuple[int, int, int, int]] | None:
        """Re-sequence one bottleneck queue greedily (in this process); the undo list if the
        plan improved, else None. Touches no order or resource of a neighbourhood in flight.
        ``clock``: after ``resequence_patience`` fruitless steps in a row, rest for a while of
        wall-clock time (the deterministic mode rests by batches instead, see ``_Batches``)."""
        t = time.perf_counter()
        self.queue.tries += 1
        ops, pool = bottleneck_queue(
            self.plan,
            self.rng,
            self.params.resequence_size,
            self.busy.jobs,
            self.busy.resources,
            self.tardiness,
        )
        undo = None
        if len(ops) >= 2:
            changes = resequence(self.plan, ops, self.rng, self.rem, self.busy.resources, pool=pool)
            if changes:
                undo = self._try({self.index.op_job[i] for i in ops}, changes)
        now = time.perf_counter()
        self.queue_time += now - t
        p = self.params
        if undo is not None:
            self.queue.improvements += 1
            self.queue_streak, self.queue_pause = 0, p.resequence_pause
        else:
            self.queue_streak += 1
            if clock and p.resequence_patience > 0 and self.queue_streak >= p.resequence_patience:
                # not paying off here: leave the CPU to the CP-SAT neighbourhoods for a while
                self.queue_resume_at = now + self.queue_pause
                self.queue_pause = min(self.queue_pause * 2, 8 * p.resequence_pause)
                self.queue_streak = 0
        return undo

    def _bump(self, *change_lists: list[tuple[int, int, int, int]] | tuple[Any, ...]) -> None:
        for changes in change_lists:
            for i, r, _, _ in changes:
                self.res_version[r] += 1
                self.job_version[self.index.op_job[i]] += 1

    def rollback(self, undos: list[list[tuple[int, int, int, int]]]) -> None:
        for undo in reversed(undos):
            self.plan.move(undo)
            self._bump(undo)
        self.values = self.plan.values()
        self.tardiness = [self.plan.job_tardiness(j) for j in range(self.index.num_jobs)]

    def record(self) -> None:
        self.history.append((time.perf_counter() - self.t0, self.values[0], self.values[1]))

    def answer(
        self, tag: int, outcome: Any, det_limit: float | None = None
    ) -> list[tuple[int, int, int, int]] | None:
        """Take the answer of neighbourhood ``tag`` (a ``SubSolution``, or the exception of a
        failed or lost task): apply it if it is fresh and improves; the undo list if applied."""
        task = self.finished(tag)
        kind = task.sub.kind
        if not isinstance(outcome, SubSolution):  # the task failed or its worker was lost
            self.dropped += 1
            self.adapt(kind, None, False, det_limit)
            return None
        self.iterations += 1
        self.statuses[outcome.status] = self.statuses.get(outcome.status, 0) + 1
        self.solve_time += outcome.wall_time
        self.det_time += outcome.stats.get("det_time", 0.0)
        undo = self.apply(task, outcome) if outcome.changes else None
        self.adapt(kind, outcome, undo is not None, det_limit)
        if undo is not None:
            self.kinds[kind].improvements += 1
        return undo

    def settle(
        self,
        pending: list[list[tuple[int, int, int, int]]],
        on_improve: Callable[[float, tuple[int, int]], None] | None,
    ) -> None:
        """Run the validator over the plan with the ``pending`` answers applied: keep them (and
        report the new incumbent) or roll them all back."""
        if not pending:
            return
        if validate(self.index.data, self.plan.schedule()):
            self.rejected += 1
            self.rollback(pending)
        else:
            self.improvements += len(pending)
            self.record()
            if on_improve is not None:
                on_improve(time.perf_counter() - self.t0, self.values)
        pending.clear()


def start_plan(
    index: ClusterIndex,
    params: ClusterParams,
    t0: float,
    deadline: float,
    history: list[tuple[float, int, int]] | None = None,
    max_rounds: int = 50,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Plan, str, float]:
    """The best validated dispatch plan over ``params.rules`` (and ``op_slack`` with the other
    ``params.slack_shares``), improved by iterated dispatch (at most ``max_rounds`` rounds)
    until ``deadline`` (``math.inf``: every rule and round); and the time to the first valid
    plan. Each better plan is appended to ``history`` as (seconds, weighted tardiness, cost).
    Once ``should_stop()`` says so it returns the best plan found so far (at least one)."""
    log = history if history is not None else []
    best: tuple[tuple[int, int], Plan, str] | None = None
    first = math.inf

    def over() -> bool:
        return time.perf_counter() > deadline or (should_stop is not None and should_stop())

    for rule in params.rules:
        if best is not None and over():
            break
        try:
            plan = dispatch(index, rule)
        except DispatchError:  # this rule left an operation no window: try the next one
            continue
        values = plan.values()
        if best is not None and values >= best[0]:
            continue
        if validate(index.data, plan.schedule()):
            continue
        if best is None:
            first = time.perf_counter() - t0
        best = (values, plan, rule)
        log.append((time.perf_counter() - t0, *values))
    if best is None:
        raise RuntimeError("no dispatch rule produced a valid plan")
    for share in params.slack_shares if "op_slack" in params.rules else ():
        if over():
            break
        try:
            plan = op_dispatch(index, share)
        except DispatchError:
            continue
        values = plan.values()
        if values < best[0] and not validate(index.data, plan.schedule()):
            best = (values, plan, f"op_slack {share:g}")
            log.append((time.perf_counter() - t0, *values))
    if over() or max_rounds <= 0:
        plan = best[1]
    elif best[2] in ("fcfs", "edd", "slack"):
        plan = iterated_dispatch(
            index, deadline, best[2], start=best[1], max_rounds=max_rounds, should_stop=should_stop
        )
    elif best[2].startswith("op_slack"):
        share = float(best[2].split()[1]) if " " in best[2] else 0.5
        plan = iterated_op_dispatch(
            index, deadline, share, start=best[1], max_rounds=max_rounds, should_stop=should_stop
        )
    else:
        plan = best[1]
    values = plan.values()
    if values < best[0] and not validate(index.data, plan.schedule()):
        best = (values, plan, f"iterated {best[2]}")
        log.append((time.perf_counter() - t0, *values))
    return best[1], best[2], first


def warm_plan(index: ClusterIndex, initial: Sequence[Assignment]) -> Plan | None:
    """``initial`` as a plan if it is a complete schedule the validator accepts, else None."""
    schedule = list(initial)
    if len(schedule) != index.num_operations or validate(index.data, schedule):
        return None
    return Plan.from_schedule(index, schedule)


def plan_cluster(
    data: ProblemData | ClusterIndex,
    pool: TaskPool | None = None,
    time_limit: float = 60.0,
    seed: int = 0,
    params: ClusterParams | None = None,
    on_improve: Callable[[float, tuple[int, int]], None] | None = None,
    *,
    work_limit: WorkLimit | None = None,
    initial: Sequence[Assignment] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> ClusterResult:
    """Plan ``data`` within ``time_limit`` seconds, or, with ``work_limit``, within that much
    deterministic work (``time_limit`` is then ignored); see the module docstring.

    ``initial``: a complete schedule to start from (validated; ignored if invalid).
    ``should_stop()``: polled between batches; True ends the run with the best validated plan.
    ``on_improve(seconds, (weighted tardiness, cost))``: each new validated incumbent.
    ``on_progress(share)``: the share of the budget used (0..1), now and then."""
    t0 = time.perf_counter()
    params = params or ClusterParams()
    pool = pool or InlinePool()
    rng = random.Random(seed)
    index = data if isinstance(data, ClusterIndex) else ClusterIndex.from_problem(data)
    check_plannable(index)
    history: list[tuple[float, int, int]] = []
    plan = warm_plan(index, initial) if initial is not None else None
    if plan is not None:
        rule, first = "initial", time.perf_counter() - t0
        history.append((first, *plan.values()))
    elif work_limit is not None:
        plan, rule, first = start_plan(
            index, params, t0, math.inf, history, work_limit.dispatch_rounds, should_stop
        )
    else:
        start_deadline = t0 + params.start_share * time_limit
        plan, rule, first = start_plan(
            index, params, t0, start_deadline, history, should_stop=should_stop
        )
    search = _Search(index, plan, params, rng, t0)
    search.history = history
    lns_start = time.perf_counter()
    start_values = search.values
    if on_improve is not None:
        on_improve(time.perf_counter() - t0, search.values)
    if work_limit is not None:
        stopped = _Batches(search, pool, work_limit, should_stop, on_improve, on_progress).run()
    else:
        stopped = _clock_lns(
            search, pool, t0 + time_limit, lns_start, should_stop, on_improve, on_progress
        )
    lns_s = time.perf_counter() - lns_start
    if search.queue.tries:
        search.kinds["queue"] = search.queue
    return ClusterResult(
        schedule=search.plan.schedule(),
        values=search.values,
        valid=True,  # every answer kept went through the validator (``_Search.settle``)
        first_feasible_s=first,
        start_rule=rule,
        start_values=start_values,
        iterations=search.iterations,
        improvements=search.improvements,
        dropped=search.dropped,
        rejected=search.rejected,
        runtime_s=time.perf_counter() - t0,
        history=search.history,
        kinds=search.kinds,
        statuses=search.statuses,
        solve_time_s=search.solve_time,
        lns_s=lns_s,
        deterministic=work_limit is not None,
        stopped=stopped,
        det_time=search.det_time,
    )


def _clock_lns(
    search: _Search,
    pool: TaskPool,
    deadline: float,
    lns_start: float,
    should_stop: Callable[[], bool] | None,
    on_improve: Callable[[float, tuple[int, int]], None] | None,
    on_progress: Callable[[float], None] | None,
) -> bool:
    """The wall-clock LNS until ``deadline``: answers applied as they arrive; True if
    ``should_stop`` ended it."""
    params, rng = search.params, search.rng
    tickets: dict[int, int] = {}  # pool ticket -> neighbourhood tag
    margin, grace = 0.2, 1.0
    pending: list[list[tuple[int, int, int, int]]] = []  # accepted, not yet validated
    validated_at = time.perf_counter()
    check_s = 0.0  # how long the validator took last time
    stopped = False
    span = max(1e-9, deadline - lns_start)
    while True:
        if should_stop is not None and should_stop():
            stopped = True
            break
        remaining = deadline - time.perf_counter() - check_s  # the last batch's check fits
        if remaining > margin + 0.3:
            while len(tickets) < pool.slots:
                sub = search.neighbourhood()
                if sub is None:
                    break
                limit = min(params.sub_time_limit, remaining - margin)
                solve = partial(solve_subproblem, time_limit=limit, seed=rng.randrange(1 << 30))
                tickets[pool.submit(solve, sub)] = sub.tag
                search.submitted(sub)
        if not tickets and not pending and params.resequence_size <= 0:
            break
        busy_wait = max(0.01, min(1.0, deadline + grace - time.perf_counter()))
        now = time.perf_counter()
        if (
            params.resequence_size > 0
            and now < deadline - margin - check_s
            and search.queue_time <= params.resequence_share * (now - lns_start)
            and now >= search.queue_resume_at
        ):
            undo = search.resequence_step()
            if undo is not None:
                pending.append(undo)
            busy_wait = 0.01
        elif not tickets and not pending:
            if now >= deadline - margin - check_s:
                break
            time.sleep(0.01)  # nothing in flight, re-sequencing paused for its share
        done = pool.wait(busy_wait)
        for ticket, outcome in done:
            tag = tickets.pop(ticket, None)
            if tag is None or tag not in search.inflight:
                continue
            undo = search.answer(tag, outcome)
            if undo is not None:
                pending.append(undo)
        now = time.perf_counter()
        settled = not tickets and (
            params.resequence_size <= 0 or now >= deadline - margin - check_s
        )
        last_round = settled or now > deadline + grace
        spacing = max(params.validate_every, check_s * (1 / max(params.validate_share, 1e-3) - 1))
        if pending and (last_round or now - validated_at >= spacing):
            t_check = time.perf_counter()
            search.settle(pending, on_improve)
            validated_at = time.perf_counter()
            check_s = validated_at - t_check
            if on_progress is not None:
                on_progress(min(1.0, (validated_at - lns_start) / span))
        if now > deadline + grace:
            break  # tasks that do not come back in time (a lost worker): keep the incumbent
    search.settle(pending, on_improve)  # answers after the last check (or a stop)
    for tag in list(search.inflight):  # left in flight (a stop or a lost worker)
        search.finished(tag)
    return stopped


class _Batches:
    """The deterministic LNS (``WorkLimit``): batches of neighbourhoods, answers applied in
    submission order, re-sequencing and validation counted in batches."""

    def __init__(
        self,
        search: _Search,
        pool: TaskPool,
        work: WorkLimit,
        should_stop: Callable[[], bool] | None,
        on_improve: Callable[[float, tuple[int, int]], None] | None,
        on_progress: Callable[[float], None] | None,
    ) -> None:
        self.search, self.pool, self.work = search, pool, work
        self.should_stop, self.on_improve, self.on_progress = should_stop, on_improve, on_progress
        self.pending: list[list[tuple[int, int, int, int]]] = []

    def _stop(self) -> bool:
        return self.should_stop is not None and self.should_stop()

    def run(self) -> bool:
        """Spend the budget; True if ``should_stop`` ended it early."""
        work, search = self.work, self.search
        n_batches = -(-work.neighbourhoods // work.batch)
        resequencing = search.params.resequence_size > 0 and work.resequence_steps > 0
        queue_left = work.resequence_steps if resequencing else 0
        per_batch = queue_left / max(1, n_batches)
        credit = 0.0
        rest, rest_until = work.resequence_rest, 0
        stopped = False
        # with no neighbourhood to solve, the re-sequencing steps still get their batches
        rounds = max(n_batches, queue_left if n_batches == 0 else 0)
        if n_batches == 0:
            per_batch = 1.0
        for b in range(rounds):
            if self._stop():
                stopped = True
                break
            if b < n_batches and not self._batch():
                stopped = True
                break
            credit += per_batch
            while credit >= 1.0 - 1e-9 and queue_left > 0 and b >= rest_until:
                credit -= 1.0
                queue_left -= 1
                undo = search.resequence_step(clock=False)
                if undo is not None:
                    self.pending.append(undo)
                    rest = work.resequence_rest
                elif (
                    search.params.resequence_patience > 0
                    and search.queue_streak >= search.params.resequence_patience
                ):
                    search.queue_streak = 0
                    rest_until, rest = b + 1 + rest, min(2 * rest, 8 * work.resequence_rest)
                    credit = 0.0
            if rest_until > b:
                credit = 0.0  # resting: no steps pile up meanwhile
            if self.pending and ((b + 1) % max(1, work.validate_every) == 0 or b + 1 == rounds):
                search.settle(self.pending, self.on_improve)
            if self.on_progress is not None:
                self.on_progress((b + 1) / rounds)
        search.settle(self.pending, self.on_improve)
        return stopped

    def _batch(self) -> bool:
        """Build, solve and apply one batch of neighbourhoods; False if stopped meanwhile."""
        work, search, pool = self.work, self.search, self.pool
        batch: list[tuple[int, int]] = []  # (ticket, tag) in submission order
        for _ in range(work.batch):
            sub = search.neighbourhood()
            if sub is None:
                continue
            solve = partial(
                solve_subproblem,
                time_limit=work.task_timeout,
                seed=search.rng.randrange(1 << 30),
                deterministic_time=work.sub_deterministic_time,
            )
            search.submitted(sub)
            batch.append((pool.submit(solve, sub), sub.tag))
        wanted = {ticket for ticket, _ in batch}
        results: dict[int, Any] = {}
        give_up = time.perf_counter() + work.task_timeout
        while len(results) < len(wanted) and time.perf_counter() < give_up:
            if self._stop():
                for _, tag in batch:
                    search.finished(tag)
                return False
            for ticket, outcome in pool.wait(min(1.0, max(0.01, give_up - time.perf_counter()))):
                if ticket in wanted:
                    results[ticket] = outcome
        for ticket, tag in batch:  # submission order, never arrival order
            outcome = results.get(ticket, TimeoutError("the task did not come back"))
            undo = search.answer(tag, outcome, work.quick_share * work.sub_deterministic_time)
            if undo is not None:
                self.pending.append(undo)
        return True
