"""The cluster planner's search on a rolling plan: LNS from the plan the heuristics found.

``polish(timelines, network, pending, now, start, pool, work)`` hands the steps still to place to
the cluster planner (``cluster.lns.plan_cluster``: CP-SAT neighbourhoods solved on ``pool``, a
process pool or a Dask cluster, or in this process) warm-started from ``start`` (a
``rolling.Replanned``), and returns its plan as a ``Replanned`` scored like every other
candidate, so the caller keeps whichever is better.

The translation, in minutes from just before ``now`` and every input waited for:

- a resource's windows are its free segments (capacity minus what cannot move), cut at a
  horizon past the start plan;
- an order is a job: its pending steps, their precedences, its weight, and as due date its
  target (due date, else promise) less the shortest final truck to the buyer;
- work an input waits for outside the plan (``Step.after``: a running step, a finished one in
  transit) is a fixed operation on a resource of its own at that site, ending when the output
  is ready, so the truck from there counts as between any two steps.

The cluster planner minimises weighted tardiness, then cost. Its plan is then made to run on
the live plan's rules (``rolling.retime``: each step on the resource the planner chose, in the
planner's order, as early as it fits), which differ in one point: the live plan lets work pause
only over the resource's own off-shift gaps, never over a booking; the score comes from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sharefab.optimize.cluster.checks import PlanningInputError
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import TaskPool, plan_cluster, warm_plan
from sharefab.optimize.cluster.params import ClusterParams, WorkLimit
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, ProblemDataError, Resource
from sharefab.optimize.data import Site as ClusterSite
from sharefab.optimize.live import Network, Timeline
from sharefab.optimize.result import Assignment
from sharefab.optimize.rolling import Pending, Replanned, retime

# a small budget: a re-optimisation tries this many neighbourhoods of a few orders each
POLISH_WORK = WorkLimit(
    neighbourhoods=12,
    batch=2,
    sub_deterministic_time=0.2,
    dispatch_rounds=0,
    resequence_steps=2,
    validate_every=2,
)


def _problem(
    timelines: Sequence[Timeline],
    network: Network,
    pending: Sequence[Pending],
    now: int,
    start: Replanned,
) -> tuple[ProblemData, list[Assignment], int] | None:
    """The cluster problem (job ``j`` is ``pending[j]``), the start plan as its schedule, and
    the minute its times count from (None when the start plan does not place every order)."""
    orders = [p for p in pending if p.key in start.slots]
    if not orders or len(orders) != len(pending):
        return None
    # times count from `origin`: before now and before every input waited for
    origin = min([now, *(ready for p in orders for s in p.steps for _, ready in s.after)]) - 1
    longest = sum(max(m for _, m in s.modes) for p in orders for s in p.steps)
    last = max(e for p in orders for _, _, e in start.slots[p.key])
    horizon = max(last, now) - origin + longest + max(map(max, network.minutes)) + 1
    resources = []
    for r, line in enumerate(timelines):
        windows = []
        for s, e in zip(line.starts, line.ends, strict=True):
            a, b = max(s, now) - origin, min(e - origin, horizon)
            if b > a:
                windows.append((a, b))
        # no free time left: one window no step fits in keeps the resource valid
        resources.append(
            Resource(site=network.site[r], cost_per_time=network.cost[r], windows=tuple(windows))
            if windows
            else Resource(site=network.site[r], windows=((horizon, horizon + 1),))
        )
    jobs: list[Job] = []
    schedule: list[Assignment] = []
    for j, p in enumerate(orders):
        ops = [Operation(tuple(Mode(r, m) for r, m in s.modes), s.pausable) for s in p.steps]
        arcs = [(q, k) for k, s in enumerate(p.steps) for q in s.preds]
        slots = start.slots[p.key]
        schedule += [
            Assignment(j, k, r, a - origin, b - origin) for k, (r, a, b) in enumerate(slots)
        ]
        for k, step in enumerate(p.steps):
            for site, ready in step.after:
                end = ready - origin
                resources.append(Resource(site=site, windows=((0, end),)))
                arcs.append((len(ops), k))
                schedule.append(Assignment(j, len(ops), len(resources) - 1, 0, end))
                ops.append(Operation((Mode(len(resources) - 1, end),)))
        target = p.due if p.due is not None else p.deadline
        due = None
        if target is not None:
            sinks = [k for k in range(len(p.steps)) if not any(k in s.preds for s in p.steps)]
            truck = min(
                (
                    network.minutes[network.site[r]][p.ship_to] if p.ship_to >= 0 else 0
                    for k in sinks
                    for r, _ in p.steps[k].modes
                ),
                default=0,
            )
            due = max(0, target - truck - origin)
        jobs.append(
            Job(
                tuple(ops),
                tuple(arcs),
                # the inputs waited for start at 0; windows start at now for every step
                release=0 if len(ops) > len(p.steps) else max(p.release, now) - origin,
                due=due,
                weight=p.weight,
            )
        )
    sites = tuple(ClusterSite() for _ in network.minutes)
    data = ProblemData(
        jobs=tuple(jobs),
        resources=tuple(resources),
        sites=sites,
        transport_time=tuple(tuple(row) for row in network.minutes),
        transport_cost=tuple(tuple(row) for row in network.truck_cost),
    )
    return data, schedule, origin


def polish(
    timelines: Sequence[Timeline],
    network: Network,
    pending: Sequence[Pending],
    now: int,
    start: Replanned,
    pool: TaskPool | None = None,
    work: WorkLimit | None = POLISH_WORK,
    time_limit: float = 10.0,
    seed: int = 0,
    params: ClusterParams | None = None,
    on_improve: Callable[[float, tuple[int, int]], None] | None = None,
) -> Replanned:
    """The cluster planner's plan from ``start`` (see the module docstring), scored on the live
    plan's rules; ``start`` itself when there is nothing to search (an order ``start`` could
    not place, a start the planner's validator refuses).

    ``work``: a deterministic budget (the same plan on any machine and pool); None: search
    for ``time_limit`` seconds. ``on_improve(seconds, (weighted tardiness, cost))`` hears each
    better plan the search finds (it may raise to stop the search)."""
    built = _problem(timelines, network, pending, now, start)
    if built is None:
        return start
    data, schedule, origin = built
    try:
        index = ClusterIndex.from_problem(data)
    except (ProblemDataError, PlanningInputError):
        return start
    if warm_plan(index, schedule) is None:
        return start
    result = plan_cluster(
        index,
        pool,
        time_limit,
        seed,
        params,
        on_improve,
        work_limit=work,
        initial=schedule,
    )
    stay = {p.key: list(start.slots[p.key]) for p in pending}
    for a in result.schedule:
        slots = stay[pending[a.job].key]
        if a.operation < len(slots):  # not an input waited for
            slots[a.operation] = (a.resource, a.start + origin, a.end + origin)
    return retime(timelines, network, pending, now, stay)
