"""Figures of one run: utilisation, delivery, lateness, transport, revenue, idle hours absorbed.

Definitions (the same for every policy):

* utilisation — busy machine-hours inside the simulated period over the machine-hours the
  factories offered (their capacity windows);
* on-time rate — of the orders due inside the period, the share delivered by the due date
  (rejected and unfinished ones count as late);
* lateness — hours past the due date at delivery, over the orders delivered;
* transport cost — truck trips between the sites of consecutive steps and to the buyer;
* revenue per factory — machine time of completed steps at the resource's hourly rate, summed
  per provider and averaged over the providers of the cluster;
* idle hours absorbed — machine-hours a factory worked on steps it would not have made without
  sharing (steps whose home factory is another one).
"""

from __future__ import annotations

import math

from sharefab.sim.record import Fate, RunRecord
from sharefab.sim.world import MINUTES_PER_DAY, World

METRICS: dict[str, str] = {
    "utilisation": "utilisation of offered capacity",
    "orders_arrived": "orders arrived",
    "orders_completed": "orders completed",
    "orders_rejected": "orders rejected",
    "on_time_rate": "on-time rate (orders due in the period)",
    "lateness_mean_h": "mean lateness (h, delivered orders)",
    "lateness_p95_h": "p95 lateness (h, delivered orders)",
    "transport_cost_cny": "transport cost (CNY)",
    "revenue_per_factory_cny": "revenue per factory (CNY)",
    "idle_hours_absorbed": "idle machine-hours absorbed",
}


def _busy_inside(start: int, busy: int, end: int) -> int:
    return max(0, min(busy, end - start))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def lateness_hours(record: RunRecord) -> list[float]:
    """Hours past due of every delivered order."""
    return [
        max(0, o.delivered - o.due) / 60
        for o in record.orders.values()
        if o.fate == Fate.completed and o.delivered is not None
    ]


def run_metrics(record: RunRecord, world: World) -> dict[str, float]:
    """The figures of one run (see the module docstring)."""
    end = world.end
    busy = sum(_busy_inside(e.start, e.busy, end) for e in record.executions)
    offered = world.offered_minutes
    orders = list(record.orders.values())
    due_inside = [o for o in orders if o.due <= end]
    on_time = sum(
        1
        for o in due_inside
        if o.fate == Fate.completed and o.delivered is not None and o.delivered <= o.due
    )
    late = lateness_hours(record)
    revenue = sum(
        e.planned * world.resource_rate[e.resource] / 60 for e in record.executions if e.done
    )
    absorbed = sum(
        _busy_inside(e.start, e.busy, end)
        for e in record.executions
        if world.resource_org[e.resource] != world.home_ops[e.order][e.position]
    )
    return {
        "utilisation": busy / offered if offered else 0.0,
        "orders_arrived": float(len(orders)),
        "orders_completed": float(sum(o.fate == Fate.completed for o in orders)),
        "orders_rejected": float(sum(o.fate == Fate.rejected for o in orders)),
        "on_time_rate": on_time / len(due_inside) if due_inside else 1.0,
        "lateness_mean_h": sum(late) / len(late) if late else 0.0,
        "lateness_p95_h": percentile(late, 95),
        "transport_cost_cny": record.transport_cost / 100,
        "revenue_per_factory_cny": revenue / 100 / max(1, len(world.provider_orgs)),
        "idle_hours_absorbed": absorbed / 60,
    }


def daily_utilisation(record: RunRecord, world: World) -> list[float]:
    """Busy over offered machine-hours, day by day (work spread over its span)."""
    days = world.end // MINUTES_PER_DAY
    offered = [0] * days
    for spans in world.windows:
        for s, e in spans:
            for d in range(s // MINUTES_PER_DAY, min(days, -(-e // MINUTES_PER_DAY))):
                lo, hi = d * MINUTES_PER_DAY, (d + 1) * MINUTES_PER_DAY
                offered[d] += max(0, min(e, hi) - max(s, lo))
    busy = [0.0] * days
    for ex in record.executions:
        span = max(1, ex.end - ex.start)
        share = ex.busy / span
        for d in range(ex.start // MINUTES_PER_DAY, min(days, -(-ex.end // MINUTES_PER_DAY))):
            lo, hi = d * MINUTES_PER_DAY, (d + 1) * MINUTES_PER_DAY
            busy[d] += share * max(0, min(ex.end, hi) - max(ex.start, lo))
    return [b / o if o else 0.0 for b, o in zip(busy, offered, strict=True)]
