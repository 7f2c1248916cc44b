"""A capacity-aware lower bound on weighted tardiness: the queues on the busiest resource pools.

``bounds.earliest_completions`` ignores capacity, so it says nothing about orders that wait for an
overloaded pool. ``queue_bound`` adds the pools: for a pool ``P`` (a set of resources) it takes the
operations that can run nowhere else and relaxes everything but one thing - that an operation runs
inside one capacity window, so a window of length ``L`` holds at most ``floor(L / d)`` operations
whose duration on it is at least ``d``. Each such operation ``i`` then needs a slot of its own: a
window ``[ws, we)`` of a resource ``r`` in ``P`` (one slot per operation it can hold), where it
ends no earlier than ``C = max(ws, ready_i) + d_ir`` (``ready_i``: its release and its
predecessors' earliest ends with capacity relaxed) and needs ``C <= we``. Its order then finishes
no earlier than ``C`` plus the shortest work after ``i``, and costs at least
``weight x max(0, that - due)`` (and at least its capacity-relaxed bound). Windows that hold many
operations are treated as unlimited. The cheapest assignment of operations to distinct slots (a
min-cost flow) is a lower bound on those orders' weighted tardiness in every plan.

Interruptible operations (they may pause at a window end) take no slot; the minutes version
(``_minutes_bound``) prices them too.

Each order is charged in at most one pool (its operations in other pools still take slots there,
at no charge), and orders charged in no pool keep their capacity-relaxed bound, so the sum over
pools plus the rest is a lower bound on the whole plan's weighted tardiness.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sharefab.optimize.cluster.bounds import earliest_finishes
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.timeline import INF
from sharefab.optimize.cluster.transport import Transport

_UNLIMITED = 4  # a window that holds more than this many of the pool's operations
_MINUTE_SCALE = 64  # minutes of an operation carry 1/d of its cost: keep some precision
_SCALE = 6  # costs are split over an order's 1, 2 or 3 operations in a pool: keep them whole


@dataclass(frozen=True)
class PoolBound:
    resources: tuple[int, ...]
    operations: int  # operations that must run on the pool
    charged_orders: int
    bound: int  # lower bound on the charged orders' weighted tardiness
    relaxed: int  # their capacity-relaxed bound, for comparison


@dataclass(frozen=True)
class QueueBound:
    total: int  # lower bound on the plan's weighted tardiness
    relaxed: int  # the capacity-relaxed bound (``bounds.tardiness_bound``)
    pools: tuple[PoolBound, ...]


def _pool_load(index: ClusterIndex, pool: frozenset[int], ops: list[int], horizon: int) -> float:
    """Demand over supply before ``horizon``: in minutes, or in windows for the operations
    longer than half a shift (one per window), whichever is higher."""
    cap = 0
    for r in pool:
        w = index.windows[r]
        cap += sum(min(e, horizon) - s for s, e in w if s < horizon) if w else horizon
    minutes = sum(index.mode_dur[i][0] for i in ops) / max(1, cap)
    long_ops = [i for i in ops if index.mode_dur[i][0] > 240 and not index.interruptible[i]]
    if not long_ops:
        return minutes
    shortest = min(index.mode_dur[i][0] for i in long_ops)
    fits = 0
    for r in pool:
        for s, e in index.windows[r] or [(0, INF)]:
            if s < horizon and e - s >= shortest:
                fits += 1 if e - s < 4 * shortest else 1 << 20
    return max(minutes, len(long_ops) / max(1, fits))


def queue_bound(index: ClusterIndex, max_pools: int = 24, min_load: float = 0.2) -> QueueBound:
    """The bound described in the module docstring over the ``max_pools`` most loaded pools."""
    ef = earliest_finishes(index)
    n_jobs = index.num_jobs
    relax = [0] * n_jobs
    for j, ops in enumerate(index.job_ops):
        due = index.due[j]
        c = max(ef[i] for i in ops)
        if due is not None and c < INF:
            relax[j] = index.weight[j] * max(0, c - due)
    relaxed_total = sum(relax)
    horizon = max((due for due in index.due if due is not None), default=0)
    ready = [
        max([index.release[i], *(ef[p] for p in index.preds[i])])
        for i in range(index.num_operations)
    ]
    after = [0] * index.num_operations  # shortest work after ``i`` to the end of its order
    for ops in index.job_ops:
        for i in reversed(ops):
            after[i] = max((index.mode_dur[s][0] + after[s] for s in index.succs[i]), default=0)
    # candidate pools: the resource sets of operations, with every operation confined to them
    by_set: dict[frozenset[int], list[int]] = defaultdict(list)
    for i in range(index.num_operations):
        by_set[frozenset(index.mode_res[i])].append(i)
    pools = []
    for pool in by_set:
        if len(pool) > 60:
            continue
        ops = [i for s, members in by_set.items() if s <= pool for i in members]
        load = _pool_load(index, pool, ops, horizon)
        if load >= min_load:
            pools.append((load, pool, ops))
    pools.sort(key=lambda p: -p[0])
    # the most loaded pools, and the ones with the most long operations
    by_long = sorted(
        pools,
        key=lambda p: (
            -sum(1 for i in p[2] if index.mode_dur[i][0] > 240 and not index.interruptible[i])
        ),
    )
    chosen = {p[1]: p for p in pools[: max_pools // 2]}
    for p in by_long:
        if len(chosen) >= max_pools:
            break
        chosen.setdefault(p[1], p)
    # each pool priced on its own, then the best gains over the capacity-relaxed bound taken
    # greedily among pools that share no order
    priced = []
    for _, pool, ops in chosen.values():
        jobs: set[int] = set()
        result = _pool_bound(index, pool, ops, ready, after, relax, jobs)
        if result is not None and result.bound > result.relaxed:
            priced.append((result.bound - result.relaxed, result, jobs))
    priced.sort(key=lambda p: -p[0])
    charged: set[int] = set()
    results: list[PoolBound] = []
    for _, result, jobs in priced:
        if not jobs & charged:
            charged |= jobs
            results.append(result)
    total = sum(relax[j] for j in range(n_jobs) if j not in charged)
    total += sum(p.bound for p in results)
    return QueueBound(total=total, relaxed=relaxed_total, pools=tuple(results))


def _pool_bound(
    index: ClusterIndex,
    pool: frozenset[int],
    ops: list[int],
    ready: list[int],
    after: list[int],
    relax: list[int],
    charged: set[int],
) -> PoolBound | None:
    """Min-cost assignment of ``ops`` to slots of ``pool``; charges the orders it prices."""
    # every operation of an order not charged elsewhere carries 1/m of its cost (m: the order's
    # operations here), since an order's tardiness is at least the mean of its operations' bounds
    share: dict[int, int] = defaultdict(int)
    for i in ops:
        j = index.op_job[i]
        if j not in charged and index.due[j] is not None:
            share[j] += 1
    if not share:
        return None
    # slots are counted for the operations longer than half a typical window only (the short
    # ones are left out, which only lowers the bound)
    lengths = sorted(we - ws for r in pool for ws, we in index.windows[r] or [(0, INF)])
    typical = lengths[len(lengths) // 2]
    # (an interruptible operation may share windows with others: it takes no slot)
    long_ops = [i for i in ops if 2 * index.mode_dur[i][0] > typical and not index.interruptible[i]]
    shortest = dict.fromkeys(pool, INF)
    for i in long_ops:
        for r, d in zip(index.mode_res[i], index.mode_dur[i], strict=True):
            shortest[r] = min(shortest[r], d)
    # slots: windows that hold a few long operations; the others are unlimited
    capacity: list[int] = []
    by_res: dict[int, list[tuple[int, int, int]]] = {}  # resource -> (slot, start, end)
    unlimited: dict[int, list[tuple[int, int]]] = {}  # resource -> its unlimited windows
    for r in pool:
        rows = by_res.setdefault(r, [])
        for ws, we in index.windows[r] or [(0, INF)]:
            k = (we - ws) // max(1, shortest[r])
            if k > _UNLIMITED:
                unlimited.setdefault(r, []).append((ws, we))
            elif k >= 1:
                rows.append((len(capacity), ws, we))
                capacity.append(k)

    def cost(i: int, finish: int) -> int:
        j = index.op_job[i]
        m = share.get(j)
        if m is None:
            return 0
        due = index.due[j]
        assert due is not None
        late = max(relax[j], index.weight[j] * max(0, finish + after[i] - due))
        return late * _SCALE // m

    n_ops = len(long_ops)
    transport = Transport(n_ops, len(capacity))
    for k, i in enumerate(long_ops):
        transport.item(k)
        modes = [(r, d) for r, d in zip(index.mode_res[i], index.mode_dur[i], strict=True)]
        # the operation's own way out: an unlimited window, if it has one
        own = INF
        for r, d in modes:
            for ws, we in unlimited.get(r, ()):
                if max(ws, ready[i]) + d <= we:
                    own = min(own, cost(i, max(ws, ready[i]) + d))
                    break
        if own < INF:  # else the operation must take a slot (no plan could place it otherwise)
            transport.out(k, own)
        for r, d in modes:
            for slot, ws, we in by_res.get(r, ()):
                finish = max(ws, ready[i]) + d
                if finish > we:
                    continue
                c = cost(i, finish)
                if c >= own:
                    break  # later windows cost at least as much
                transport.to_slot(k, slot, c)
    for slot, n in enumerate(capacity):
        transport.slot(slot, n)
    total = transport.solve()
    if total is None:
        return None
    by_slots = total // _SCALE
    by_minutes = _minutes_bound(index, pool, ops, ready, cost) if len(ops) <= 300 else 0
    jobs = set(share)
    charged.update(jobs)
    return PoolBound(
        resources=tuple(sorted(pool)),
        operations=n_ops,
        charged_orders=len(jobs),
        bound=max(by_slots, by_minutes),
        relaxed=sum(relax[j] for j in jobs),
    )


def _minutes_bound(
    index: ClusterIndex,
    pool: frozenset[int],
    ops: list[int],
    ready: list[int],
    cost: Callable[[int, int], int],
) -> int:
    """The same orders priced by minutes instead of slots: operation ``i`` sends its shortest
    duration in minutes into windows it fits in, a window takes as many minutes as it is long,
    a minute of ``i`` in window ``w`` costs ``cost(i, w) / d_i``. A plan puts each operation whole
    into one window, which is one such flow, so the cheapest (possibly split) flow is a bound.

    An interruptible operation may work in any window that ends after it is ready; it ends no
    earlier than ``max(ws + 1, ready + d)`` for every window ``[ws, we)`` it works in, so pricing
    each of its minutes there at that finish is at most what the plan pays."""

    def finish_in(i: int, d: int, ws: int, we: int) -> int | None:
        if index.interruptible[i]:
            return max(ws + 1, ready[i] + d) if max(ws, ready[i]) < we else None
        f = max(ws, ready[i]) + d
        return f if f <= we else None

    windows: list[tuple[int, int, int]] = []  # (resource, start, end)
    by_res: dict[int, list[int]] = {}
    for r in pool:
        for ws, we in index.windows[r] or [(0, INF)]:
            by_res.setdefault(r, []).append(len(windows))
            windows.append((r, ws, min(we, ws + (1 << 40))))
    n_ops = len(ops)
    supply_all = sum(index.mode_dur[i][0] for i in ops)
    transport = Transport(n_ops, len(windows))
    for k, i in enumerate(ops):
        d_min = index.mode_dur[i][0]
        transport.item(k, d_min)
        modes = list(zip(index.mode_res[i], index.mode_dur[i], strict=True))
        # a window taking the whole supply (the unlimited ones) caps what any minute needs to
        # pay: costlier windows are never needed
        own = INF
        for r, d in modes:
            for w in by_res.get(r, ()):
                _, ws, we = windows[w]
                finish = finish_in(i, d, ws, we)
                if we - ws >= supply_all and finish is not None:
                    own = min(own, cost(i, finish))
                    break
        for r, d in modes:
            for w in by_res.get(r, ()):
                _, ws, we = windows[w]
                finish = finish_in(i, d, ws, we)
                if finish is None:
                    continue
                c = cost(i, finish)
                if c > own:
                    break
                transport.to_slot(k, w, c * _MINUTE_SCALE // d_min, d_min)
    for w, (_, ws, we) in enumerate(windows):
        transport.slot(w, min(we - ws, transport.supply))
    total = transport.solve()
    if total is None:
        return 0
    return total // (_MINUTE_SCALE * _SCALE)
