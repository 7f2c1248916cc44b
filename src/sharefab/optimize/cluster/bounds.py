"""Lower bounds for cluster plans that know about capacity windows.

``earliest_completions`` relaxes capacity (every resource is free for every order at once) but
keeps windows, release dates, precedence and transport: each operation starts on each eligible
resource at the earliest time its predecessors allow (their earliest end on any resource plus the
transport to this one) and inside one window long enough (an interruptible operation: as soon as
the windows from then on give it its processing time). No plan finishes an order earlier, so

- weighted tardiness >= sum of weight x max(0, earliest completion - due), and
- makespan >= the latest earliest completion, and >= the load bound of ``optimize.bounds``.

Orders whose operations cannot be placed at all even without competition are returned as ``None``
(the plan is infeasible within the offered windows).
"""

from __future__ import annotations

from bisect import bisect_right

from sharefab.optimize.bounds import load_bound
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.timeline import INF


def _earliest_fit(windows: list[tuple[int, int]], starts: list[int], t: int, d: int) -> int:
    if not windows:
        return t
    k = max(0, bisect_right(starts, t) - 1)
    for ws, we in windows[k:]:
        s = max(t, ws)
        if s + d <= we:
            return s
    return INF


def _earliest_span_end(windows: list[tuple[int, int]], starts: list[int], t: int, d: int) -> int:
    """Earliest end of ``d`` units of window time from ``t`` on (an interruptible operation)."""
    if not windows:
        return t + d
    k = max(0, bisect_right(starts, t) - 1)
    need = d
    for ws, we in windows[k:]:
        s = max(t, ws)
        if s >= we:
            continue
        if s + need <= we:
            return s + need
        need -= we - s
    return INF


def earliest_finishes(index: ClusterIndex) -> list[int]:
    """Per operation: a lower bound on its end on any resource, ignoring other orders.

    An operation on a resource at site ``s`` starts no earlier than, for each predecessor, the
    smaller of its earliest end at ``s`` and its earliest end anywhere plus the shortest
    transport into ``s`` (a relaxation of the exact minimum over the predecessor's sites).
    """
    n = index.num_operations
    site, tt = index.res_site, index.tt
    n_sites = len(tt)
    into = [min((tt[a][b] for a in range(n_sites) if a != b), default=0) for b in range(n_sites)]
    win_starts = [[s for s, _ in w] for w in index.windows]
    site_end: list[dict[int, int]] = [{} for _ in range(n)]
    best = [INF] * n
    for ops in index.job_ops:
        for i in ops:
            before = [(site_end[p], best[p]) for p in index.preds[i]]
            ends = site_end[i]
            for r, d in zip(index.mode_res[i], index.mode_dur[i], strict=True):
                t = index.release[i]
                s_r = site[r]
                for at, anywhere in before:
                    here = min(at.get(s_r, INF), anywhere + into[s_r])
                    if here > t:
                        t = here
                if t >= INF:
                    continue
                if index.interruptible[i]:
                    f = _earliest_span_end(index.windows[r], win_starts[r], t, d)
                else:
                    s = _earliest_fit(index.windows[r], win_starts[r], t, d)
                    f = s + d if s < INF else INF
                if f >= INF:
                    continue
                if f < ends.get(s_r, INF):
                    ends[s_r] = f
                if f < best[i]:
                    best[i] = f
    return best


def earliest_completions(index: ClusterIndex) -> list[int | None]:
    """Per order: the earliest any plan can finish it (None: it cannot be placed at all)."""
    ef = earliest_finishes(index)
    out: list[int | None] = []
    for ops in index.job_ops:
        c = max(ef[i] for i in ops)
        out.append(None if c >= INF else c)
    return out


def tardiness_bound(index: ClusterIndex, completions: list[int | None]) -> int:
    total = 0
    for j, c in enumerate(completions):
        due = index.due[j]
        if c is not None and due is not None:
            total += index.weight[j] * max(0, c - due)
    return total


def makespan_bound(index: ClusterIndex, completions: list[int | None]) -> int:
    return max([load_bound(index.data), *(c for c in completions if c is not None)])
