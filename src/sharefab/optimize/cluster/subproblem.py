"""A neighbourhood as a small, self-contained problem: free operations, the rest fixed.

``extract(plan, free, ...)`` turns a set of operations to re-plan into a ``SubProblem`` that a
worker can solve without the cluster: only plain lists, a few kilobytes, picklable. Everything
outside the neighbourhood is fixed and enters as data:

- each resource a free operation may use is blocked, while free operations may use it, by the gaps
  between its capacity windows and by the bookings of operations that stay where they are;
- a fixed predecessor gives each mode an earliest start (its end plus transport to the mode's
  site), a fixed successor a latest end (its start minus transport), both mode by mode;
- transport cost to and from fixed neighbours is folded into each mode's cost;
- an order's due date becomes ``max(due, latest end of its fixed operations)``, so the order's
  tardiness in the sub-problem differs from its true tardiness by a constant.

The sub-problem's weighted tardiness and cost therefore differ from the cluster's by constants,
and the current placement (the hint) is feasible: a solved sub-problem never makes the plan
worse (the planner still compares the true objective before it accepts an answer).

An interruptible free operation may run over off-shift gaps: for it the sub-problem carries each
resource's windows and, apart from the off-shift gaps, the time fixed bookings take (``booked``).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sharefab.optimize.cluster.plan import Plan


@dataclass(frozen=True)
class SubMode:
    resource: int  # local resource index
    duration: int
    cost: int  # processing plus transport to and from fixed neighbours
    earliest_start: int
    latest_end: int


@dataclass(frozen=True)
class SubOp:
    op: int  # global operation index
    job: int  # local job index
    modes: tuple[SubMode, ...]
    hint_mode: int  # position in ``modes`` of the current placement
    hint_start: int
    hint_end: int
    interruptible: bool = False  # may pause at a window end and go on in the next window


@dataclass(frozen=True)
class SubProblem:
    """What a worker needs to re-plan one neighbourhood (see the module docstring)."""

    tag: int
    kind: str
    t0: int
    t1: int
    ops: tuple[SubOp, ...]
    arcs: tuple[tuple[int, int], ...]  # local op positions
    resources: tuple[int, ...]  # global resource of each local resource
    res_site: tuple[int, ...]  # local site of each local resource
    blocked: tuple[tuple[tuple[int, int], ...], ...]  # per local resource, within its use span
    booked: tuple[tuple[tuple[int, int], ...], ...]  # the same, fixed bookings only
    windows: tuple[tuple[tuple[int, int], ...], ...]  # per local resource, around its use span
    tt: tuple[tuple[int, ...], ...]  # between local sites
    tc: tuple[tuple[int, ...], ...]
    job_weight: tuple[int, ...]
    job_due: tuple[int | None, ...]  # effective due date (see the module docstring)

    @property
    def size(self) -> int:
        return len(self.ops)


@dataclass(frozen=True)
class SubSolution:
    """A worker's answer: new (operation, resource, start, end) for every free operation."""

    tag: int
    kind: str
    status: str  # optimal | feasible | unknown | infeasible
    changes: tuple[tuple[int, int, int, int], ...] = ()
    objective: int | None = None
    hint_objective: int | None = None
    wall_time: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


def _windows_around(plan: Plan, r: int, t0: int, t1: int) -> tuple[tuple[int, int], ...]:
    """The windows of resource ``r`` that overlap [t0, t1) (no windows: one open window)."""
    windows = plan.index.windows[r]
    if not windows:
        return ((t0, t1),)
    k = max(0, bisect_right(windows, (t0, 1 << 62)) - 1)
    out = []
    while k < len(windows) and windows[k][0] < t1:
        if windows[k][1] > t0:
            out.append(windows[k])
        k += 1
    return tuple(out)


def _blocked(
    plan: Plan, r: int, free: Collection[int], t0: int, t1: int, gaps: bool = True
) -> tuple[tuple[int, int], ...]:
    """Time of resource ``r`` in [t0, t1) that free operations may not use, merged (``gaps``:
    with the time outside its windows)."""
    spans: list[tuple[int, int]] = []
    windows = plan.index.windows[r]
    if windows and gaps:
        starts = [s for s, _ in windows]
        k = max(0, bisect_right(starts, t0) - 1)
        prev = t0
        while k < len(windows) and windows[k][0] < t1:
            ws, we = windows[k]
            if ws > prev:
                spans.append((prev, min(ws, t1)))
            prev = max(prev, we)
            k += 1
        if prev < t1:
            spans.append((prev, t1))
    items = plan.booked[r]
    k = max(0, bisect_right(items, (t0, -1)) - 1)
    while k < len(items) and items[k][0] < t1:
        _, i = items[k]
        if i not in free and plan.end[i] > t0:
            spans.append((max(t0, plan.start[i]), min(t1, plan.end[i])))
        k += 1
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return tuple(merged)


