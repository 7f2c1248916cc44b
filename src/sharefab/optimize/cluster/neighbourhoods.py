"""Destroy operators: which operations of the plan to free for one LNS iteration.

Four kinds, each returning up to ``size`` operations that are not busy (their order and their
current resource are not part of a neighbourhood still being solved, so neighbourhoods in flight
never touch each other):

- ``time_window``: the operations on the resources able to perform a random operation, in a
  time window around it that grows until it holds ``size`` operations;
- ``resource_group``: a random resource and the resources that can take over its work, in a
  time window;
- ``related_orders``: a seed order (tardy ones more often) and the orders whose operations sit
  next to its operations on the same resources (whole orders);
- ``tardy``: the most tardy orders (roulette on weighted tardiness) and the operations that
  block them: what runs before them on their resources;
- ``bottleneck``: a tardy order, the resource where it waits longest, the resources that can
  take over that resource's work, and what runs on them between the wait's start and its end.

Operations chosen by time and resource come with their successors down to the end of their
order (``with_tails``): an operation that gives way can then move later without hitting a fixed
successor, and the orders' completions - their tardiness - move with the re-plan.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable, Collection, Sequence

from sharefab.optimize.cluster.plan import Plan

KINDS = ("time_window", "resource_group", "related_orders", "tardy", "bottleneck")


class Busy:
    """Orders and resources that belong to a neighbourhood in flight."""

    def __init__(self) -> None:
        self.jobs: dict[int, int] = {}
        self.resources: dict[int, int] = {}

    @staticmethod
    def _add(counts: dict[int, int], keys: Collection[int], step: int) -> None:
        for k in keys:
            n = counts.get(k, 0) + step
            if n:
                counts[k] = n
            else:
                del counts[k]

    def take(self, jobs: Collection[int], resources: Collection[int]) -> None:
        self._add(self.jobs, jobs, 1)
        self._add(self.resources, resources, 1)

    def release(self, jobs: Collection[int], resources: Collection[int]) -> None:
        self._add(self.jobs, jobs, -1)
        self._add(self.resources, resources, -1)


def _free(plan: Plan, busy: Busy, i: int) -> bool:
    return plan.index.op_job[i] not in busy.jobs and plan.res[i] not in busy.resources


def _near(plan: Plan, resources: Sequence[int], t: int, size: int, busy: Busy) -> list[int]:
    """Up to ``size`` free operations on ``resources`` closest in time to ``t``."""
    found: list[tuple[int, int]] = []
    for r in resources:
        if r in busy.resources:
            continue
        items = plan.booked[r]
        k = bisect_left(items, (t, -1))
        lo, hi = k - 1, k
        taken = 0
        while taken < size and (lo >= 0 or hi < len(items)):
            for idx in (lo, hi):
                if 0 <= idx < len(items):
                    s, i = items[idx]
                    if _free(plan, busy, i):
                        found.append((abs(s - t), i))
                        taken += 1
            lo, hi = lo - 1, hi + 1
    found.sort()
    return [i for _, i in found[:size]]


def with_tails(plan: Plan, seeds: Sequence[int], size: int, busy: Busy) -> list[int]:
    """``seeds`` in order, each followed by its successors down to the end of its order (those
    not on a busy resource), until ``size`` operations: an operation can then move later and
    its order's completion with it."""
    x = plan.index
    out: list[int] = []
    seen: set[int] = set()
    for seed in seeds:
        stack = [seed]
        while stack:
            i = stack.pop()
            if i in seen or (i != seed and plan.res[i] in busy.resources):
                continue
            seen.add(i)
            out.append(i)
            stack.extend(x.succs[i])
        if len(out) >= size:
            break
    return out


def time_window(
    plan: Plan, rng: random.Random, size: int, busy: Busy, tardiness: list[int]
) -> list[int]:
    x = plan.index
    for _try in range(20):
        seed = rng.randrange(x.num_operations)
        if _free(plan, busy, seed):
            resources = list(x.mode_res[seed])
            rng.shuffle(resources)
            near = _near(plan, resources[:12], plan.start[seed], size, busy)
            return with_tails(plan, near, size, busy)
    return []


