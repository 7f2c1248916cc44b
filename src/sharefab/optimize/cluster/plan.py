"""The plan being improved: one (resource, start, end) per operation, bookings per resource.

``Plan`` keeps each resource's bookings sorted by start so a neighbourhood can read what is around
it, and evaluates the cluster objective (weighted tardiness, then cost) in full or per job.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence

from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.timeline import window_time
from sharefab.optimize.result import Assignment


class Plan:
    """A complete plan over ``index``; ``move`` re-books operations and keeps the indexes."""

    def __init__(self, index: ClusterIndex, res: list[int], start: list[int], end: list[int]):
        self.index = index
        self.res, self.start, self.end = res, start, end
        self.booked: list[list[tuple[int, int]]] = [[] for _ in range(index.num_resources)]
        for i, r in enumerate(res):
            self.booked[r].append((start[i], i))
        for items in self.booked:
            items.sort()

    @classmethod
    def from_schedule(cls, index: ClusterIndex, schedule: Iterable[Assignment]) -> Plan:
        n = index.num_operations
        res, start, end = [0] * n, [0] * n, [0] * n
        for a in schedule:
            i = index.data.op_index(a.job, a.operation)
            res[i], start[i], end[i] = a.resource, a.start, a.end
        return cls(index, res, start, end)

    def copy(self) -> Plan:
        return Plan(self.index, self.res[:], self.start[:], self.end[:])

    def schedule(self) -> list[Assignment]:
        data = self.index.data
        return [
            Assignment(j, i - data.job_offsets[j], self.res[i], self.start[i], self.end[i])
            for i, j in enumerate(self.index.op_job)
        ]

    def move(self, changes: Sequence[tuple[int, int, int, int]]) -> None:
        """Re-book each ``(operation, resource, start, end)``."""
        for i, _, _, _ in changes:
            items = self.booked[self.res[i]]
            del items[bisect_left(items, (self.start[i], i))]
        for i, r, s, e in changes:
            self.res[i], self.start[i], self.end[i] = r, s, e
            insort(self.booked[r], (s, i))

    # ---- objective ---------------------------------------------------------------------------

    def completion(self, j: int) -> int:
        return max(self.end[i] for i in self.index.job_ops[j])

    def job_tardiness(self, j: int) -> int:
        due = self.index.due[j]
        if due is None:
            return 0
        return self.index.weight[j] * max(0, self.completion(j) - due)

    def work(self, i: int) -> int:
        """Processing time of operation ``i`` where it is booked (an interruptible operation
        that spans off-shift gaps works only inside the windows)."""
        if self.index.interruptible[i]:
            return window_time(self.index.windows[self.res[i]], self.start[i], self.end[i])
        return self.end[i] - self.start[i]

    def spans_gap(self, i: int) -> bool:
        """Whether operation ``i`` is booked over an off-shift gap (interruptible only)."""
        return self.index.interruptible[i] and self.work(i) < self.end[i] - self.start[i]

    def job_cost(self, j: int) -> int:
        """Processing cost of job ``j``'s operations plus transport along its precedences."""
        x = self.index
        total = 0
        for i in x.job_ops[j]:
            r = self.res[i]
            total += self.work(i) * x.res_cost[r]
            site = x.res_site[r]
            for s in x.succs[i]:
                total += x.tc[site][x.res_site[self.res[s]]]
        return total

    def job_values(self, j: int) -> tuple[int, int]:
        return self.job_tardiness(j), self.job_cost(j)

    def values(self) -> tuple[int, int]:
        """(weighted tardiness, total cost) of the whole plan."""
        wt = cost = 0
        for j in range(self.index.num_jobs):
            wt += self.job_tardiness(j)
            cost += self.job_cost(j)
        return wt, cost
