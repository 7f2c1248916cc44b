"""Figures of one run: utilisation, delivery, lateness, transport, revenue, idle hours absorbed.

Definitions (the same for every policy):

* utilisation — busy machine-hours inside the simulated period over the machine-hours the
  factories offered (their capacity windows);
* utilisation ceiling — the work of every arrived order, each step on its fastest capable
  resource, over the same offered machine-hours: what utilisation would be if all the demand
  were served inside the period at the least machine time (the same for every policy). A run
  is above it only by spending more machine time than that: steps on slower machines than
  their fastest, overruns of the planned time;
* on-time rate — of the orders due inside the period, the share delivered by the due date
  (rejected and unfinished ones count as late);
* on-time rate of feasible orders — the same over the orders due inside the period that could
  be delivered by their due date on empty machines (``Arrival.feasible_alone``): in a
  calibrated world all of them, in a user's cluster file perhaps not;
* promises kept — of the orders the platform promised a delivery minute inside the period
  (``OrderOutcome.promised``), the share delivered by that minute; left out of the run's
  figures (shown "-") when no order has a promise (the dispatching policies promise nothing);
* lateness — hours past the due date at delivery, over the orders delivered;
* transport cost — truck trips between the sites of consecutive steps and to the buyer;
* revenue per factory — machine time of completed steps at the resource's hourly rate, summed
  per provider and averaged over the providers of the cluster;
* idle hours absorbed — machine-hours a factory worked on steps it would not have made without
  sharing (steps whose home factory is another one);
* work orders moved away — per arrived order, the work orders a provider had and lost to another
  provider when the platform re-planned (each a cancelled work order with its reason): what
  re-planning costs providers; left out (shown "-") for the dispatchers, which book nothing
  ahead and so never take work back.
"""

from __future__ import annotations

import math
import re

from sharefab.sim.record import Fate, OrderOutcome, RunRecord
from sharefab.sim.world import MINUTES_PER_DAY, World

METRICS: dict[str, str] = {
    "utilisation": "utilisation of offered capacity",
    "utilisation_ceiling": "utilisation ceiling (all arrived work, fastest resources)",
    "orders_arrived": "orders arrived",
    "orders_completed": "orders completed",
    "orders_rejected": "orders rejected",
    "on_time_rate": "on-time rate (orders due in the period)",
    "on_time_feasible_rate": "on-time rate (of those, feasible on empty machines)",
    "promises_kept_rate": "promises kept (promised in the period)",
    "lateness_mean_h": "mean lateness (h, delivered orders)",
    "lateness_p95_h": "p95 lateness (h, delivered orders)",
    "transport_cost_cny": "transport cost (CNY)",
    "revenue_per_factory_cny": "revenue per factory (CNY)",
    "idle_hours_absorbed": "idle machine-hours absorbed",
    "moved_away_per_order": "work orders moved to another provider, per order",
}
# `RunRecord.notes` key under which a policy that books ahead counts the work orders it moved
# from one provider to another
MOVED_AWAY = "work_orders_moved_away"


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


def _by(outcome: OrderOutcome, minute: int) -> bool:
    return (
        outcome.fate == Fate.completed
        and outcome.delivered is not None
        and outcome.delivered <= minute
    )


def utilisation_ceiling(record: RunRecord, world: World) -> float:
    """Every arrived order's work, each step on its fastest capable resource, over the
    machine-minutes offered inside the period."""
    offered = world.offered_minutes
    work = sum(
        min(m for _, m in step) for order in record.orders for step in world.modes[order] if step
    )
    return work / offered if offered else 0.0


def reason_group(message: str) -> str:
    """The group a rejection message counts under: its first clause (up to the first colon or
    semicolon), numbers written N (so that "operation 2 ..." and "operation 5 ..." count as
    one reason)."""
    first = re.split(r"[:;]", message, maxsplit=1)[0].strip()
    return re.sub(r"\b\d+\b", "N", first) or "(no reason given)"


def rejection_reasons(record: RunRecord) -> dict[str, int]:
    """How many orders of the run were rejected, per reason (`reason_group`)."""
    out: dict[str, int] = {}
    for o in record.orders.values():
        if o.fate == Fate.rejected:
            key = reason_group(o.reason)
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def run_metrics(record: RunRecord, world: World) -> dict[str, float]:
    """The figures of one run (see the module docstring); a figure the run has none of (promises
    kept, when nothing was promised) is left out."""
    end = world.end
    busy = sum(_busy_inside(e.start, e.busy, end) for e in record.executions)
    offered = world.offered_minutes
    orders = list(record.orders.values())
    due_inside = [o for o in orders if o.due <= end]
    on_time = sum(1 for o in due_inside if _by(o, o.due))
    feasible = [o for o in due_inside if o.feasible_alone]
    promised = [o for o in orders if o.promised is not None and o.promised <= end]
    kept = sum(1 for o in promised if o.promised is not None and _by(o, o.promised))
    late = lateness_hours(record)
    revenue = sum(
        e.planned * world.resource_rate[e.resource] / 60 for e in record.executions if e.done
    )
    absorbed = sum(
        _busy_inside(e.start, e.busy, end)
        for e in record.executions
        if world.resource_org[e.resource] != world.home_ops[e.order][e.position]
    )
    out = {
        "utilisation": busy / offered if offered else 0.0,
        "utilisation_ceiling": utilisation_ceiling(record, world),
        "orders_arrived": float(len(orders)),
        "orders_completed": float(sum(o.fate == Fate.completed for o in orders)),
        "orders_rejected": float(sum(o.fate == Fate.rejected for o in orders)),
        "on_time_rate": on_time / len(due_inside) if due_inside else 1.0,
        "on_time_feasible_rate": (
            sum(1 for o in feasible if _by(o, o.due)) / len(feasible) if feasible else 1.0
        ),
        "lateness_mean_h": sum(late) / len(late) if late else 0.0,
        "lateness_p95_h": percentile(late, 95),
        "transport_cost_cny": record.transport_cost / 100,
        "revenue_per_factory_cny": revenue / 100 / max(1, len(world.provider_orgs)),
        "idle_hours_absorbed": absorbed / 60,
    }
    if promised:
        out["promises_kept_rate"] = kept / len(promised)
    if MOVED_AWAY in record.notes and orders:
        out["moved_away_per_order"] = record.notes[MOVED_AWAY] / len(orders)
    return out


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
