"""The CP-SAT model: one small function per constraint family.

Variables: per operation a start and an end; per eligible (operation, resource) pair a presence
literal and an optional fixed-size interval sharing the operation's start. Only this module (and
``lns``, through it) imports OR-Tools.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from sharefab.optimize.bounds import load_bound, resource_groups
from sharefab.optimize.data import ObjectiveTerm, ProblemData
from sharefab.optimize.params import CpSatParams
from sharefab.optimize.result import Assignment, Status

Lit = Any  # a CP-SAT literal or the constant 1


@dataclass
class CpVars:
    model: cp_model.CpModel
    horizon: int
    starts: list[cp_model.IntVar] = field(default_factory=list)
    ends: list[cp_model.IntVar] = field(default_factory=list)
    sizes: list[cp_model.IntVar] = field(default_factory=list)
    # per operation: list of (resource, duration, presence literal, interval)
    modes: list[list[tuple[int, int, Lit, cp_model.IntervalVar]]] = field(default_factory=list)
    terms: dict[ObjectiveTerm, cp_model.LinearExprT] = field(default_factory=dict)
    makespan: cp_model.IntVar | None = None


def _variables(data: ProblemData, v: CpVars) -> None:
    m = v.model
    fixed = data.fixed_by_op
    for i, op in enumerate(data.operations):
        release = data.jobs[data.op_job[i]].release
        lo = fixed[i].start if i in fixed else release
        hi = fixed[i].start if i in fixed else v.horizon
        start = m.new_int_var(lo, hi, f"s{i}")
        end = m.new_int_var(lo, v.horizon, f"e{i}")
        modes = []
        single = len(op.modes) == 1
        for mode in op.modes:
            if i in fixed:
                if mode.resource != fixed[i].resource:
                    continue
                lit: Lit = 1
            else:
                lit = 1 if single else m.new_bool_var(f"x{i}_{mode.resource}")
            if isinstance(lit, int):
                interval = m.new_fixed_size_interval_var(
                    start, mode.duration, f"i{i}_{mode.resource}"
                )
            else:
                interval = m.new_optional_fixed_size_interval_var(
                    start, mode.duration, lit, f"i{i}_{mode.resource}"
                )
            modes.append((mode.resource, mode.duration, lit, interval))
        durations = sorted({d for _, d, _, _ in modes})
        size = m.new_int_var_from_domain(cp_model.Domain.from_values(durations), f"d{i}")
        v.starts.append(start)
        v.ends.append(end)
        v.sizes.append(size)
        v.modes.append(modes)


def _assignment(data: ProblemData, v: CpVars) -> None:
    """Each operation runs on exactly one eligible resource; its end follows its duration."""
    m = v.model
    for i, modes in enumerate(v.modes):
        lits = [lit for _, _, lit, _ in modes if not isinstance(lit, int)]
        if lits:
            m.add_exactly_one(lits)
            m.add(v.sizes[i] == sum(d * lit for _, d, lit, _ in modes))
        else:
            m.add(v.sizes[i] == modes[0][1])
        m.add(v.ends[i] == v.starts[i] + v.sizes[i])


def _gap_intervals(data: ProblemData, v: CpVars, r: int) -> list[cp_model.IntervalVar]:
    """Fixed intervals covering the time resource ``r`` is not offered (outside its windows)."""
    windows = data.resources[r].windows
    if not windows:
        return []
    gaps = []
    prev = 0
    for start, end in windows:
        if start > prev:
            gaps.append((prev, start))
        prev = end
    if prev < v.horizon:
        gaps.append((prev, v.horizon))
    return [v.model.new_fixed_size_interval_var(s, e - s, f"gap{r}_{s}") for s, e in gaps]


def _no_overlap(data: ProblemData, v: CpVars) -> None:
    """One no-overlap per resource over its operations and its unavailability (windows)."""
    per_resource: list[list[cp_model.IntervalVar]] = [[] for _ in data.resources]
    for modes in v.modes:
        for r, _, _, interval in modes:
            per_resource[r].append(interval)
    for r, intervals in enumerate(per_resource):
        gaps = _gap_intervals(data, v, r) if intervals else []
        if len(intervals) + len(gaps) > 1:
            v.model.add_no_overlap(intervals + gaps)


def _site_literals(data: ProblemData, v: CpVars, i: int) -> dict[int, Lit]:
    by_site: dict[int, list[Lit]] = {}
    for r, _, lit, _ in v.modes[i]:
        by_site.setdefault(data.resources[r].site, []).append(lit)
    out: dict[int, Lit] = {}
    for site, lits in by_site.items():
        if len(lits) == 1:
            out[site] = lits[0]
        else:
            b = v.model.new_bool_var(f"site{i}_{site}")
            v.model.add_max_equality(b, lits)
            out[site] = b
    return out


def _precedence(data: ProblemData, v: CpVars) -> None:
    """Successor starts after predecessor ends, plus transport time between their sites."""
    m = v.model
    tt = data.transport_time
    assert tt is not None
    site_lits: dict[int, dict[int, Lit]] = {}
    for a, b in data.arcs:
        m.add(v.starts[b] >= v.ends[a])
        if not data.has_transport:
            continue
        for i in (a, b):
            if i not in site_lits:
                site_lits[i] = _site_literals(data, v, i)
        for sa, la in site_lits[a].items():
            for sb, lb in site_lits[b].items():
                if tt[sa][sb] > 0:
                    enforce = [x for x in (la, lb) if not isinstance(x, int)]
                    m.add(v.starts[b] >= v.ends[a] + tt[sa][sb]).only_enforce_if(enforce)


def _sinks(data: ProblemData) -> list[int]:
    has_succ = {a for a, _ in data.arcs}
    return [i for i in range(data.num_operations) if i not in has_succ]


def _objective_terms(data: ProblemData, v: CpVars, needed: Sequence[ObjectiveTerm]) -> None:
    m = v.model
    sinks = _sinks(data)
    if ObjectiveTerm.MAKESPAN in needed:
        mk = m.new_int_var(0, v.horizon, "makespan")
        for i in sinks:
            m.add(mk >= v.ends[i])
        v.makespan = mk
        v.terms[ObjectiveTerm.MAKESPAN] = mk
    if ObjectiveTerm.WEIGHTED_TARDINESS in needed:
        total = []
        for j, job in enumerate(data.jobs):
            if job.due is None or job.weight == 0:
                continue
            tard = m.new_int_var(0, v.horizon, f"tard{j}")
            for i in sinks:
                if data.op_job[i] == j:
                    m.add(tard >= v.ends[i] - job.due)
            total.append(job.weight * tard)
        v.terms[ObjectiveTerm.WEIGHTED_TARDINESS] = sum(total)
    if ObjectiveTerm.COST in needed:
        cost: list[cp_model.LinearExprT] = []
        for modes in v.modes:
            for r, d, lit, _ in modes:
                cost.append(d * data.resources[r].cost_per_time * lit)
        tc = data.transport_cost
        assert tc is not None
        if len(data.sites) > 1 and any(any(row) for row in tc):
            for a, b in data.arcs:
                la, lb = _site_literals(data, v, a), _site_literals(data, v, b)
                for sa, xa in la.items():
                    for sb, xb in lb.items():
                        if tc[sa][sb] > 0:
                            y = m.new_bool_var(f"tr{a}_{b}_{sa}_{sb}")
                            m.add_bool_or([y, *_negate([xa, xb])])
                            cost.append(tc[sa][sb] * y)
        v.terms[ObjectiveTerm.COST] = sum(cost)


def _negate(lits: list[Lit]) -> list[Lit]:
    return [x.Not() for x in lits if not isinstance(x, int)]


def _redundant(data: ProblemData, v: CpVars, params: CpSatParams) -> None:
    """Redundant constraints that hand CP-SAT the load bound on the makespan."""
    if v.makespan is None:
        return
    m = v.model
    m.add(v.makespan >= load_bound(data))
    if params.load_bounds:
        for r in range(data.num_resources):
            load = [d * lit for modes in v.modes for rr, d, lit, _ in modes if rr == r]
            if load:
                m.add(v.makespan >= sum(load))
    if params.redundant_cumulative:
        main = [
            m.new_interval_var(v.starts[i], v.sizes[i], v.ends[i], f"op{i}")
            for i in range(data.num_operations)
        ]
        for group, ops in resource_groups(data).items():
            if len(group) > 1 and len(ops) > len(group):
                m.add_cumulative([main[i] for i in ops], [1] * len(ops), len(group))
        # makespan also bounds every operation's end
        for i in range(data.num_operations):
            m.add(v.makespan >= v.ends[i])


def identical_resource_pairs(data: ProblemData) -> list[tuple[int, int]]:
    """Pairs (r1 < r2) of interchangeable resources: same site, cost, windows, and the same
    duration for every operation (or eligible for neither); none holds a fixed booking."""
    fixed_res = {b.resource for b in data.fixed}
    sig: dict[int, list[tuple[int, int]]] = {r: [] for r in range(data.num_resources)}
    for i, op in enumerate(data.operations):
        for mode in op.modes:
            sig[mode.resource].append((i, mode.duration))
    groups: dict[Any, list[int]] = {}
    for r, res in enumerate(data.resources):
        if r in fixed_res or not sig[r]:
            continue
        key = (res.site, res.cost_per_time, res.windows, tuple(sig[r]))
        groups.setdefault(key, []).append(r)
    return [(g[k], g[k + 1]) for g in groups.values() for k in range(len(g) - 1)]


def _symmetry(data: ProblemData, v: CpVars) -> None:
    """For identical r1 < r2: an operation may use r2 only if an earlier one uses r1."""
    m = v.model
    for r1, r2 in identical_resource_pairs(data):
        seen_r1: list[Lit] = []
        for modes in v.modes:
            if any(r == r1 and isinstance(lit, int) for r, _, lit, _ in modes):
                break  # r1 is certainly used from here on: nothing more to break
            lit1 = next((lit for r, _, lit, _ in modes if r == r1), None)
            lit2 = next((lit for r, _, lit, _ in modes if r == r2), None)
            if lit2 is not None and not isinstance(lit2, int):
                if not seen_r1:
                    m.add(lit2 == 0)
                else:
                    m.add_bool_or(seen_r1).only_enforce_if(lit2)
            if lit1 is not None:
                seen_r1.append(lit1)
            if len(seen_r1) > 64:  # keep clauses short: summarise the prefix in one literal
                b = m.new_bool_var("")
                m.add_max_equality(b, seen_r1)
                seen_r1 = [b]


def build(
    data: ProblemData,
    params: CpSatParams,
    horizon: int,
    needed: Sequence[ObjectiveTerm],
) -> CpVars:
    """Build the full model (without an objective; see ``set_objective``)."""
    v = CpVars(cp_model.CpModel(), horizon)
    _variables(data, v)
    _assignment(data, v)
    _no_overlap(data, v)
    _precedence(data, v)
    _objective_terms(data, v, needed)
    _redundant(data, v, params)
    if params.symmetry_breaking and not data.fixed:
        _symmetry(data, v)
    return v


def objective_expr(v: CpVars, weights: Sequence[tuple[ObjectiveTerm, int]]) -> cp_model.LinearExprT:
    return sum(w * v.terms[t] for t, w in weights if w)


def add_hint(v: CpVars, data: ProblemData, schedule: Sequence[Assignment]) -> None:
    m = v.model
    m.clear_hints()
    for a in schedule:
        i = data.op_index(a.job, a.operation)
        m.add_hint(v.starts[i], a.start)
        m.add_hint(v.ends[i], a.end)
        for r, _, lit, _ in v.modes[i]:
            if not isinstance(lit, int):
                m.add_hint(lit, r == a.resource)


def extract(v: CpVars, data: ProblemData, values: Callable[[Any], int]) -> list[Assignment]:
    out = []
    for i, modes in enumerate(v.modes):
        res = next(r for r, _, lit, _ in modes if isinstance(lit, int) or values(lit))
        out.append(
            Assignment(
                data.op_job[i],
                data.op_pos[i],
                res,
                int(values(v.starts[i])),
                int(values(v.ends[i])),
            )
        )
    return out


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(
        self,
        v: CpVars,
        data: ProblemData,
        on_solution: Callable[[list[Assignment], int], None] | None,
        stop: Callable[[], bool] | None,
    ) -> None:
        super().__init__()
        self.v, self.data, self.on_solution, self.stop = v, data, on_solution, stop

    def on_solution_callback(self) -> None:
        if self.on_solution is not None:
            sched = extract(self.v, self.data, self.value)
            self.on_solution(sched, round(self.objective_value))
        if self.stop is not None and self.stop():
            self.stop_search()


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-6)


@dataclass
class CpOutcome:
    status: Status
    schedule: list[Assignment] | None
    objective: int | None
    bound: int
    wall_time: float


def run(
    v: CpVars,
    data: ProblemData,
    time_limit: float,
    workers: int,
    seed: int,
    params: CpSatParams,
    on_solution: Callable[[list[Assignment], int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    extra: dict[str, Any] | None = None,
    on_bound: Callable[[int], None] | None = None,
) -> CpOutcome:
    """Solve the model with the objective already set."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.01, time_limit)
    p.num_workers = max(1, workers)
    p.random_seed = seed
    p.log_search_progress = params.log_search
    for key, value in (extra or {}).items():
        setattr(p, key, value)
    cb = _Callback(v, data, on_solution, stop)
    if on_bound is not None:
        report = on_bound
        solver.best_bound_callback = lambda bound: report(_ceil(bound))
    watcher = None
    if stop is not None:
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                if stop():
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    t0 = time.perf_counter()
    code = solver.solve(v.model, cb)
    if watcher is not None:
        done.set()
    wall = time.perf_counter() - t0
    status = {
        cp_model.OPTIMAL: Status.OPTIMAL,
        cp_model.FEASIBLE: Status.FEASIBLE,
        cp_model.INFEASIBLE: Status.INFEASIBLE,
    }.get(code, Status.UNKNOWN)
    if status in (Status.OPTIMAL, Status.FEASIBLE):
        sched = extract(v, data, solver.value)
        return CpOutcome(
            status, sched, round(solver.objective_value), _ceil(solver.best_objective_bound), wall
        )
    bound = _ceil(solver.best_objective_bound) if status == Status.UNKNOWN else 0
    return CpOutcome(status, None, None, bound, wall)
