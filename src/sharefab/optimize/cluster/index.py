"""A flat, list-based view of ``ProblemData`` for planning whole clusters fast.

``ProblemData`` holds one ``Mode`` object per eligible (operation, resource) pair; at cluster scale
(30,000 operations, 1.5 million modes) the planners read plain lists instead: per operation its
job, predecessors, successors and modes, per resource its site, cost and windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sharefab.optimize.data import Mode, ProblemData


def topological(n: int, arcs: tuple[tuple[int, int], ...]) -> list[int]:
    """Positions ``0..n-1`` in an order that puts every arc's tail before its head."""
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in arcs:
        indeg[b] += 1
        succ[a].append(b)
    ready = [o for o in range(n) if indeg[o] == 0][::-1]
    order = []
    while ready:
        a = ready.pop()
        order.append(a)
        for b in succ[a]:
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
    return order


def _by_duration(modes: tuple[Mode, ...]) -> list[Mode]:
    return sorted(modes, key=lambda m: (m.duration, m.resource))


@dataclass(frozen=True)
class ClusterIndex:
    """Flat lists indexed by global operation (``i``), job (``j``) and resource (``r``)."""

    data: ProblemData
    op_job: list[int]
    release: list[int]  # per operation: its job's release
    preds: list[list[int]]
    succs: list[list[int]]
    mode_res: list[list[int]]  # per operation, shortest duration first
    mode_dur: list[list[int]]
    res_site: list[int]
    res_cost: list[int]
    windows: list[list[tuple[int, int]]]
    tt: list[list[int]]
    tc: list[list[int]]
    job_ops: list[list[int]]  # per job: its operations in a topological order
    due: list[int | None]
    weight: list[int]
    interruptible: list[bool]  # per operation: may span the gaps between windows

    @classmethod
    def from_problem(cls, data: ProblemData) -> ClusterIndex:
        n = data.num_operations
        preds: list[list[int]] = [[] for _ in range(n)]
        succs: list[list[int]] = [[] for _ in range(n)]
        for a, b in data.arcs:
            preds[b].append(a)
            succs[a].append(b)
        job_ops = []
        for j, job in enumerate(data.jobs):
            base = data.job_offsets[j]
            order = (
                list(range(len(job.operations)))
                if job.precedences is None
                else topological(len(job.operations), job.arcs)
            )
            job_ops.append([base + o for o in order])
        ops = data.operations
        assert data.transport_time is not None
        assert data.transport_cost is not None
        return cls(
            data=data,
            op_job=list(data.op_job),
            release=[data.jobs[j].release for j in data.op_job],
            preds=preds,
            succs=succs,
            mode_res=[[m.resource for m in _by_duration(op.modes)] for op in ops],
            mode_dur=[[m.duration for m in _by_duration(op.modes)] for op in ops],
            res_site=[r.site for r in data.resources],
            res_cost=[r.cost_per_time for r in data.resources],
            windows=[list(r.windows) for r in data.resources],
            tt=[list(row) for row in data.transport_time],
            tc=[list(row) for row in data.transport_cost],
            job_ops=job_ops,
            due=[job.due for job in data.jobs],
            weight=[job.weight for job in data.jobs],
            interruptible=[op.interruptible for op in ops],
        )

    @property
    def num_operations(self) -> int:
        return len(self.op_job)

    @property
    def num_jobs(self) -> int:
        return len(self.job_ops)

    @property
    def num_resources(self) -> int:
        return len(self.res_site)

    def duration(self, i: int, r: int) -> int:
        return self.mode_dur[i][self.mode_res[i].index(r)]

    def op_label(self, i: int) -> str:
        """``operation 2 'Anodise' of job 7 (PO-123)`` - for messages."""
        j = self.op_job[i]
        job = self.data.jobs[j]
        o = i - self.data.job_offsets[j]
        name = job.operations[o].name
        op = f"operation {o} {name!r}" if name else f"operation {o}"
        return f"{op} of job {j}" + (f" ({job.name})" if job.name else "")