def resource_group(
    plan: Plan, rng: random.Random, size: int, busy: Busy, tardiness: list[int]
) -> list[int]:
    x = plan.index
    for _try in range(20):
        r0 = rng.randrange(x.num_resources)
        if r0 in busy.resources or not plan.booked[r0]:
            continue
        overlap: dict[int, int] = {}
        for _, i in plan.booked[r0]:
            for r in x.mode_res[i]:
                if r != r0:
                    overlap[r] = overlap.get(r, 0) + 1
        group = [r0, *sorted(overlap, key=lambda r: (-overlap[r], rng.random()))[:5]]
        _, i0 = plan.booked[r0][rng.randrange(len(plan.booked[r0]))]
        per_res = max(2, size // len(group))
        return with_tails(plan, _near(plan, group, plan.start[i0], per_res, busy), size, busy)
    return []


def _pick_tardy(plan: Plan, rng: random.Random, tardiness: list[int], busy: Busy) -> int | None:
    late = [(t, j) for j, t in enumerate(tardiness) if t > 0 and j not in busy.jobs]
    if not late:
        return None
    late.sort(reverse=True)
    top = late[:50]
    total = sum(t for t, _ in top)
    pick = rng.random() * total
    for t, j in top:
        pick -= t
        if pick <= 0:
            return j
    return top[-1][1]


def related_orders(
    plan: Plan, rng: random.Random, size: int, busy: Busy, tardiness: list[int]
) -> list[int]:
    x = plan.index
    seed = _pick_tardy(plan, rng, tardiness, busy) if rng.random() < 0.5 else None
    if seed is None:
        for _try in range(20):
            j = rng.randrange(x.num_jobs)
            if j not in busy.jobs:
                seed = j
                break
    if seed is None:
        return []
    jobs = [seed]
    score: dict[int, float] = {}
    for i in x.job_ops[seed]:
        for k in _near(plan, [plan.res[i]], plan.start[i], 4, busy):
            j = x.op_job[k]
            if j != seed:
                score[j] = score.get(j, 0.0) + 1.0 + rng.random()
    jobs += sorted(score, key=lambda j: -score[j])
    out: list[int] = []
    for j in jobs:
        ops = [i for i in x.job_ops[j] if plan.res[i] not in busy.resources]
        if len(ops) < len(x.job_ops[j]):
            continue
        if out and len(out) + len(ops) > size:
            break
        out += ops
    return out


def tardy(plan: Plan, rng: random.Random, size: int, busy: Busy, tardiness: list[int]) -> list[int]:
    x = plan.index
    out: list[int] = []
    taken: set[int] = set()
    for _round in range(3):
        j = _pick_tardy(plan, rng, tardiness, busy)
        if j is None or any(plan.res[i] in busy.resources for i in x.job_ops[j]):
            break
        busy.take([j], [])  # not picked twice; released below
        taken.add(j)
        out += x.job_ops[j]
        if len(out) >= size // 2:
            break
    for j in taken:
        busy.release([j], [])
    if not out:
        return time_window(plan, rng, size, busy, tardiness)
    chosen = set(out)
    blockers: list[tuple[int, int]] = []
    for i in out:
        resources = [plan.res[i], *sorted(x.mode_res[i], key=lambda r: rng.random())[:3]]
        for r in resources:
            if r in busy.resources:
                continue
            items = plan.booked[r]
            k = bisect_left(items, (plan.start[i], -1))
            for idx in range(k - 1, max(-1, k - 6), -1):
                s, b = items[idx]
                if b not in chosen and _free(plan, busy, b):
                    blockers.append((plan.start[i] - s, b))
    blockers.sort()
    return with_tails(plan, out + [b for _, b in blockers], size, busy)


def bottleneck(
    plan: Plan, rng: random.Random, size: int, busy: Busy, tardiness: list[int]
) -> list[int]:
    """Where a tardy order waits longest: that resource and those able to take over its work,
    around that time, with the tails of every order involved."""
    x = plan.index
    j = _pick_tardy(plan, rng, tardiness, busy)
    if j is None:
        return resource_group(plan, rng, size, busy, tardiness)
    waits = []
    for i in x.job_ops[j]:
        if x.mode_dur[i][0] == 0:
            continue  # a zero-length step (a delivery milestone) never queues
        ready = max([x.release[i], *(plan.end[p] for p in x.preds[i])])
        waits.append((plan.start[i] - ready, i))
    if not waits:
        return resource_group(plan, rng, size, busy, tardiness)
    _, i0 = max(waits)
    r0 = plan.res[i0]
    if r0 in busy.resources:
        return []
    overlap: dict[int, int] = {}
    for _, i in plan.booked[r0]:
        for r in x.mode_res[i]:
            if r != r0 and r not in busy.resources:
                overlap[r] = overlap.get(r, 0) + 1
    group = [r0, *sorted(overlap, key=lambda r: (-overlap[r], rng.random()))[:3]]
    seeds = [i for i in x.job_ops[j] if plan.res[i] not in busy.resources]
    if len(seeds) < len(x.job_ops[j]):
        return []
    per_res = max(2, size // (3 * len(group)))
    ready = max([x.release[i0], *(plan.end[p] for p in x.preds[i0])])
    t = (plan.start[i0] + ready) // 2
    near = _near(plan, group, t, per_res, busy)
    return with_tails(plan, seeds + near, size, busy)


OPERATORS: dict[str, Callable[[Plan, random.Random, int, Busy, list[int]], list[int]]] = {
    "time_window": time_window,
    "resource_group": resource_group,
    "related_orders": related_orders,
    "tardy": tardy,
    "bottleneck": bottleneck,
}
