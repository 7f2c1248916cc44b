"""Large-neighbourhood search around CP-SAT.

Each iteration frees a neighbourhood of the incumbent (a random set of jobs, or every operation
that overlaps a random time window), keeps every other operation as a fixed booking, and re-solves
with CP-SAT for a short time, warm-started from the incumbent. Improvements go to the incumbent.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import TYPE_CHECKING

from sharefab.optimize import cpsat
from sharefab.optimize.data import FixedBooking, ProblemData
from sharefab.optimize.params import SolveParams
from sharefab.optimize.result import Assignment

if TYPE_CHECKING:
    from sharefab.optimize.solve import Incumbent


def neighbourhood(
    data: ProblemData, schedule: list[Assignment], rng: random.Random, fraction: float
) -> set[tuple[int, int]]:
    """Operations (job, operation) to free: a random job subset or a random time window."""
    n_jobs = data.num_jobs
    if rng.random() < 0.5:
        k = max(1, round(fraction * n_jobs))
        jobs = set(rng.sample(range(n_jobs), min(k, n_jobs)))
        return {(a.job, a.operation) for a in schedule if a.job in jobs}
    horizon = max(a.end for a in schedule)
    width = max(1, round(fraction * horizon))
    t = rng.randrange(0, max(1, horizon - width + 1))
    return {(a.job, a.operation) for a in schedule if a.start < t + width and a.end > t}


def run_lns(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    deadline: float,
    workers: int,
    seed: int,
) -> int:
    """Run LNS until ``deadline``; return the number of improving iterations."""
    rng = random.Random(seed)
    improved = 0
    fraction = params.lns.neighbourhood_jobs
    given = {(b.job, b.operation) for b in data.fixed}
    while deadline - time.perf_counter() > 0.2 and inc.schedule is not None:
        current = inc.schedule
        free = neighbourhood(data, current, rng, fraction)
        fixed = list(data.fixed) + [
            FixedBooking(a.job, a.operation, a.resource, a.start, a.end)
            for a in current
            if (a.job, a.operation) not in free and (a.job, a.operation) not in given
        ]
        sub = dataclasses.replace(data, fixed=tuple(fixed))
        horizon = sub.horizon()
        if data.objective.is_makespan:
            horizon = max(a.end for a in current)
        v = cpsat.build(sub, params.cpsat, horizon, data.objective.terms)
        v.model.minimize(cpsat.objective_expr(v, data.objective.weights))
        cpsat.add_hint(v, sub, current)
        budget = min(params.lns.sub_time_limit, deadline - time.perf_counter() - 0.1)
        if budget <= 0.05:
            break
        out = cpsat.run(v, sub, budget, workers, rng.randrange(1 << 30), params.cpsat)
        if out.schedule is not None and inc.offer(out.schedule, "lns"):
            improved += 1
            fraction = max(0.05, fraction * 0.95)
        elif out.status.value == "optimal":
            fraction = min(0.8, fraction * 1.1)
    return improved
