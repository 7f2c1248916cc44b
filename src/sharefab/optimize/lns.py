"""Large-neighbourhood search around CP-SAT.

Each iteration frees a neighbourhood of the incumbent and re-solves the whole model with CP-SAT
for a short time, warm-started from the incumbent. Operations outside the neighbourhood keep
their resource and their order on it (consecutive kept operations on a resource get a
precedence), but not their times, so the solver can still shift them. Neighbourhoods: a random
set of jobs, the operations of a few resources (the busiest one often included), or every
operation overlapping a random time window. Fixed bookings of the problem always stay fixed.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sharefab.optimize import cpsat
from sharefab.optimize.data import ProblemData
from sharefab.optimize.params import SolveParams
from sharefab.optimize.result import Assignment, Status

if TYPE_CHECKING:
    from sharefab.optimize.solve import Incumbent


def neighbourhood(
    data: ProblemData, schedule: list[Assignment], rng: random.Random, fraction: float
) -> set[tuple[int, int]]:
    """Operations (job, operation) to free."""
    target = max(1, round(fraction * len(schedule)))
    kind = rng.randrange(3)
    if kind == 0:
        jobs = list(range(data.num_jobs))
        rng.shuffle(jobs)
        free: set[tuple[int, int]] = set()
        for j in jobs:
            if len(free) >= target:
                break
            free.update((j, o) for o in range(len(data.jobs[j].operations)))
        return free
    if kind == 1:
        load: dict[int, int] = {}
        for a in schedule:
            load[a.resource] = max(load.get(a.resource, 0), a.end)
        resources = sorted(load, key=lambda r: -load[r])
        chosen = [resources[0]] if rng.random() < 0.5 else []
        rest = resources[len(chosen) :]
        rng.shuffle(rest)
        free = set()
        for r in chosen + rest:
            if len(free) >= target:
                break
            free.update((a.job, a.operation) for a in schedule if a.resource == r)
        return free
    horizon = max(a.end for a in schedule)
    ordered = sorted(schedule, key=lambda a: a.start)
    first = rng.randrange(max(1, len(ordered) - target + 1))
    window = ordered[first : first + target]
    t0, t1 = window[0].start, max(a.end for a in window)
    del horizon
    return {(a.job, a.operation) for a in schedule if a.start < t1 and a.end > t0}


def improve(
    data: ProblemData,
    params: SolveParams,
    current: list[Assignment],
    free: set[tuple[int, int]],
    time_limit: float,
    seed: int,
    upper: int | None = None,
    workers: int = 1,
) -> tuple[Status, list[Assignment] | None]:
    """Re-solve with the operations outside ``free`` kept on their resource and in their order.
    ``upper``: only accept objective values up to this (None: up to the incumbent's)."""
    obj = data.objective
    horizon = data.horizon()
    if obj.is_makespan:
        horizon = max(a.end for a in current)
    v = cpsat.build(data, params.cpsat, horizon, obj.terms)
    m = v.model
    per_resource: dict[int, list[tuple[int, int]]] = {}
    for a in current:
        if (a.job, a.operation) in free:
            continue
        i = data.op_index(a.job, a.operation)
        for r, _, lit, _ in v.modes[i]:
            if not isinstance(lit, int):
                m.add(lit == (1 if r == a.resource else 0))
        per_resource.setdefault(a.resource, []).append((a.start, i))
    for items in per_resource.values():
        items.sort()
        for (_, x), (_, y) in itertools.pairwise(items):
            m.add(v.starts[y] >= v.ends[x])
    expr = cpsat.objective_expr(v, obj.weights)
    if upper is not None:
        m.add(expr <= upper)
    m.minimize(expr)
    cpsat.add_hint(v, data, current)
    out = cpsat.run(v, data, time_limit, workers, seed, params.cpsat)
    return out.status, out.schedule


def run_lns(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    deadline: float,
    workers: int,
    seed: int,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Run LNS on the incumbent until ``deadline`` or ``stop()``; return the improvements.

    Lexicographic objectives are not handled here (``solve`` runs them stage by stage).
    """
    rng = random.Random(seed)
    improved = 0
    fraction = params.lns.neighbourhood_jobs
    while deadline - time.perf_counter() > 0.2 and inc.schedule is not None:
        if stop is not None and stop():
            break
        current = inc.schedule
        free = neighbourhood(data, current, rng, fraction)
        budget = min(params.lns.sub_time_limit, deadline - time.perf_counter() - 0.1)
        if budget <= 0.05:
            break
        status, schedule = improve(
            data, params, current, free, budget, rng.randrange(1 << 30), workers=workers
        )
        if schedule is not None and inc.offer(schedule, "lns"):
            improved += 1
        elif status == Status.OPTIMAL:
            fraction = min(0.6, fraction * 1.1)
        else:
            fraction = max(0.05, fraction * 0.9)
    return improved
