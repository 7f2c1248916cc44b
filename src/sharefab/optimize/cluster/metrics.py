"""What an operator reads off a plan: tardiness, on-time rate, makespan, cost, utilisation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.cluster.timeline import window_time


@dataclass(frozen=True)
class PlanMetrics:
    weighted_tardiness: int  # sum of weight x minutes late
    on_time_rate: float  # share of orders finished by their due date
    makespan: int  # end of the last operation (minutes from the horizon start)
    total_cost: int  # processing plus transport, minor currency units
    utilisation: float  # booked share of the capacity offered before ``horizon``

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def offered_and_booked(plan: Plan, horizon: int | None) -> tuple[int, int]:
    """Minutes offered by all windows before ``horizon`` (all windows: None) and minutes of
    them booked."""
    x = plan.index
    limit = horizon if horizon is not None else 1 << 60
    offered = sum(max(0, min(e, limit) - s) for w in x.windows for s, e in w if s < limit)
    booked = 0
    for i, r in enumerate(plan.res):
        if plan.start[i] >= limit:
            continue
        end = min(plan.end[i], limit)
        if x.interruptible[i]:  # the off-shift gaps it spans are not offered time
            booked += window_time(x.windows[r], plan.start[i], end)
        else:
            booked += end - plan.start[i]
    return offered, booked


def plan_metrics(plan: Plan, horizon: int | None = None) -> PlanMetrics:
    x = plan.index
    wt, cost = plan.values()
    on_time = sum(1 for j, due in enumerate(x.due) if due is None or plan.completion(j) <= due)
    offered, booked = offered_and_booked(plan, horizon)
    return PlanMetrics(
        weighted_tardiness=wt,
        on_time_rate=on_time / max(1, x.num_jobs),
        makespan=max(plan.end, default=0),
        total_cost=cost,
        utilisation=booked / offered if offered else 0.0,
    )
