"""The one public entry point: ``solve(data, ...) -> Result``.

Pipeline, all inside ``time_limit``:

1. cheap infeasibility checks (an operation longer than every window of every eligible resource,
   clashing fixed bookings) -> status ``infeasible`` with the reason;
2. constructive heuristic (a few randomised starts) and the warm start ``initial`` -> incumbent;
3. lower bound from ``bounds``;
4. search: for a plain flexible job shop with a makespan objective, a portfolio of tabu search
   (its own process) and CP-SAT (the other workers) that share the incumbent; otherwise CP-SAT
   warm-started from the incumbent, followed by LNS around CP-SAT while time remains;
5. every improving plan is validated before it is kept or streamed to ``on_improve``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

from sharefab.optimize import cpsat
from sharefab.optimize.bounds import objective_bound
from sharefab.optimize.data import ObjectiveTerm, ProblemData
from sharefab.optimize.heuristic import construct
from sharefab.optimize.params import SolveParams
from sharefab.optimize.portfolio import run_portfolio  # loads the tabu kernels once
from sharefab.optimize.result import Assignment, Result, Status
from sharefab.optimize.validate import objective_values, validate

OnImprove = Callable[[Result], None]
# In deterministic mode the wall-clock limit is at least this many seconds per unit of
# deterministic time (a guard against a runaway search, never reached on a sane machine).
DETERMINISTIC_WALL_GUARD = 20.0


class Incumbent:
    """The best valid schedule so far; streams each improvement to ``on_improve``."""

    def __init__(self, data: ProblemData, t0: float, on_improve: OnImprove | None) -> None:
        self.data, self.t0, self.on_improve = data, t0, on_improve
        self.schedule: list[Assignment] | None = None
        self.values: tuple[int, ...] | None = None
        self.lower_bound = 0
        self.rejected = 0
        self.lock = threading.Lock()
        self.history: list[tuple[float, int, str]] = []

    def offer(self, schedule: Sequence[Assignment], source: str = "") -> bool:
        with self.lock:
            return self._offer(schedule, source)

    def raise_bound(self, bound: int) -> None:
        with self.lock:
            self.lower_bound = max(self.lower_bound, bound)

    @property
    def proven(self) -> bool:
        """The incumbent meets the lower bound (single-term objectives only)."""
        values = self.values
        return values is not None and len(values) == 1 and values[0] <= self.lower_bound

    def _offer(self, schedule: Sequence[Assignment], source: str) -> bool:
        sched = sorted(schedule, key=lambda a: (a.job, a.operation))
        values = objective_values(self.data, sched)
        if self.values is not None and values >= self.values:
            return False
        if validate(self.data, sched):
            self.rejected += 1
            return False
        self.schedule, self.values = sched, values
        self.history.append((round(time.perf_counter() - self.t0, 2), values[0], source))
        if self.on_improve is not None:
            self.on_improve(self.result(Status.FEASIBLE))
        return True

    @property
    def objective(self) -> int | None:
        return None if self.values is None else self.values[0]

    def result(self, status: Status, reason: str = "") -> Result:
        return Result(
            status=status,
            objective=self.objective,
            lower_bound=self.lower_bound,
            runtime_s=time.perf_counter() - self.t0,
            schedule=tuple(self.schedule or ()),
            objectives=self.values or (),
            reason=reason,
            history=tuple(self.history),
        )


def cheap_infeasibility(data: ProblemData) -> str:
    """A reason the problem is infeasible, if one is cheap to find; else ''."""
    for i, op in enumerate(data.operations):
        j, o = data.op_job[i], data.op_pos[i]
        if op.interruptible:
            continue
        fits = False
        for mode in op.modes:
            windows = data.resources[mode.resource].windows
            if not windows or any(e - s >= mode.duration for s, e in windows):
                fits = True
                break
        if not fits:
            return (
                f"operation {o} of job {j} is longer than every capacity window of every "
                "eligible resource"
            )
    booked: dict[int, list[tuple[int, int, int, int]]] = {}
    for b in data.fixed:
        if b.end > b.start:
            booked.setdefault(b.resource, []).append((b.start, b.end, b.job, b.operation))
        windows = data.resources[b.resource].windows
        if b.end > b.start and windows and not any(s <= b.start and b.end <= e for s, e in windows):
            return (
                f"fixed booking of operation {b.operation} of job {b.job} lies outside the "
                f"windows of resource {b.resource}"
            )
    for r, items in booked.items():
        items.sort()
        for x, y in itertools.pairwise(items):
            if y[0] < x[1]:
                return (
                    f"fixed bookings of operation {x[3]} of job {x[2]} and operation {y[3]} of "
                    f"job {y[2]} overlap on resource {r}"
                )
    return ""


def _remaining(deadline: float) -> float:
    return deadline - time.perf_counter()


def _plain_fjsp(data: ProblemData) -> bool:
    """Tabu applies: makespan, chains, no windows/transport/fixed, positive durations."""
    return (
        data.objective.is_makespan
        and data.is_chain_only
        and not data.has_windows
        and not data.has_transport
        and not data.fixed
        and all(m.duration > 0 for op in data.operations for m in op.modes)
    )


def solve(
    data: ProblemData,
    params: SolveParams | None = None,
    time_limit: float = 10.0,
    workers: int = 1,
    seed: int = 0,
    on_improve: OnImprove | None = None,
    initial: Sequence[Assignment] | None = None,
) -> Result:
    """Solve ``data`` within ``time_limit`` seconds (wall clock, everything included).

    With ``params.deterministic_time`` set, the search stops on deterministic time instead
    (one worker, ``seed``): the same input gives the same result however loaded the machine.
    """
    params = params or SolveParams()
    if params.deterministic_time is not None:
        workers = 1
        # the wall clock only stops a runaway search
        time_limit = max(time_limit, DETERMINISTIC_WALL_GUARD * params.deterministic_time, 30.0)
    t0 = time.perf_counter()
    # keep a small margin for stopping processes and validating the final plan
    deadline = t0 + time_limit - min(0.3, 0.02 * time_limit)
    inc = Incumbent(data, t0, on_improve)
    reason = cheap_infeasibility(data)
    if reason:
        return inc.result(Status.INFEASIBLE, reason)
    inc.lower_bound = objective_bound(data)
    if initial is not None:
        inc.offer(initial, "initial")
    starts = max(1, params.heuristic_starts)
    heuristic_budget = t0 + 0.05 * time_limit
    for k in range(starts):
        if k > 0 and params.deterministic_time is None and time.perf_counter() > heuristic_budget:
            break
        sched = construct(data, seed=seed + k, noise=0.0 if k == 0 else 0.1)
        if sched is not None:
            inc.offer(sched, "heuristic")
    if (
        inc.objective is not None
        and inc.objective <= inc.lower_bound
        and len(inc.values or ()) == 1
    ):
        return inc.result(Status.OPTIMAL)

    if _plain_fjsp(data) and params.tabu.enabled and params.deterministic_time is None:
        status = run_portfolio(data, params, inc, deadline, workers, seed)
    else:
        status = _cpsat_then_lns(data, params, inc, deadline, workers, seed)
    if inc.schedule is None:
        if status == Status.INFEASIBLE:
            return inc.result(Status.INFEASIBLE, "CP-SAT proved that no schedule exists")
        return inc.result(Status.UNKNOWN, "no schedule found within the time limit")
    single = len(inc.values or ()) == 1 and inc.objective is not None
    if single and inc.objective is not None and inc.objective <= inc.lower_bound:
        status = Status.OPTIMAL
    return inc.result(Status.OPTIMAL if status == Status.OPTIMAL else Status.FEASIBLE)


def solve_validated(
    data: ProblemData,
    params: SolveParams | None = None,
    time_limit: float = 10.0,
    workers: int = 1,
    seed: int = 0,
    initial: Sequence[Assignment] | None = None,
) -> tuple[Result, bool]:
    """``solve``, then the independent validator on its plan: the result and whether it holds.

    One picklable call (arrays in, verdict out), so a caller can run both in a worker process.
    """
    result = solve(data, params, time_limit, workers, seed, initial=initial)
    return result, result.feasible and not validate(data, result.schedule)


def _cpsat_then_lns(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    deadline: float,
    workers: int,
    seed: int,
) -> Status:
    """CP-SAT on the whole problem (lexicographic: one stage per term), then LNS."""
    obj = data.objective
    det = params.deterministic_time
    needed = obj.terms
    horizon = data.horizon()
    if obj.is_makespan and inc.schedule is not None:
        horizon = max(a.end for a in inc.schedule)
    v = cpsat.build(data, params.cpsat, horizon, needed)
    stages: list[Sequence[tuple[ObjectiveTerm, int]]]
    stages = [((t, 1),) for t in obj.lexicographic] if obj.lexicographic else [obj.weights]
    status = Status.UNKNOWN
    all_optimal = True
    for k, weights in enumerate(stages):
        left = _remaining(deadline)
        if left <= 0.05:
            all_optimal = False
            break
        budget = left / (len(stages) - k)
        extra = None
        if det is not None:
            # each stage gets its share of the deterministic budget; wall time is only a guard
            extra = {"max_deterministic_time": max(0.001, det / len(stages))}
        use_lns = (
            det is None
            and params.lns.enabled
            and not obj.lexicographic
            and left > params.lns.min_time_for_lns
        )
        if use_lns:
            budget = left * 0.5
        expr = cpsat.objective_expr(v, weights)
        v.model.minimize(expr)
        if inc.schedule is not None:
            cpsat.add_hint(v, data, inc.schedule)

        def on_solution(sched: list[Assignment], _value: int) -> None:
            inc.offer(sched, "cpsat")

        out = cpsat.run(v, data, budget, workers, seed, params.cpsat, on_solution, extra=extra)
        if out.schedule is not None:
            inc.offer(out.schedule, "cpsat")
        if k == 0:
            inc.lower_bound = max(inc.lower_bound, out.bound)
        if out.status == Status.INFEASIBLE:
            return Status.INFEASIBLE
        if out.status != Status.OPTIMAL:
            all_optimal = False
        if out.objective is None:
            break
        status = out.status
        if obj.lexicographic and k + 1 < len(stages):
            v.model.add(expr <= out.objective)
        if use_lns and out.status != Status.OPTIMAL and inc.schedule is not None:
            from sharefab.optimize.lns import run_lns

            run_lns(data, params, inc, deadline, workers, seed)
    if obj.lexicographic and not all_optimal:
        return Status.FEASIBLE
    return status


__all__ = ["Incumbent", "cheap_infeasibility", "solve", "solve_validated"]
