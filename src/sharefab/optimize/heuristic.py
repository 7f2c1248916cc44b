"""Constructive heuristic: earliest-finish dispatch on resource timelines.

Operations are scheduled one at a time; among the operations whose predecessors are all
scheduled, the one that can finish earliest (on its best eligible resource, respecting release
dates, precedence plus transport, capacity windows, and bookings already made, fixed ones
included) goes next; ties go to the job with the most remaining work. ``randomised`` versions
perturb that priority for multi-start use.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

from sharefab.optimize.data import ObjectiveTerm, ProblemData
from sharefab.optimize.result import Assignment

INF = 1 << 60


class Timeline:
    """Free ``[start, end)`` segments of one resource (its windows minus bookings)."""

    def __init__(self, windows: Sequence[tuple[int, int]]) -> None:
        segs = list(windows) if windows else [(0, INF)]
        self.starts = [s for s, _ in segs]
        self.ends = [e for _, e in segs]

    def earliest(self, t: int, duration: int) -> int:
        """Earliest start >= t of a block of ``duration`` inside one free segment (INF if none)."""
        k = max(0, bisect.bisect_right(self.starts, t) - 1)
        for idx in range(k, len(self.starts)):
            start = max(t, self.starts[idx])
            if start + duration <= self.ends[idx]:
                return start
        return INF

    def book(self, start: int, end: int) -> None:
        if end <= start:
            return
        k = bisect.bisect_right(self.starts, start) - 1
        if k < 0 or self.ends[k] < end:
            return  # not inside one free segment: a clash the validator will report
        s, e = self.starts[k], self.ends[k]
        del self.starts[k], self.ends[k]
        pieces = [(a, b) for a, b in ((s, start), (end, e)) if b > a]
        for offset, (a, b) in enumerate(pieces):
            self.starts.insert(k + offset, a)
            self.ends.insert(k + offset, b)


def construct(
    data: ProblemData, seed: int | None = None, noise: float = 0.0
) -> list[Assignment] | None:
    """A complete schedule, or None if the greedy got stuck (not a proof of infeasibility)."""
    rng = random.Random(seed)
    n = data.num_operations
    ops = data.operations
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for a, b in data.arcs:
        preds[b].append(a)
        succs[a].append(b)
    timelines = [Timeline(res.windows) for res in data.resources]
    fixed = data.fixed_by_op
    for booking in data.fixed:
        timelines[booking.resource].book(booking.start, booking.end)
    # remaining work (average durations) of each operation and its successors, for tie breaks
    avg = [sum(m.duration for m in op.modes) / len(op.modes) for op in ops]
    tail = avg[:]
    for i in reversed(range(n)):  # arcs inside a job go forward in listed order only for chains
        for s in succs[i]:
            tail[i] = max(tail[i], avg[i] + tail[s])
    if not data.is_chain_only:  # DAG: fix point on the longest tail
        for _ in range(max(len(job.operations) for job in data.jobs)):
            for a, b in data.arcs:
                tail[a] = max(tail[a], avg[a] + tail[b])
    cost_weight = 0
    for term, weight in data.objective.weights:
        if term == ObjectiveTerm.COST:
            cost_weight = weight
    job_release = [data.jobs[data.op_job[i]].release for i in range(n)]
    sched: list[Assignment | None] = [None] * n
    missing = [len(p) for p in preds]
    ready = {i for i in range(n) if missing[i] == 0}
    cache: dict[int, tuple[float, int, int, int]] = {}
    jitter = {i: (rng.random() * noise) for i in range(n)} if noise > 0 else {}

    def best_mode(i: int) -> tuple[float, int, int, int]:
        if i in fixed:
            b = fixed[i]
            return (b.end, b.resource, b.start, b.end)
        best = (float(INF), -1, INF, INF)
        for mode in ops[i].modes:
            t = job_release[i]
            for p in preds[i]:
                pa = sched[p]
                assert pa is not None
                t = max(t, pa.end + data.transport(pa.resource, mode.resource))
            start = timelines[mode.resource].earliest(t, mode.duration)
            if start >= INF:
                continue
            end = start + mode.duration
            key = end + cost_weight * mode.duration * data.resources[mode.resource].cost_per_time
            if key < best[0]:
                best = (float(key), mode.resource, start, end)
        return best

    for _ in range(n):
        best_i, best_key = -1, (float(INF), 0.0)
        for i in ready:
            if i not in cache:
                cache[i] = best_mode(i)
            end = cache[i][0]
            if end >= INF:
                continue
            key = (end * (1.0 + jitter.get(i, 0.0)), -tail[i])
            if key < best_key:
                best_i, best_key = i, key
        if best_i < 0:
            return None
        _, resource, start, end = cache.pop(best_i)
        ready.discard(best_i)
        sched[best_i] = Assignment(data.op_job[best_i], data.op_pos[best_i], resource, start, end)
        if best_i not in fixed:
            timelines[resource].book(start, end)
            for i in list(cache):
                if any(m.resource == resource for m in ops[i].modes):
                    del cache[i]
        for s in succs[best_i]:
            missing[s] -= 1
            if missing[s] == 0:
                ready.add(s)
    return [a for a in sched if a is not None]
