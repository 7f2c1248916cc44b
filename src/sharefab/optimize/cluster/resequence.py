"""Bottleneck-queue neighbourhood: re-sequence everything queued on an overloaded resource pool.

In a cluster most weighted tardiness comes from a few overloaded pools (often resources with a
material restriction, or the only ones fast enough to fit an operation into a shift), where orders
queue for days; sequencing decides who waits. ``bottleneck_queue`` picks such a queue - a tardy
order (roulette on weighted tardiness), the operation where it waits longest, the resources that
can run that operation about as fast as the quickest one - and takes every operation booked there
from shortly before that wait on, with the rest of their orders (their tails).

``resequence`` re-plans those operations greedily, without CP-SAT: everything else stays where it
is, the operations are inserted one by one (serial schedule generation: each at the earliest finish
over its candidate resources, in any free gap of their windows - over several windows if it is
interruptible - after its predecessors plus transport) in the order of a priority rule chosen at
random: most often ``flow``, the order of the cheapest assignment of the queued operations to the
pool's free time (a min-cost flow whose costs are each order's weighted lateness), else ATC
(apparent tardiness cost: weight per minute of work, discounted by slack) with a random look-ahead,
``slack`` (ready time, later by slack), WSPT or EDD on the operation's own due date, with a little
noise. A few hundred operations take a fraction of a second, so the planner runs it between CP-SAT
answers and keeps the result only if it is better.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections.abc import Callable, Collection, Sequence

from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.cluster.timeline import INF, FreeTimeline
from sharefab.optimize.cluster.transport import Transport

_MODES = 12  # candidate resources per operation (the fastest, and its current one)
RULES = ("slack", "atc", "wspt", "edd", "flow", "flow", "flow", "flow")


def remaining_work(index: ClusterIndex) -> list[int]:
    """Per operation: the shortest work from its start to the end of its order (itself
    included, along the longest precedence path)."""
    rem = [0] * index.num_operations
    for ops in index.job_ops:
        for i in reversed(ops):
            rem[i] = index.mode_dur[i][0] + max((rem[s] for s in index.succs[i]), default=0)
    return rem


def _pool(index: ClusterIndex, i: int, current: int, limit: int = 16) -> list[int]:
    """Resources that run ``i`` within 25% of its shortest duration (and its current one)."""
    fast = index.mode_dur[i][0] * 1.25
    out = [r for r, d in zip(index.mode_res[i], index.mode_dur[i], strict=True) if d <= fast]
    out = out[:limit]
    if current not in out:
        out.append(current)
    return out


def bottleneck_queue(
    plan: Plan,
    rng: random.Random,
    size: int,
    busy_jobs: Collection[int],
    busy_resources: Collection[int],
    tardiness: Sequence[int],
) -> tuple[list[int], list[int]]:
    """Operations queued on the pool where a tardy order waits longest, with their tails
    (none of a busy order or on a busy resource), and the pool."""
    x = plan.index
    late = [(t, j) for j, t in enumerate(tardiness) if t > 0 and j not in busy_jobs]
    if not late:
        return [], []
    late.sort(reverse=True)
    top = late[:100]
    pick = rng.random() * sum(t for t, _ in top)
    j0 = top[-1][1]
    for t, j in top:
        pick -= t
        if pick <= 0:
            j0 = j
            break
    waits = []
    for i in x.job_ops[j0]:
        if x.mode_dur[i][0] == 0:
            continue  # a zero-length step (a delivery milestone) never queues
        ready = max([x.release[i], *(plan.end[p] for p in x.preds[i])])
        waits.append((plan.start[i] - ready, i))
    if not waits:
        return [], []
    wait, i0 = max(waits)
    if wait <= 0:
        return [], []
    pool = [r for r in _pool(x, i0, plan.res[i0]) if r not in busy_resources]
    ready = plan.start[i0] - wait
    t_from = ready - rng.randrange(0, 2 * 1440 + 1)
    queued: list[tuple[int, int]] = []
    for r in pool:
        for s, i in plan.booked[r]:
            if s >= t_from:
                queued.append((s, i))
    queued.sort()
    out: list[int] = []
    seen_jobs: set[int] = set()
    for _, i in queued:
        j = x.op_job[i]
        if j in seen_jobs or j in busy_jobs:
            continue
        ops = x.job_ops[j]
        if any(plan.res[k] in busy_resources for k in ops):
            continue
        seen_jobs.add(j)
        # the operation queued here and everything after it in its order
        tail = _descendants(x, [k for k in ops if plan.res[k] in pool and plan.start[k] >= t_from])
        out.extend(tail)
        if len(out) >= size:
            break
    return out, pool


def _descendants(index: ClusterIndex, seeds: Sequence[int]) -> list[int]:
    seen: set[int] = set()
    stack = list(seeds)
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(index.succs[i])
    return sorted(seen)


def _keys(
    plan: Plan,
    ops: Sequence[int],
    rem: Sequence[int],
    rule: str,
    rng: random.Random,
    lookahead: float,
    noise: float,
) -> dict[int, float]:
    """Priority of each operation (smaller is placed first)."""
    x = plan.index
    horizon = 1 << 40
    p_bar = max(1.0, sum(x.mode_dur[i][0] for i in ops) / max(1, len(ops)))
    keys: dict[int, float] = {}
    for i in ops:
        j = x.op_job[i]
        due = x.due[j]
        w = x.weight[j] if due is not None else 0
        p = max(1, x.mode_dur[i][0])
        op_due = (horizon if due is None else due) - (rem[i] - p)  # when ``i`` must end
        ready = max([x.release[i], *(plan.end[q] for q in x.preds[i])])
        if rule == "slack":  # ready time, later by slack, earlier by weight per work
            slack = max(0.0, op_due - p - ready)
            key = ready + lookahead * 0.25 * slack - lookahead * 120.0 * w * p_bar / p
        elif rule == "edd":
            key = float(op_due)
        elif rule == "wspt":
            key = -w / p
        else:  # atc at the operation's current ready time
            slack = max(0.0, op_due - p - ready)
            key = -(w / p) * math.exp(-slack / (lookahead * p_bar))
        keys[i] = key * (1.0 + noise * (rng.random() - 0.5)) if key else key
    return keys


def resequence(
    plan: Plan,
    ops: Sequence[int],
    rng: random.Random,
    rem: Sequence[int],
    busy_resources: Collection[int] = (),
    rule: str | None = None,
    pool: Collection[int] = (),
) -> list[tuple[int, int, int, int]]:
    """New (operation, resource, start, end) for ``ops`` (whole tails of their orders: no
    operation outside ``ops`` may follow one inside), everything else of ``plan`` fixed.
    ``pool``: the bottleneck's resources (for the ``flow`` rule)."""
    x = plan.index
    free_set = set(ops)
    rule = rule or rng.choice(RULES if pool else RULES[:-1])
    timelines: dict[int, FreeTimeline] = {}

    def timeline(r: int) -> FreeTimeline:
        tl = timelines.get(r)
        if tl is None:
            tl = FreeTimeline(x.windows[r])
            for s, i in plan.booked[r]:
                if i not in free_set and plan.end[i] > s:
                    tl.book(s, plan.end[i])
            timelines[r] = tl
        return tl

    keys = None
    if rule == "flow":
        keys = _flow_keys(plan, ops, pool, rem, timeline, rng.random() * 0.2)
    if keys is None:
        rule = "atc" if rule == "flow" else rule
        la = rng.choice((0.5, 1.0, 2.0, 4.0))
        keys = _keys(plan, ops, rem, rule, rng, la, rng.random() * 0.3)
    res: dict[int, int] = {}
    end: dict[int, int] = {}
    indeg = {i: sum(1 for p in x.preds[i] if p in free_set) for i in ops}
    heap = [(keys[i], i) for i in ops if indeg[i] == 0]
    heapq.heapify(heap)
    site, tt, cost = x.res_site, x.tt, x.res_cost
    busy = set(busy_resources)
    changes: list[tuple[int, int, int, int]] = []
    while heap:
        _, i = heapq.heappop(heap)
        before = []
        for p in x.preds[i]:
            if p in free_set:
                before.append((end[p], tt[site[res[p]]]))
            else:
                before.append((plan.end[p], tt[site[plan.res[p]]]))
        t0 = x.release[i]
        t_min = max([t0, *(e for e, _ in before)])
        best_end, best_cost, best_r, best_s = INF, INF, -1, INF
        cur = plan.res[i]
        pausable = x.interruptible[i]
        for n, (r, d) in enumerate(zip(x.mode_res[i], x.mode_dur[i], strict=True)):
            if t_min + d > best_end:
                break
            if r in busy or (n >= _MODES and r != cur):
                continue  # the current resource and the fastest few: enough to choose from
            t = t0
            s_r = site[r]
            for e, row in before:
                if e + row[s_r] > t:
                    t = e + row[s_r]
            tl = timelines.get(r) or timeline(r)
            if pausable:
                s, f = tl.span(t, d)
            else:
                s = tl.earliest(t, d)
                f = s + d
            if s >= INF:
                continue
            if f < best_end or (f == best_end and d * cost[r] < best_cost):
                best_end, best_cost, best_r, best_s = f, d * cost[r], r, s
        if best_r < 0:
            return []  # nowhere to go (cannot happen while the current place is free)
        timeline(best_r).book(best_s, best_end)
        res[i], end[i] = best_r, best_end
        changes.append((i, best_r, best_s, best_end))
        for s in x.succs[i]:
            if s in indeg:
                indeg[s] -= 1
                if indeg[s] == 0:
                    heapq.heappush(heap, (keys[s], s))
    return changes


