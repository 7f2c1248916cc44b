"""Fast constructive plans: orders one after another, each operation on its earliest-finishing
capable resource.

``dispatch(index, rule)`` takes the orders in the order the rule gives and books every operation of
an order (in precedence order) on the eligible resource where it can finish earliest, given the
order's release date, its predecessors' ends plus transport from their sites, the resource's
capacity windows and what is already booked (an operation may fill an earlier gap; an
interruptible one may pause at a window end and go on in the next window). Ties go to the
cheaper resource. Rules:

- ``fcfs``: first come, first served (release date) - the baseline, what a platform without
  optimisation does;
- ``edd``: earliest due date first;
- ``slack``: least slack per unit of weight first (due - release - shortest remaining work);
- ``op_slack``: operation by operation instead of order by order (``op_dispatch``): operations
  are booked in the order of the time they become ready, each delayed in that order by half its
  order's slack (due - ready - shortest remaining work), so urgent work comes first at every
  resource while nothing is booked out of time order by more than the slack it can spare.

One pass over the 1.5 million (operation, resource) pairs of an ``L`` cluster takes about a
second. ``iterated_dispatch`` (order level) and ``iterated_op_dispatch`` (``op_slack``) repeat it,
"squeaky wheel" style: orders that came out late move up the sequence in proportion to their
weighted lateness, and the best plan is kept.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence

from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.cluster.resequence import remaining_work
from sharefab.optimize.cluster.timeline import INF, FreeTimeline

RULES = ("fcfs", "edd", "slack", "op_slack")


class DispatchError(RuntimeError):
    """Dispatch found no place for an operation (its windows are all too short or taken)."""


def rule_keys(index: ClusterIndex, rule: str) -> list[float]:
    """Each order's sequence key under ``rule`` (smaller goes first; ties by release, index)."""
    jobs = range(index.num_jobs)
    release = [index.data.jobs[j].release for j in jobs]
    horizon = max((e for w in index.windows for _, e in w[-1:]), default=0)
    due = [horizon * 4 if d is None else d for d in index.due]
    if rule == "fcfs":
        return [float(r) for r in release]
    if rule == "edd":
        return [float(d) for d in due]
    if rule == "slack":
        work = [sum(min(index.mode_dur[i]) for i in index.job_ops[j]) for j in jobs]
        return [(due[j] - release[j] - work[j]) / max(1, index.weight[j]) for j in jobs]
    raise ValueError(f"unknown dispatch rule {rule!r}; known: {', '.join(RULES)}")


def job_order(index: ClusterIndex, rule: str, keys: list[float] | None = None) -> list[int]:
    """The orders (jobs) in the sequence ``rule`` (or the given ``keys``) dispatches them."""
    key = rule_keys(index, rule) if keys is None else keys
    release = [job.release for job in index.data.jobs]
    return sorted(range(index.num_jobs), key=lambda j: (key[j], release[j], j))


def dispatch(index: ClusterIndex, rule: str = "fcfs", order: Sequence[int] | None = None) -> Plan:
    """A complete plan built by list scheduling in ``rule`` order, or in the given job ``order``
    (raises ``DispatchError``)."""
    if rule == "op_slack" and order is None:
        return op_dispatch(index)
    n = index.num_operations
    res, start, end = [0] * n, [0] * n, [0] * n
    free = [FreeTimeline(w) for w in index.windows]
    for j in job_order(index, rule) if order is None else order:
        for i in index.job_ops[j]:
            res[i], start[i], end[i] = _book(index, i, free, res, end)
    return Plan(index, res, start, end)


def _book(
    index: ClusterIndex,
    i: int,
    free: list[FreeTimeline],
    res: list[int],
    end: list[int],
) -> tuple[int, int, int]:
    """Book ``i`` on its earliest-finishing resource after its (booked) predecessors."""
    site, cost, tt = index.res_site, index.res_cost, index.tt
    before = [(end[p], tt[site[res[p]]]) for p in index.preds[i]]
    t0 = index.release[i]
    t_min = max([t0, *(e for e, _ in before)])  # no mode starts earlier
    best_end, best_cost, best_r, best_s = INF, INF, -1, INF
    pausable = index.interruptible[i]
    for r, d in zip(index.mode_res[i], index.mode_dur[i], strict=True):
        if t_min + d > best_end:
            break  # modes come shortest first: none of the rest can finish earlier
        t = t0
        s_r = site[r]
        for e, row in before:
            if e + row[s_r] > t:
                t = e + row[s_r]
        if pausable:
            s, f = free[r].span(t, d)
        else:
            s = free[r].earliest(t, d)
            f = s + d
        if s >= INF:
            continue
        if f < best_end or (f == best_end and d * cost[r] < best_cost):
            best_end, best_cost, best_r, best_s = f, d * cost[r], r, s
    if best_r < 0:
        raise DispatchError(f"no capacity window left for {index.op_label(i)}")
    free[best_r].book(best_s, best_end)
    return best_r, best_s, best_end


