"""Solve one ``SubProblem`` with CP-SAT (the only module of this package that imports CP-SAT).

``solve_subproblem`` is a plain top-level function of picklable data, so an engine can run it in
this process, in a process pool or on a Dask worker. One constraint family per function, as in
``optimize.cpsat``: modes, resources (no overlap with the blocked time), precedence with transport
time and cost, tardiness, objective, hint. An interruptible operation chooses one of its
``variants`` per mode: the windows it starts and ends in fix its length (its duration plus the
off-shift gaps between), and it may overlap those gaps but no booking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from sharefab.optimize.cluster.subproblem import SubOp, SubProblem, SubSolution


@dataclass
class _Vars:
    model: cp_model.CpModel
    starts: list[cp_model.IntVar] = field(default_factory=list)
    ends: list[cp_model.IntVar] = field(default_factory=list)
    lits: list[list[Any]] = field(default_factory=list)  # per op, per mode: literal, 1 or 0
    cost: list[Any] = field(default_factory=list)
    # per mode of an interruptible operation: (literal, first start, last start, length)
    variants: list[list[tuple[Any, int, int, int]]] = field(default_factory=list)


def variants(
    windows: tuple[tuple[int, int], ...], duration: int, lb: int, ub: int
) -> list[tuple[int, int, int]]:
    """Placements of an interruptible operation of ``duration`` window time in ``[lb, ub]``:
    ``(first start, last start, length)``, one per pair of windows it starts and ends in (it
    starts in window ``a``, works to the end of each window up to ``b`` and ends in ``b``; its
    length is ``duration`` plus the off-shift gaps between)."""
    out = []
    for a, (ws_a, we_a) in enumerate(windows):
        if we_a <= lb or ws_a >= ub:
            continue
        gap = 0
        for b in range(a, len(windows)):
            ws_b, we_b = windows[b]
            if b > a:
                gap += ws_b - windows[b - 1][1]
            length = duration + gap
            if b == a:
                first, last = max(ws_a, lb), min(we_a - duration, ub - length)
            else:  # some work in window a, all of the windows between, the rest in b
                first = max(ws_a, lb, ws_b + 1 - length)
                last = min(we_a - 1, we_b - length, ub - length)
            if first <= last:
                out.append((first, last, length))
            if ws_b + 1 - length > we_a - 1 or ws_b >= ub:
                break  # from here on the work before window b alone is more than ``duration``
    return out


def _modes(sub: SubProblem, v: _Vars) -> None:
    """Each operation runs on exactly one of its modes, within the mode's time bounds; an
    interruptible one in one of the mode's ``variants``."""
    m = v.model
    per_res: list[list[cp_model.IntervalVar]] = [[] for _ in sub.resources]
    in_window: list[list[cp_model.IntervalVar]] = [[] for _ in sub.resources]
    for k, op in enumerate(sub.ops):
        lo = min(md.earliest_start for md in op.modes)
        hi = max(md.latest_end - md.duration for md in op.modes)
        start = m.new_int_var(lo, max(lo, hi), f"s{k}")
        end = m.new_int_var(lo, sub.t1, f"e{k}")
        lits: list[Any] = []
        if op.interruptible:
            _pausing(sub, v, op, start, end, per_res)
            v.starts.append(start)
            v.ends.append(end)
            continue
        if len(op.modes) == 1:
            md = op.modes[0]
            lits.append(1)
            m.add(end == start + md.duration)
            interval = m.new_fixed_size_interval_var(start, md.duration, "")
            per_res[md.resource].append(interval)
            in_window[md.resource].append(interval)
            m.add(start >= md.earliest_start)
            m.add(end <= md.latest_end)
            v.cost.append(md.cost)
        else:
            for md in op.modes:
                x = m.new_bool_var(f"x{k}_{md.resource}")
                lits.append(x)
                interval = m.new_optional_fixed_size_interval_var(start, md.duration, x, "")
                per_res[md.resource].append(interval)
                in_window[md.resource].append(interval)
                m.add(end == start + md.duration).only_enforce_if(x)
                if md.earliest_start > lo:
                    m.add(start >= md.earliest_start).only_enforce_if(x)
                if md.latest_end < sub.t1:
                    m.add(end <= md.latest_end).only_enforce_if(x)
                v.cost.append(md.cost * x)
            m.add_exactly_one(lits)
        v.starts.append(start)
        v.ends.append(end)
        v.lits.append(lits)
    _resources(sub, v, per_res, in_window)