def _flow_keys(
    plan: Plan,
    ops: Sequence[int],
    pool: Collection[int],
    rem: Sequence[int],
    timeline: Callable[[int], FreeTimeline],
    noise: float = 0.0,
) -> dict[int, float] | None:
    """Priorities from the cheapest assignment of the queued operations to the pool's free
    time: each free segment holds as many of them as a median one fits, an operation there ends
    at ``max(segment start, ready) + duration`` (an interruptible one where its ``span`` from
    there ends, if it starts in the segment) and costs its order's weight x lateness at that
    time plus the work after it (a min-cost flow, as in ``queue_bound``). Queued operations go
    in the order of their assigned ends, the rest (their tails) as soon as they can. ``noise``
    perturbs the costs (relative) so that repeated calls explore."""
    x = plan.index
    rng = random.Random(len(ops) * 7919 + int(noise * 1e6))
    pool_set = set(pool)
    queued = [i for i in ops if plan.res[i] in pool_set]
    if len(queued) < 2:
        return None
    ready = {i: max([x.release[i], *(plan.end[q] for q in x.preds[i])]) for i in queued}
    durs = {i: dict(zip(x.mode_res[i], x.mode_dur[i], strict=True)) for i in queued}
    t_from = min(ready.values())
    typical = max(1, sorted(x.mode_dur[i][0] for i in queued)[len(queued) // 2])
    segments: list[tuple[int, int, int]] = []  # (resource, start, end)
    # room for half as many again as there are queued operations, spread over the pool (an
    # operation rarely needs a resource's later free time: these are priorities, not a bound)
    per_resource = min(len(queued), 3 * len(queued) // (2 * len(pool_set)) + 2)
    capacity: list[int] = []
    for r in pool_set:
        tl = timeline(r)
        k = max(0, bisect_right(tl.starts, t_from) - 1)
        held = 0
        while k < len(tl.starts) and held < per_resource:
            s, e = max(tl.starts[k], t_from), tl.ends[k]
            n = min(len(queued), (e - s) // typical)
            if n > 0:
                segments.append((r, s, e))
                capacity.append(n)
                held += n
            k += 1
    transport = Transport(len(queued), len(segments))
    for a, i in enumerate(queued):
        transport.item(a)
        j = x.op_job[i]
        due = x.due[j]
        w = x.weight[j]
        # the time its order now takes after it (waits for windows included)
        after = max(rem[i] - x.mode_dur[i][0], plan.completion(j) - plan.end[i])
        pausable = x.interruptible[i]
        for b, (r, s, e) in enumerate(segments):
            d = durs[i].get(r)
            if d is None:
                continue
            if pausable:  # it may go on in the resource's next windows
                first, finish = timeline(r).span(max(s, ready[i]), d)
                if first >= e:
                    continue
            else:
                finish = max(s, ready[i]) + d
                if finish > e:
                    continue
            late = 0 if due is None else w * max(0, finish + after - due)
            if noise:
                late = round(late * (1.0 + noise * (rng.random() - 0.5)))
            transport.to_slot(a, b, late * 64 + finish // 60)  # then earlier, to break ties
    for b, n in enumerate(capacity):
        transport.slot(b, n)
    if transport.solve() is None:
        return None
    keys: dict[int, float] = dict.fromkeys(ops, -1.0)
    for a, b in transport.chosen():
        i = queued[a]
        r, s, _ = segments[b]
        keys[i] = float(max(s, ready[i]) + durs[i][r])
    return keys