def extract(
    plan: Plan,
    free_ops: Iterable[int],
    rng: random.Random,
    tag: int = 0,
    kind: str = "",
    max_modes: int = 6,
    busy_resources: Collection[int] = (),
    time_slack: int = 2880,
) -> SubProblem:
    """The sub-problem that re-plans ``free_ops`` with everything else of ``plan`` fixed.

    Each free operation keeps its current resource and up to ``max_modes - 1`` other eligible
    resources (preferring ones other free operations use, then short durations; never one of
    ``busy_resources``). Each free operation stays within ``time_slack`` of where it is (an
    operation of a tardy order may move up to four times that much earlier), so the sub-problem
    and the blocked time it needs stay small while every current placement remains possible.
    """
    x = plan.index
    free = sorted(set(free_ops))
    free_set = set(free)
    local_job: dict[int, int] = {}
    for i in free:
        local_job.setdefault(x.op_job[i], len(local_job))
    jobs = list(local_job)
    pool = {plan.res[i] for i in free}
    busy = set(busy_resources)
    t1 = max(plan.end[i] for i in free) + time_slack
    late_jobs = {j for j in jobs if plan.job_tardiness(j) > 0}
    chosen: list[list[tuple[int, int]]] = []
    for i in free:
        cur = plan.res[i]
        options = []
        for r, d in zip(x.mode_res[i], x.mode_dur[i], strict=True):
            if r == cur or r in busy:
                continue
            score = d * (0.7 + 0.6 * rng.random()) * (0.5 if r in pool else 1.0)
            options.append((score, r, d))
        options.sort()
        picks = [(cur, x.duration(i, cur))] + [(r, d) for _, r, d in options]
        chosen.append(picks[:max_modes])
        pool.update(r for r, _ in picks[:max_modes])
    local_res: dict[int, int] = {}
    for picks in chosen:
        for r, _ in picks:
            local_res.setdefault(r, len(local_res))
    local_site: dict[int, int] = {}
    for r in local_res:
        local_site.setdefault(x.res_site[r], len(local_site))
    pos = {i: k for k, i in enumerate(free)}
    ops: list[SubOp] = []
    arcs: list[tuple[int, int]] = []
    t0 = t1
    spans: dict[int, tuple[int, int]] = {}  # per resource: when free operations may use it
    for k, i in enumerate(free):
        before = [(plan.end[p], x.res_site[plan.res[p]]) for p in x.preds[i] if p not in free_set]
        after = [(plan.start[q], x.res_site[plan.res[q]]) for q in x.succs[i] if q not in free_set]
        arcs.extend((pos[p], k) for p in x.preds[i] if p in free_set)
        modes: list[SubMode] = []
        hint_mode = 0
        for r, d in chosen[k]:
            s_r = x.res_site[r]
            reach = 4 * time_slack if x.op_job[i] in late_jobs else time_slack
            lb = max(x.release[i], plan.start[i] - reach)
            cost = d * x.res_cost[r]
            for e, s in before:
                lb = max(lb, e + x.tt[s][s_r])
                cost += x.tc[s][s_r]
            ub = plan.end[i] + time_slack
            for st, s in after:
                ub = min(ub, st - x.tt[s_r][s])
                cost += x.tc[s_r][s]
            if r == plan.res[i]:
                hint_mode = len(modes)
            elif lb + d > ub:
                continue
            modes.append(SubMode(local_res[r], d, cost, lb, ub))
            t0 = min(t0, lb)
            span = spans.get(r)
            spans[r] = (lb, ub) if span is None else (min(span[0], lb), max(span[1], ub))
        ops.append(
            SubOp(
                i,
                local_job[x.op_job[i]],
                tuple(modes),
                hint_mode,
                plan.start[i],
                plan.end[i],
                x.interruptible[i],
            )
        )
    t0 = min(t0, min(plan.start[i] for i in free))
    sites = list(local_site)
    due_eff: list[int | None] = []
    for j in jobs:
        due = x.due[j]
        if due is not None:
            fixed_end = max((plan.end[i] for i in x.job_ops[j] if i not in free_set), default=0)
            due = max(due, fixed_end)
        due_eff.append(due)
    tc = tuple(tuple(x.tc[a][b] for b in sites) for a in sites)
    return SubProblem(
        tag=tag,
        kind=kind,
        t0=t0,
        t1=t1,
        ops=tuple(ops),
        arcs=tuple(arcs),
        resources=tuple(local_res),
        res_site=tuple(local_site[x.res_site[r]] for r in local_res),
        blocked=tuple(_blocked(plan, r, free_set, *spans.get(r, (t0, t0))) for r in local_res),
        booked=tuple(
            _blocked(plan, r, free_set, *spans.get(r, (t0, t0)), gaps=False) for r in local_res
        ),
        windows=tuple(_windows_around(plan, r, *spans.get(r, (t0, t0))) for r in local_res),
        tt=tuple(tuple(x.tt[a][b] for b in sites) for a in sites),
        tc=tc,
        job_weight=tuple(x.weight[j] for j in jobs),
        job_due=tuple(due_eff),
    )