def _pausing(
    sub: SubProblem,
    v: _Vars,
    op: SubOp,
    start: cp_model.IntVar,
    end: cp_model.IntVar,
    per_res: list[list[cp_model.IntervalVar]],
) -> None:
    """An interruptible operation: exactly one variant of one mode; a mode's literal is the
    sum of its variants' (the hint's variant is always among them)."""
    m = v.model
    lits: list[Any] = []
    chosen: list[Any] = []
    for md in op.modes:
        options = variants(sub.windows[md.resource], md.duration, md.earliest_start, md.latest_end)
        ys = []
        for first, last, length in options:
            y = m.new_bool_var("")
            ys.append((y, first, last, length))
            interval = m.new_optional_fixed_size_interval_var(start, length, y, "")
            per_res[md.resource].append(interval)
            m.add(start >= first).only_enforce_if(y)
            m.add(start <= last).only_enforce_if(y)
            m.add(end == start + length).only_enforce_if(y)
        if not ys:
            x: Any = 0
        elif len(ys) == 1:
            x = ys[0][0]
        else:
            x = m.new_bool_var("")
            m.add(x == sum(y for y, *_ in ys))
        lits.append(x)
        chosen.extend(y for y, *_ in ys)
        v.cost.append(md.cost * x)
        v.variants.append(ys)
    m.add_exactly_one(chosen)
    v.lits.append(lits)


def _resources(
    sub: SubProblem,
    v: _Vars,
    per_res: list[list[cp_model.IntervalVar]],
    in_window: list[list[cp_model.IntervalVar]],
) -> None:
    """Per resource: no two operations overlap nor overlap a fixed booking; operations that
    may not pause also keep out of the off-shift gaps."""
    m = v.model
    for r, intervals in enumerate(per_res):
        if not intervals:
            continue
        if len(in_window[r]) == len(intervals):  # none may pause: one constraint does it all
            blocked = [m.new_fixed_size_interval_var(s, e - s, "") for s, e in sub.blocked[r]]
            if len(intervals) + len(blocked) > 1:
                m.add_no_overlap(intervals + blocked)
            continue
        booked = [m.new_fixed_size_interval_var(s, e - s, "") for s, e in sub.booked[r]]
        if len(intervals) + len(booked) > 1:
            m.add_no_overlap(intervals + booked)
        if in_window[r]:
            blocked = [m.new_fixed_size_interval_var(s, e - s, "") for s, e in sub.blocked[r]]
            m.add_no_overlap(in_window[r] + blocked)


def _site_literals(sub: SubProblem, v: _Vars, k: int) -> dict[int, Any]:
    by_site: dict[int, list[Any]] = {}
    for md, lit in zip(sub.ops[k].modes, v.lits[k], strict=True):
        if isinstance(lit, int) and not lit:
            continue  # an interruptible operation's mode with no placement in reach
        by_site.setdefault(sub.res_site[md.resource], []).append(lit)
    out: dict[int, Any] = {}
    for site, lits in by_site.items():
        if len(lits) == 1:
            out[site] = lits[0]
        else:
            b = v.model.new_bool_var("")
            v.model.add_max_equality(b, lits)
            out[site] = b
    return out


def _precedence(sub: SubProblem, v: _Vars) -> None:
    """Successor starts after its predecessor ends plus the transport between their sites; a
    move between sites costs the transport price."""
    m = v.model
    sites: dict[int, dict[int, Any]] = {}
    for a, b in sub.arcs:
        m.add(v.starts[b] >= v.ends[a])
        for k in (a, b):
            if k not in sites:
                sites[k] = _site_literals(sub, v, k)
        for sa, la in sites[a].items():
            for sb, lb in sites[b].items():
                both = [x for x in (la, lb) if not isinstance(x, int)]
                if sub.tt[sa][sb] > 0:
                    gap = m.add(v.starts[b] >= v.ends[a] + sub.tt[sa][sb])
                    if both:
                        gap.only_enforce_if(both)
                if sub.tc[sa][sb] > 0:
                    if both:
                        y = m.new_bool_var("")
                        m.add_bool_or([y, *(x.Not() for x in both)])
                        v.cost.append(sub.tc[sa][sb] * y)
                    else:
                        v.cost.append(sub.tc[sa][sb])


