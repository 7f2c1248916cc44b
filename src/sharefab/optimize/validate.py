"""Independent schedule validator and objective evaluation.

``validate(data, schedule)`` checks a schedule against the problem without using any solver code
and returns one ``Violation`` per broken rule, each naming the job, operation and resource.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sharefab.optimize.data import ObjectiveTerm, ProblemData
from sharefab.optimize.result import Assignment


@dataclass(frozen=True)
class Violation:
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def _available_time(windows: tuple[tuple[int, int], ...], start: int, end: int) -> int:
    if not windows:
        return end - start
    return sum(max(0, min(end, we) - max(start, ws)) for ws, we in windows)


def _inside_one_window(windows: tuple[tuple[int, int], ...], start: int, end: int) -> bool:
    return not windows or any(ws <= start and end <= we for ws, we in windows)


def _in_some_window(windows: tuple[tuple[int, int], ...], t: int, closed_end: bool) -> bool:
    return not windows or any(ws <= t < we or (closed_end and t == we) for ws, we in windows)


def validate(data: ProblemData, schedule: Iterable[Assignment]) -> list[Violation]:
    """All violations of ``schedule`` against ``data`` (empty list = valid)."""
    out: list[Violation] = []
    by_op: dict[tuple[int, int], Assignment] = {}
    for a in schedule:
        name = f"operation {a.operation} of job {a.job}"
        if not (0 <= a.job < data.num_jobs and 0 <= a.operation < len(data.jobs[a.job].operations)):
            out.append(Violation("unknown", f"{name} does not exist"))
            continue
        if (a.job, a.operation) in by_op:
            out.append(Violation("duplicate", f"{name} is scheduled more than once"))
            continue
        by_op[(a.job, a.operation)] = a
        op = data.jobs[a.job].operations[a.operation]
        durations = {m.resource: m.duration for m in op.modes}
        if a.resource not in durations:
            out.append(Violation("eligibility", f"{name} is on ineligible resource {a.resource}"))
            continue
        duration = durations[a.resource]
        windows = data.resources[a.resource].windows
        if a.start < 0:
            out.append(Violation("time", f"{name} starts before 0 at {a.start}"))
        if op.interruptible and windows:
            worked = _available_time(windows, a.start, a.end)
            if worked != duration or (
                duration > 0
                and not (
                    _in_some_window(windows, a.start, False)
                    and _in_some_window(windows, a.end, True)
                )
            ):
                out.append(
                    Violation(
                        "duration",
                        f"{name} gets {worked} time units of resource {a.resource}'s windows "
                        f"in [{a.start}, {a.end}), needs {duration} and must start and end in "
                        "a window",
                    )
                )
        else:
            if a.end - a.start != duration:
                out.append(
                    Violation(
                        "duration",
                        f"{name} lasts {a.end - a.start} on resource {a.resource}, "
                        f"needs {duration}",
                    )
                )
            elif duration > 0 and not _inside_one_window(windows, a.start, a.end):
                out.append(
                    Violation(
                        "window",
                        f"{name} runs [{a.start}, {a.end}) outside the windows of resource "
                        f"{a.resource}",
                    )
                )
        release = data.jobs[a.job].release
        if a.start < release:
            out.append(Violation("release", f"{name} starts at {a.start} before release {release}"))
    for j, job in enumerate(data.jobs):
        for o in range(len(job.operations)):
            if (j, o) not in by_op:
                out.append(Violation("missing", f"operation {o} of job {j} is not scheduled"))
        for u, w in job.arcs:
            if (j, u) not in by_op or (j, w) not in by_op:
                continue
            pa, pb = by_op[(j, u)], by_op[(j, w)]
            gap = data.transport(pa.resource, pb.resource)
            if pb.start < pa.end + gap:
                extra = f" plus transport {gap}" if gap else ""
                out.append(
                    Violation(
                        "precedence",
                        f"operation {w} of job {j} starts at {pb.start}, before operation {u} "
                        f"ends at {pa.end}{extra}",
                    )
                )
    per_resource: dict[int, list[Assignment]] = {}
    for a in by_op.values():
        if a.end > a.start:
            per_resource.setdefault(a.resource, []).append(a)
    for r, items in per_resource.items():
        items.sort(key=lambda a: (a.start, a.end))
        for prev, nxt in itertools.pairwise(items):
            if nxt.start < prev.end:
                out.append(
                    Violation(
                        "overlap",
                        f"operation {prev.operation} of job {prev.job} and operation "
                        f"{nxt.operation} of job {nxt.job} overlap on resource {r}",
                    )
                )
    for fb in data.fixed:
        got = by_op.get((fb.job, fb.operation))
        if got is not None and (got.resource, got.start, got.end) != (
            fb.resource,
            fb.start,
            fb.end,
        ):
            out.append(
                Violation(
                    "fixed",
                    f"operation {fb.operation} of job {fb.job} is fixed on resource {fb.resource} "
                    f"at [{fb.start}, {fb.end}) but scheduled on {got.resource} at "
                    f"[{got.start}, {got.end})",
                )
            )
    return out


def term_values(data: ProblemData, schedule: Sequence[Assignment]) -> dict[ObjectiveTerm, int]:
    """Makespan, total weighted tardiness and total cost of a (complete) schedule.

    Cost = sum of processing duration x resource cost per time unit, plus the transport cost of
    every precedence arc whose operations run at different sites.
    """
    makespan = max((a.end for a in schedule), default=0)
    completion = [0] * data.num_jobs
    by_op: dict[tuple[int, int], Assignment] = {}
    cost = 0
    for a in schedule:
        completion[a.job] = max(completion[a.job], a.end)
        by_op[(a.job, a.operation)] = a
        duration = data.duration(data.op_index(a.job, a.operation), a.resource) or 0
        cost += duration * data.resources[a.resource].cost_per_time
    assert data.transport_cost is not None
    for j, job in enumerate(data.jobs):
        for u, v in job.arcs:
            if (j, u) in by_op and (j, v) in by_op:
                s1 = data.resources[by_op[(j, u)].resource].site
                s2 = data.resources[by_op[(j, v)].resource].site
                cost += data.transport_cost[s1][s2]
    tardiness = sum(
        job.weight * max(0, completion[j] - job.due)
        for j, job in enumerate(data.jobs)
        if job.due is not None
    )
    return {
        ObjectiveTerm.MAKESPAN: makespan,
        ObjectiveTerm.WEIGHTED_TARDINESS: tardiness,
        ObjectiveTerm.COST: cost,
    }


def objective_values(data: ProblemData, schedule: Sequence[Assignment]) -> tuple[int, ...]:
    """The objective as a tuple: (weighted sum,) or the lexicographic terms in order."""
    values = term_values(data, schedule)
    obj = data.objective
    if obj.lexicographic:
        return tuple(values[t] for t in obj.lexicographic)
    return (sum(w * values[t] for t, w in obj.weights),)