def op_dispatch(
    index: ClusterIndex, slack_share: float = 0.5, advance: Sequence[float] | None = None
) -> Plan:
    """Operation-level list scheduling (rule ``op_slack``, see the module docstring): each
    operation, once its predecessors are booked, is queued at its ready time plus
    ``slack_share`` x its order's slack (minus its order's ``advance``, if given), and booked in
    queue order on its earliest-finishing resource (free gaps allowed)."""
    n = index.num_operations
    res, start, end = [0] * n, [0] * n, [0] * n
    free = [FreeTimeline(w) for w in index.windows]
    rem = remaining_work(index)
    horizon = max((e for w in index.windows for _, e in w[-1:]), default=0)
    due = [horizon * 4 if d is None else d for d in index.due]
    preds, op_job, release = index.preds, index.op_job, index.release
    indeg = [len(p) for p in preds]
    heap: list[tuple[float, int]] = []

    def push(i: int, ready: int) -> None:
        j = op_job[i]
        slack = due[j] - ready - rem[i]
        key = ready + slack_share * max(0, slack) - (advance[j] if advance else 0.0)
        heapq.heappush(heap, (key, i))

    for i in range(n):
        if indeg[i] == 0:
            push(i, release[i])
    while heap:
        _, i = heapq.heappop(heap)
        res[i], start[i], end[i] = _book(index, i, free, res, end)
        for s in index.succs[i]:
            indeg[s] -= 1
            if indeg[s] == 0:
                push(s, max([release[s], *(end[p] for p in preds[s])]))
    return Plan(index, res, start, end)


def _squeaky_wheel(
    index: ClusterIndex,
    deadline: float,
    build: Callable[[list[float]], Plan],
    best: Plan,
    alpha: float,
    decay: float,
    max_rounds: int,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """Best of ``best`` and the plans ``build(advance)`` makes: each round every late order's
    advance grows by ``alpha x minutes late x weight / max weight`` (``alpha`` shrinks by
    ``decay`` per round; a round that does not improve restarts from the best advances).
    Stops at ``deadline``, after ``max_rounds`` or when ``should_stop()`` says so."""
    advance = [0.0] * index.num_jobs
    best_advance = advance[:]
    best_values = best.values()
    plan = best
    w_max = max(index.weight, default=1) or 1
    for _ in range(max_rounds):
        if time.perf_counter() >= deadline or (should_stop is not None and should_stop()):
            break
        for j, due in enumerate(index.due):
            if due is not None:
                late = plan.completion(j) - due
                if late > 0:
                    advance[j] += alpha * late * index.weight[j] / w_max
        alpha *= decay
        try:
            plan = build(advance)
        except DispatchError:  # this sequence left an operation no window: back to the best
            advance, plan = best_advance[:], best
            continue
        values = plan.values()
        if values < best_values:
            best, best_values, best_advance = plan, values, advance[:]
        else:
            advance, plan = best_advance[:], best
    return best


def iterated_op_dispatch(
    index: ClusterIndex,
    deadline: float,
    slack_share: float = 0.5,
    start: Plan | None = None,
    alpha: float = 1.0,
    decay: float = 0.85,
    max_rounds: int = 50,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """Best plan of repeated ``op_dispatch`` passes, squeaky-wheel style: each round every late
    order's operations move up their queues by ``alpha x minutes late x weight / max weight``
    more (``alpha`` shrinks by ``decay`` per round; a round that does not improve restarts from
    the best advances). ``start`` is the plan of ``op_dispatch(index, slack_share)`` if already
    made. Stops at ``deadline`` (``time.perf_counter()``; ``math.inf``: never), after
    ``max_rounds`` or when ``should_stop()`` says so."""
    best = start if start is not None else op_dispatch(index, slack_share)

    def build(advance: list[float]) -> Plan:
        return op_dispatch(index, slack_share, advance)

    return _squeaky_wheel(index, deadline, build, best, alpha, decay, max_rounds, should_stop)


def iterated_dispatch(
    index: ClusterIndex,
    deadline: float,
    rule: str = "edd",
    start: Plan | None = None,
    alpha: float = 0.5,
    decay: float = 0.7,
    max_rounds: int = 50,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """Best plan of repeated dispatches, seeded with ``rule``, late orders moved up each round
    (squeaky wheel).

    Each round lowers the sequence key of every late order by ``alpha x minutes late x weight /
    max weight``; ``alpha`` shrinks by ``decay`` per round and a round that does not improve
    restarts from the best keys. ``start`` is the plan of ``rule`` if already made. Stops at
    ``deadline`` (``time.perf_counter()``; ``math.inf``: never), after ``max_rounds`` or when
    ``should_stop()`` says so.
    """
    key = rule_keys(index, rule)
    best = start if start is not None else dispatch(index, order=job_order(index, rule, key))

    def build(advance: list[float]) -> Plan:
        moved = [k - a for k, a in zip(key, advance, strict=True)]
        return dispatch(index, order=job_order(index, rule, moved))

    return _squeaky_wheel(index, deadline, build, best, alpha, decay, max_rounds, should_stop)