def _hint_tardiness(sub: SubProblem) -> int:
    completion: dict[int, int] = {}
    for op in sub.ops:
        completion[op.job] = max(completion.get(op.job, 0), op.hint_end)
    total = 0
    for j, c in completion.items():
        due = sub.job_due[j]
        if due is not None:
            total += sub.job_weight[j] * max(0, c - due)
    return total


def _objective(sub: SubProblem, v: _Vars) -> None:
    """Weighted tardiness when the current placement has some (cost is then only compared by
    the caller), else cost with every order kept on time: two small objectives search better
    than one lexicographic sum."""
    m = v.model
    if _hint_tardiness(sub) == 0:  # keep every order on time, make it cheaper
        for k, op in enumerate(sub.ops):
            due = sub.job_due[op.job]
            if due is not None and sub.job_weight[op.job] > 0:
                m.add(v.ends[k] <= due)
        m.minimize(sum(v.cost))
        return
    by_job: dict[int, list[int]] = {}
    for k, op in enumerate(sub.ops):
        by_job.setdefault(op.job, []).append(k)
    tard = []
    for j, ks in by_job.items():
        due = sub.job_due[j]
        if due is None or sub.job_weight[j] == 0:
            continue
        t = m.new_int_var(0, max(0, sub.t1 - due), f"t{j}")
        for k in ks:
            m.add(t >= v.ends[k] - due)
        tard.append(sub.job_weight[j] * t)
    m.minimize(sum(tard))


def _hint(sub: SubProblem, v: _Vars) -> None:
    """The current placement (variants: the one holding it)."""
    m = v.model
    variant = iter(v.variants)
    for k, op in enumerate(sub.ops):
        m.add_hint(v.starts[k], op.hint_start)
        m.add_hint(v.ends[k], op.hint_end)
        for p, lit in enumerate(v.lits[k]):
            ys = next(variant) if op.interruptible else []
            if not isinstance(lit, int) and len(ys) != 1:  # (one variant: it is the literal)
                m.add_hint(lit, p == op.hint_mode)
            length = op.hint_end - op.hint_start
            for y, first, last, size in ys:
                here = p == op.hint_mode and first <= op.hint_start <= last and size == length
                m.add_hint(y, here)


def build_model(sub: SubProblem) -> _Vars:
    v = _Vars(cp_model.CpModel())
    _modes(sub, v)
    _precedence(sub, v)
    _objective(sub, v)
    _hint(sub, v)
    return v


_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid",
}


def solve_subproblem(
    sub: SubProblem,
    time_limit: float = 2.0,
    seed: int = 0,
    deterministic_time: float | None = None,
) -> SubSolution:
    """Re-plan ``sub`` with CP-SAT (one search thread) for at most ``time_limit`` seconds.

    With ``deterministic_time`` CP-SAT stops on that much deterministic time instead (its own
    count of work, the same on any machine), so the answer depends only on ``sub`` and
    ``seed``; ``time_limit`` is then only a safety net for a stuck worker."""
    t0 = time.perf_counter()
    v = build_model(sub)
    built = time.perf_counter() - t0
    solver = cp_model.CpSolver()
    p = solver.parameters
    if deterministic_time is None:
        p.max_time_in_seconds = max(0.01, time_limit - built)
    else:
        p.max_deterministic_time = deterministic_time
        p.max_time_in_seconds = max(0.01, time_limit)
    p.num_workers = 1
    p.random_seed = seed
    code = solver.solve(v.model)
    status = _STATUS.get(code, "unknown")
    wall = time.perf_counter() - t0
    stats = {
        "build_s": built,
        "ops": float(len(sub.ops)),
        "det_time": float(solver.response_proto.deterministic_time),
    }
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SubSolution(sub.tag, sub.kind, status, wall_time=wall, stats=stats)
    changes = []
    for k, op in enumerate(sub.ops):
        p_mode = next(
            n
            for n, lit in enumerate(v.lits[k])
            if (isinstance(lit, int) and lit) or (not isinstance(lit, int) and solver.value(lit))
        )
        md = op.modes[p_mode]
        s = solver.value(v.starts[k])
        changes.append((op.op, sub.resources[md.resource], s, solver.value(v.ends[k])))
    return SubSolution(
        sub.tag,
        sub.kind,
        status,
        tuple(changes),
        round(solver.objective_value),
        wall_time=wall,
        stats=stats,
    )
