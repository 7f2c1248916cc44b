"""`clairvoyant`: the limit - the cluster planner told the whole scenario in advance.

Not a policy a platform could run, but the reference an online policy is measured against:
the cluster planner (``optimize.cluster.lns.plan_cluster``: dispatch start plan, iterated
dispatch, queue re-sequencing, LNS with CP-SAT neighbourhoods) plans every order of the period
at once, knowing

- **every order**: released at its arrival minute, due at its due date, weighted by the order's
  weight (1-3);
- **every breakdown**: the repair span ``[at, at + repair)`` is cut out of that resource's
  capacity windows, so nothing is planned on a machine under repair (a step that may pause at a
  window end pauses for the repair and goes on after it, as in the simulator);
- **every realised duration**: a step on a resource takes ``scenario.actual_minutes`` of its
  planned minutes there; a step that may not pause must fit whole inside one window (what is
  left of it after repairs). The simulator starts such a step when its *planned* minutes fit
  and lets it overrun (overtime); the clairvoyant knows the real length and books exactly that.
  A resource on which the realised length fits no window at all is left out for that step; a
  step left with no resource (it only ever fits as overtime) is planned as if it could pause at
  the window end (counted in ``notes["paused_for_overtime"]``).

**Lateness at delivery.** The objective is weighted tardiness at delivery to the buyer, then
cost. Each order gets one more, zero-length operation - its *delivery* - on a pseudo-resource
at the buyer's site (``world.ship_to``), always open, free, after every last step of the
order: the planner's precedence-with-transport puts it no earlier than the end of each last
step plus the truck ride from that step's site to the buyer, and its transport-cost arcs charge
that truck. An order's completion in the plan - what its tardiness is counted on - is therefore
its delivery, and the final truck's cost is part of the cost objective.

**Budget.** Deterministic (``optimize.cluster.params.WorkLimit``; ``CLAIRVOYANT`` holds the
default, ``ClairvoyantParams`` the knob): the same world and scenario give the same plan and
record on any machine, however loaded, with any number of simulator workers. The default was
sized on the size-M, 8-week world (about 10,000 orders, 60,000 steps) to stay within about two
CPU-minutes a seed.

**Bound.** ``record.notes["tardiness_lower_bound"]`` is a proven lower bound on the weighted
tardiness of every plan of this same model (``optimize.cluster.queue_bound``: capacity-relaxed
earliest completions, delivery included, plus the queues on the most loaded resource pools),
``record.notes["tardiness"]`` the plan's own (weighted minutes). The gap between them is what
the budget leaves on the table; it is not a bound on what the simulator lets an online policy
do (overtime, above, is not in the model).

The plan must pass the independent validator (``optimize.validate``), then it becomes a
``RunRecord`` as the simulator would have recorded it: a step that starts before the period's
end is an execution (``busy``: its realised minutes; ``done`` if it ends before the period's
end), an order whose steps are all done is completed and delivered by the truck from its last
steps' sites, the others are in progress (some step started) or waiting; trucks are charged as
``sim.policies.dispatch`` charges them (inbound at a step's start, to the buyer at completion).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from sharefab.optimize.cluster.bounds import earliest_completions, tardiness_bound
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import ClusterResult, InlinePool, plan_cluster
from sharefab.optimize.cluster.params import ClusterParams, WorkLimit
from sharefab.optimize.cluster.queue_bound import queue_bound
from sharefab.optimize.data import (
    Job,
    Mode,
    Objective,
    ObjectiveTerm,
    Operation,
    ProblemData,
    Resource,
    Site,
)
from sharefab.optimize.result import Assignment
from sharefab.optimize.validate import validate
from sharefab.sim.arrivals import Arrival, Scenario
from sharefab.sim.params import SimParams
from sharefab.sim.policies import Progress
from sharefab.sim.policies.dispatch import charge_inbound, deliver
from sharefab.sim.record import Execution, Fate, OrderOutcome, RunRecord
from sharefab.sim.world import MINUTES_PER_WEEK, TAIL_WEEKS, World

# The default deterministic budget (see the module docstring).
CLAIRVOYANT = WorkLimit(
    neighbourhoods=60,
    batch=2,
    sub_deterministic_time=0.5,
    dispatch_rounds=20,
    resequence_steps=20,
    resequence_rest=4,
    validate_every=15,
)

# The planner's tunables for the clairvoyant: the start plan tries the operation-level rule
# (slack shares 0.5 and 1.0) and EDD; neighbourhoods of at most 80 operations (larger ones
# cost seconds of CP-SAT presolve each); the rest as in ``ClusterParams``.
PLANNER = ClusterParams(rules=("op_slack", "edd"), slack_shares=(1.0,), max_size=80)


@dataclass(frozen=True)
class ClairvoyantParams:
    """The clairvoyant's knobs: its deterministic budget, the planner's tunables, its seed
    (mixed with the scenario's), whether to price the lower bound, and how many weeks of
    windows (the last published week repeated) the plan may use past the world's: work the
    queues push beyond the published capacity needs somewhere to go, and nothing after the
    period's end is measured anyway."""

    work: WorkLimit = CLAIRVOYANT
    planner: ClusterParams = field(default_factory=lambda: PLANNER)
    seed: int = 0
    bound: bool = True
    extra_weeks: int = 6


def _cut(windows: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """``windows`` without ``[start, end)``."""
    out = []
    for s, e in windows:
        if e <= start or s >= end:
            out.append((s, e))
            continue
        if s < start:
            out.append((s, start))
        if end < e:
            out.append((end, e))
    return out


def known_windows(
    world: World, scenario: Scenario, extra_weeks: int = 0
) -> list[list[tuple[int, int]]]:
    """Each resource's capacity windows with the repair span of every breakdown cut out, and
    the last published week repeated ``extra_weeks`` more times."""
    last = world.end + (TAIL_WEEKS - 1) * MINUTES_PER_WEEK
    windows = []
    for spans in world.windows:
        week = [(s, e) for s, e in spans if s >= last]
        more = [(s + k * MINUTES_PER_WEEK, e + k * MINUTES_PER_WEEK)
                for k in range(1, extra_weeks + 1) for s, e in week]  # fmt: skip
        windows.append([*spans, *more])
    for b in scenario.breakdowns:
        windows[b.resource] = _cut(windows[b.resource], b.at, b.at + b.repair)
    return windows


def _fits(windows: list[tuple[int, int]], after: int, minutes: int, pausable: bool) -> bool:
    """Whether ``minutes`` of work fit the windows from ``after`` on (one window, or in all of
    them together for a step that may pause)."""
    k = max(0, bisect_right(windows, (after, 1 << 62)) - 1)
    left = minutes
    for s, e in windows[k:]:
        room = e - max(s, after)
        if room <= 0:
            continue
        if not pausable and room >= minutes:
            return True
        left -= room
        if pausable and left <= 0:
            return True
    return False


@dataclass
class Model:
    """The planning problem of one scenario and how to map it back."""

    data: ProblemData
    arrivals: list[Arrival]  # per job
    rejected: dict[int, str]  # order -> reason
    paused_for_overtime: int  # steps planned as if they could pause (see the docstring)


def build_model(world: World, scenario: Scenario, extra_weeks: int = 0) -> Model:
    """The cluster planner's problem for ``scenario`` (see the module docstring): one job per
    arrived order, its steps with their realised minutes, its delivery last; the windows run
    ``extra_weeks`` past the world's."""
    windows = known_windows(world, scenario, extra_weeks)
    n_res = len(world.windows)
    resources = [
        Resource(
            site=world.resource_site[r],
            cost_per_time=round(world.resource_rate[r] / 60),
            windows=tuple(windows[r]),
        )
        for r in range(n_res)
    ]
    delivery_res: dict[int, int] = {}  # buyer site -> its pseudo-resource
    jobs: list[Job] = []
    arrivals: list[Arrival] = []
    rejected: dict[int, str] = {}
    pausing = 0
    for a in scenario.arrivals:
        if a.at >= world.end:
            continue
        order = a.order
        ops: list[Operation] = []
        reason = ""
        paused = 0
        for pos, modes in enumerate(world.modes[order]):
            if not modes:
                reason = f"no resource can take operation {pos + 1}"
                break
            pausable = world.pausable[order][pos]
            real = [(r, scenario.actual_minutes(order, pos, planned)) for r, planned in modes]
            fit = [Mode(r, d) for r, d in real if _fits(windows[r], a.at, d, pausable)]
            if not fit and not pausable:  # it only ever fits as overtime: let it pause
                fit = [Mode(r, d) for r, d in real if _fits(windows[r], a.at, d, True)]
                pausable = bool(fit)
                paused += pausable
            if not fit:
                reason = f"no capacity window left for operation {pos + 1}"
                break
            ops.append(Operation(tuple(fit), pausable))
        if reason:
            rejected[order] = reason
            continue
        pausing += paused
        n = len(ops)
        arcs = [(p, k) for k in range(n) for p in world.preds[order][k]]
        sinks = [k for k in range(n) if not world.succs[order][k]]
        dest = world.ship_to[order]
        pseudo = delivery_res.setdefault(dest, n_res + len(delivery_res))
        ops.append(Operation((Mode(pseudo, 0),), name="delivery"))
        arcs += [(k, n) for k in sinks]
        jobs.append(
            Job(
                tuple(ops),
                tuple(arcs),
                release=a.at,
                due=a.due,
                weight=world.cluster.orders[order].weight,
                name=str(order),
            )
        )
        arrivals.append(a)
    for site in delivery_res:  # in order of their indices
        resources.append(Resource(site=site, cost_per_time=0, windows=(), name=f"buyer@{site}"))
    data = ProblemData(
        jobs=tuple(jobs),
        resources=tuple(resources),
        sites=tuple(Site(str(k)) for k in range(len(world.site_minutes))),
        transport_time=world.site_minutes,
        transport_cost=world.site_cost,
        objective=Objective(
            weights=((ObjectiveTerm.WEIGHTED_TARDINESS, 1), (ObjectiveTerm.COST, 1)),
            lexicographic=(ObjectiveTerm.WEIGHTED_TARDINESS, ObjectiveTerm.COST),
        ),
    )
    return Model(data, arrivals, rejected, pausing)


def plan(
    model: Model,
    seed: int,
    options: ClairvoyantParams,
    progress: Progress | None = None,
    end: int = 0,
) -> tuple[ClusterIndex, ClusterResult]:
    """The cluster planner on ``model`` in deterministic mode, in this process."""
    index = ClusterIndex.from_problem(model.data)

    def tick(share: float) -> None:
        if progress is not None:
            progress(int(share * end))

    result = plan_cluster(
        index,
        InlinePool(),
        seed=seed,
        params=options.planner,
        work_limit=options.work,
        on_progress=tick if progress is not None else None,
    )
    return index, result


def lower_bound(index: ClusterIndex) -> int:
    """A proven lower bound on the weighted tardiness of every plan of ``index``."""
    relaxed = tardiness_bound(index, earliest_completions(index))
    return max(relaxed, queue_bound(index).total)


def to_record(
    world: World, scenario: Scenario, model: Model, schedule: list[Assignment]
) -> RunRecord:
    """What the simulator would have recorded had the cluster run ``schedule`` (see the module
    docstring)."""
    record = RunRecord(policy="clairvoyant", seed=scenario.seed, end=world.end)
    end = world.end
    by_job: dict[int, list[Assignment]] = {}
    for a in schedule:
        by_job.setdefault(a.job, []).append(a)
    for arrival in scenario.arrivals:
        if arrival.at < end:
            o = arrival.order
            outcome = OrderOutcome(o, arrival.at, arrival.due, world.home[o])
            outcome.feasible_alone = arrival.feasible_alone
            record.orders[o] = outcome
    for order, reason in model.rejected.items():
        outcome = record.orders[order]
        outcome.fate, outcome.reason = Fate.rejected, reason
    # (start, resource, job, position, end, busy) of every step started inside the period
    started: list[tuple[int, int, int, int, int, int]] = []
    for j, arrival in enumerate(model.arrivals):
        order = arrival.order
        n_steps = len(world.modes[order])
        steps = sorted((a for a in by_job[j] if a.operation < n_steps), key=lambda a: a.operation)
        outcome = record.orders[order]
        ends: dict[int, int] = {}
        sites: dict[int, int] = {}
        any_started = False
        for a in steps:
            if a.start >= end:
                continue
            any_started = True
            busy = model.data.duration(model.data.op_index(j, a.operation), a.resource) or 0
            started.append((a.start, a.resource, j, a.operation, a.end, busy))
            if a.end < end:
                ends[a.operation] = a.end
                sites[a.operation] = world.resource_site[a.resource]
        if len(ends) == len(steps):
            outcome.fate = Fate.completed  # ``deliver`` below sets it and the delivery
        elif any_started:
            outcome.fate = Fate.in_progress
    started.sort()
    step_sites: dict[tuple[int, int], int] = {}
    for s, r, j, pos, e, busy in started:
        order = model.arrivals[j].order
        planned = dict(world.modes[order][pos])[r]
        record.executions.append(Execution(order, pos, r, s, e, busy, planned, done=e < end))
        step_sites[(order, pos)] = world.resource_site[r]
    for _, r, j, pos, _, _ in started:
        order = model.arrivals[j].order
        preds = {p: step_sites[(order, p)] for p in world.preds[order][pos]}
        charge_inbound(record, world, order, pos, r, preds)
    for j, arrival in enumerate(model.arrivals):
        outcome = record.orders[arrival.order]
        if outcome.fate != Fate.completed:
            continue
        steps = [a for a in by_job[j] if a.operation < len(world.modes[arrival.order])]
        deliver(
            record,
            world,
            outcome,
            {a.operation: a.end for a in steps},
            {a.operation: world.resource_site[a.resource] for a in steps},
        )
    record.note("breakdowns", sum(1 for b in scenario.breakdowns if b.at < end))
    record.event_times = sorted({s for s, *_ in started})
    return record


def run_clairvoyant(
    world: World,
    scenario: Scenario,
    progress: Progress | None = None,
    params: SimParams | None = None,
    clairvoyant: ClairvoyantParams | None = None,
) -> RunRecord:
    """Plan the whole of ``scenario`` in advance with the cluster planner and record the plan
    as the simulator would have (see the module docstring). ``params`` is unused (the world's
    draws are already in ``scenario``); ``clairvoyant`` sets the budget."""
    options = clairvoyant or ClairvoyantParams()
    model = build_model(world, scenario, options.extra_weeks)
    if progress is not None:
        progress(0)
    if not model.data.jobs:
        record = to_record(world, scenario, model, [])
        record.notes["tardiness"] = record.notes["tardiness_lower_bound"] = 0
        return record
    seed = options.seed * 1_000_003 + scenario.seed
    index, result = plan(model, seed, options, progress, world.end)
    problems = validate(model.data, result.schedule)
    if problems:  # the planner only returns validated plans: this is a bug, say where
        raise RuntimeError(f"the clairvoyant plan is invalid: {problems[0]}")
    record = to_record(world, scenario, model, result.schedule)
    record.notes["tardiness"] = result.values[0]
    if options.bound:
        record.notes["tardiness_lower_bound"] = lower_bound(index)
    record.notes["paused_for_overtime"] = model.paused_for_overtime
    record.notes["neighbourhoods"] = result.iterations
    if progress is not None:
        progress(world.end)
    return record
