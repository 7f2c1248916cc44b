"""The quote as the platform made it before the live plan (commit e12f082), for `bench/quote.py`
to time beside today's: per order, the candidates and their free spans read from the database,
then one CP-SAT solve per option over a 42-day frame (2 s at most, or the deterministic time
given). Only the benchmark uses it.

A `Frame` fixes the time origin (`t0`, minute 0) and the horizon. Each candidate resource is
offered to the solver as the spans it is free in: its capacity windows minus live bookings and
downtimes, so committed work never moves. Costs are hourly rates (per minute x 60) divided by
the provider's matching weight, so providers with better credit win close calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sharefab.capacity.models import Resource, ResourceCapability, Site
from sharefab.kit import geo
from sharefab.kit.timespan import Span, clip, subtract
from sharefab.optimize.data import (
    Job,
    Mode,
    Objective,
    ObjectiveTerm,
    ProblemData,
)
from sharefab.optimize.data import Operation as SolverOperation
from sharefab.optimize.data import Resource as SolverResource
from sharefab.optimize.data import Site as SolverSite
from sharefab.optimize.params import SolveParams
from sharefab.orders.models import Operation, Order
from sharefab.orders.routing import operation_minutes

OPTIONS: dict[str, Objective] = {
    "fastest": Objective(
        lexicographic=(ObjectiveTerm.MAKESPAN, ObjectiveTerm.COST),
        weights=((ObjectiveTerm.MAKESPAN, 1), (ObjectiveTerm.COST, 1)),
    ),
    "cheapest": Objective(
        lexicographic=(ObjectiveTerm.COST, ObjectiveTerm.MAKESPAN),
        weights=((ObjectiveTerm.COST, 1), (ObjectiveTerm.MAKESPAN, 1)),
    ),
    "balanced": Objective(
        lexicographic=(
            ObjectiveTerm.WEIGHTED_TARDINESS,
            ObjectiveTerm.COST,
            ObjectiveTerm.MAKESPAN,
        ),
        weights=(
            (ObjectiveTerm.WEIGHTED_TARDINESS, 1),
            (ObjectiveTerm.COST, 1),
            (ObjectiveTerm.MAKESPAN, 1),
        ),
    ),
}


@dataclass(frozen=True)
class Frame:
    """Minute 0 of a problem and its end; converts between datetimes and minutes."""

    t0: datetime
    horizon_end: datetime

    def minute(self, moment: datetime) -> int:
        """Whole minutes from t0 (rounded up, so nothing starts before `moment`)."""
        return max(0, math.ceil((moment - self.t0).total_seconds() / 60))

    def at(self, minute: int) -> datetime:
        """The datetime of a minute offset."""
        return self.t0 + timedelta(minutes=minute)


@dataclass
class Candidate:
    """A resource that can run an operation, with its duration and free spans (in minutes)."""

    resource: Resource
    capability: ResourceCapability
    site: Site
    minutes: int
    weight: float
    free: list[tuple[int, int]]


@dataclass
class Excluded:
    """A resource with the capability that cannot take the operation, and why."""

    resource: Resource
    site: Site
    reason: str


@dataclass
class StepCandidates:
    """Everything known about placing one operation."""

    operation: Operation
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)


def free_minutes(
    frame: Frame, windows: Iterable[Span], busy: Iterable[Span]
) -> list[tuple[int, int]]:
    """A resource's free spans as sorted minute pairs inside the frame."""
    bounds = (frame.t0, frame.horizon_end)
    offered = [c for w in windows if (c := clip(w, bounds))]
    spans = []
    for start, end in subtract(offered, busy):
        a, b = frame.minute(start), int((end - frame.t0).total_seconds() // 60)
        if b > a:
            spans.append((a, b))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def duration_on(operation: Operation, resource: Resource) -> int:
    """Minutes `operation` takes on `resource` (its class's unit time, else the default)."""
    unit = operation.class_unit_seconds.get(resource.resource_class, operation.unit_seconds)
    return max(1, operation_minutes(operation.setup_minutes, operation.quantity, unit))


def qualify(operation: Operation, capability: ResourceCapability, resource: Resource) -> str | None:
    """Why a resource offering the capability cannot take the operation, or None."""
    if not resource.is_active:
        return "inactive"
    handled = {m.lower() for m in capability.materials}
    if operation.material and handled and operation.material.lower() not in handled:
        return f"does not handle material {operation.material}"
    missing = sorted(set(operation.certifications) - set(capability.certifications))
    if missing:
        return f"lacks certification {', '.join(missing)}"
    return None


@dataclass(frozen=True)
class SiteGraph:
    """The sites of a problem with truck time and cost between each pair."""

    sites: list[Site]
    index: dict[int, int]

    @classmethod
    def of(cls, sites: Iterable[Site]) -> SiteGraph:
        unique = {s.id: s for s in sites}
        ordered = [unique[k] for k in sorted(unique)]
        return cls(ordered, {s.id: i for i, s in enumerate(ordered)})

    def minutes(self, a: Site, b: Site) -> int:
        return geo.truck_minutes(a.latitude, a.longitude, b.latitude, b.longitude)

    def cost(self, a: Site, b: Site) -> int:
        return geo.truck_cost_minor(a.latitude, a.longitude, b.latitude, b.longitude)

    def matrices(self, cost_scale: int) -> tuple[list[list[int]], list[list[int]]]:
        times = [[self.minutes(a, b) for b in self.sites] for a in self.sites]
        costs = [[self.cost(a, b) * cost_scale for b in self.sites] for a in self.sites]
        return times, costs


@dataclass
class OrderProblem:
    """A solver problem for one or more orders, with the maps to turn answers into rows."""

    data: ProblemData
    frame: Frame
    steps: list[list[StepCandidates]]  # per job, per operation position
    resources: list[Candidate | None]  # solver resource index -> a candidate (for its rows)
    resource_rows: list[Resource]
    site_graph: SiteGraph


def build_problem(
    frame: Frame,
    orders: Sequence[Order],
    steps: Sequence[Sequence[StepCandidates]],
    objective: Objective,
    fixed_minutes: Callable[[Order], int] | None = None,
) -> OrderProblem:
    """A ProblemData placing `orders`' operations on their candidates' free spans."""
    resource_rows: dict[int, Resource] = {}
    first_candidate: dict[int, Candidate] = {}
    sites: list[Site] = []
    for order_steps in steps:
        for step in order_steps:
            for c in step.candidates:
                resource_rows.setdefault(c.resource.id, c.resource)
                first_candidate.setdefault(c.resource.id, c)
                sites.append(c.site)
    graph = SiteGraph.of(sites)
    ordered_ids = sorted(resource_rows)
    solver_index = {rid: i for i, rid in enumerate(ordered_ids)}
    solver_resources = []
    for rid in ordered_ids:
        c = first_candidate[rid]
        cost = max(0, round(c.resource.hourly_rate_minor / max(c.weight, 0.1)))
        solver_resources.append(
            SolverResource(
                site=graph.index[c.site.id],
                cost_per_time=cost,
                windows=tuple(c.free),
                name=f"resource {rid}",
            )
        )
    jobs = []
    for order, order_steps in zip(orders, steps, strict=True):
        position = {step.operation.seq: k for k, step in enumerate(order_steps)}
        ops = [
            SolverOperation(
                modes=tuple(Mode(solver_index[c.resource.id], c.minutes) for c in step.candidates),
                name=f"order {order.id} step {step.operation.seq}",
            )
            for step in order_steps
        ]
        arcs = tuple(
            (position[p], position[step.operation.seq])
            for step in order_steps
            for p in step.operation.predecessors
            if p in position
        )
        release = fixed_minutes(order) if fixed_minutes else frame.minute(order.release_at)
        jobs.append(
            Job(
                operations=tuple(ops),
                precedences=arcs,
                release=release,
                due=frame.minute(order.promised_at or order.due_at),
                weight=order.weight,
                name=f"order {order.id}",
            )
        )
    times, costs = graph.matrices(cost_scale=60)
    data = ProblemData(
        jobs=tuple(jobs),
        resources=tuple(solver_resources),
        sites=tuple(SolverSite(name=s.name) for s in graph.sites),
        transport_time=tuple(tuple(r) for r in times),
        transport_cost=tuple(tuple(r) for r in costs),
        objective=objective,
    )
    return OrderProblem(
        data=data,
        frame=frame,
        steps=[list(s) for s in steps],
        resources=[first_candidate[rid] for rid in ordered_ids],
        resource_rows=[resource_rows[rid] for rid in ordered_ids],
        site_graph=graph,
    )


def machine_price(minutes: int, hourly_rate_minor: int) -> int:
    """What `minutes` of a resource cost at its hourly rate, rounded half up to a minor unit."""
    return (minutes * hourly_rate_minor * 2 + 60) // 120


QUOTE_HORIZON_DAYS = 42
SOLVE_SECONDS_PER_OPTION = 2.0


def collect_candidates(session: Session, frame: Frame, order: Order) -> list[StepCandidates]:
    """For each operation of `order`, the resources that can take it with their free spans."""
    from sharefab.capacity import service as capacity
    from sharefab.market import repository
    from sharefab.reputation import service as reputation

    rows_by_op = {
        op.id: capacity.candidates_for(session, op.capability_code) for op in order.operations
    }
    ids = sorted({r.id for rows in rows_by_op.values() for r, _, _ in rows})
    windows, down = capacity.unavailable_spans(session, ids, frame.t0, frame.horizon_end)
    busy: dict[int, list[Span]] = {rid: list(down[rid]) for rid in ids}
    for b in repository.live_bookings_in_span(session, ids, frame.t0, frame.horizon_end):
        busy[b.resource_id].append((b.starts_at, b.ends_at))
    orgs = {r.organization_id for rows in rows_by_op.values() for r, _, _ in rows}
    weights = {org: reputation.matching_weight(session, org) for org in orgs}
    steps = []
    for op in order.operations:
        step = StepCandidates(operation=op)
        for resource, cap, site in rows_by_op[op.id]:
            reason = qualify(op, cap, resource)
            if reason:
                step.excluded.append(Excluded(resource, site, reason))
                continue
            minutes = duration_on(op, resource)
            free = free_minutes(frame, windows[resource.id], busy[resource.id])
            if any(b - a >= minutes for a, b in free):
                step.candidates.append(
                    Candidate(resource, cap, site, minutes, weights[resource.organization_id], free)
                )
        steps.append(step)
    return steps


def cpsat_quote(
    session: Session, order: Order, now: datetime, deterministic_time: float | None = None
) -> dict[str, datetime | None]:
    """Per option: the delivery of the solved plan (the final truck included when the order has
    a delivery site), None when no valid plan was found."""
    from sharefab.capacity.models import Site as SiteRow
    from sharefab.optimize.solve import solve_validated

    t0 = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    frame = Frame(
        t0=t0,
        horizon_end=max(t0 + timedelta(days=QUOTE_HORIZON_DAYS), order.due_at + timedelta(days=7)),
    )
    steps = collect_candidates(session, frame, order)
    params = (
        None if deterministic_time is None else SolveParams(deterministic_time=deterministic_time)
    )
    home = session.get(SiteRow, order.delivery_site_id) if order.delivery_site_id else None
    out: dict[str, datetime | None] = {}
    for option, objective in OPTIONS.items():
        if any(not s.candidates for s in steps):
            out[option] = None
            continue
        problem = build_problem(frame, [order], [steps], objective)
        result, valid = solve_validated(problem.data, params, SOLVE_SECONDS_PER_OPTION, 1, 0)
        if not valid:
            out[option] = None
            continue
        last = max(result.schedule, key=lambda a: a.end)
        truck = 0
        if home is not None:
            site = problem.resources[last.resource]
            assert site is not None
            truck = problem.site_graph.minutes(site.site, home)
        out[option] = frame.at(last.end + truck)
    return out
