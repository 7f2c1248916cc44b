"""Cheap lower bounds, used as redundant information for CP-SAT and to report a bound.

- Job path bound: release + longest precedence path with each operation's shortest duration.
- Resource-group load bound: for each distinct eligible set E, the operations that can only run
  inside E need ceil(sum of their shortest durations / |E|) time on E.
"""

from __future__ import annotations

from sharefab.optimize.data import ObjectiveTerm, ProblemData


def min_durations(data: ProblemData) -> list[int]:
    return [min(m.duration for m in op.modes) for op in data.operations]


def job_path_bounds(data: ProblemData) -> list[int]:
    """Earliest possible completion of each job (release + longest path of shortest durations)."""
    dmin = min_durations(data)
    out = []
    for j, job in enumerate(data.jobs):
        base = data.job_offsets[j]
        n = len(job.operations)
        head = [job.release] * n
        order = _topological(n, job.arcs)
        succ: list[list[int]] = [[] for _ in range(n)]
        for a, b in job.arcs:
            succ[a].append(b)
        for a in order:
            for b in succ[a]:
                head[b] = max(head[b], head[a] + dmin[base + a])
        out.append(max(head[o] + dmin[base + o] for o in range(n)))
    return out


def _topological(n: int, arcs: tuple[tuple[int, int], ...]) -> list[int]:
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in arcs:
        indeg[b] += 1
        succ[a].append(b)
    stack = [o for o in range(n) if indeg[o] == 0]
    order = []
    while stack:
        a = stack.pop()
        order.append(a)
        for b in succ[a]:
            indeg[b] -= 1
            if indeg[b] == 0:
                stack.append(b)
    return order


def resource_groups(data: ProblemData) -> dict[frozenset[int], list[int]]:
    """Each distinct eligible set -> operations whose eligible set is a subset of it."""
    eligible = [frozenset(m.resource for m in op.modes) for op in data.operations]
    groups: dict[frozenset[int], list[int]] = {}
    for group in set(eligible):
        groups[group] = [i for i, e in enumerate(eligible) if e <= group]
    return groups


def load_bound(data: ProblemData) -> int:
    dmin = min_durations(data)
    best = 0
    for group, ops in resource_groups(data).items():
        total = sum(dmin[i] for i in ops)
        best = max(best, -(-total // len(group)))
    all_res = len({m.resource for op in data.operations for m in op.modes})
    return max(best, -(-sum(dmin) // max(1, all_res)))


def makespan_bound(data: ProblemData) -> int:
    return max([load_bound(data), *job_path_bounds(data)])


def term_bounds(data: ProblemData) -> dict[ObjectiveTerm, int]:
    paths = job_path_bounds(data)
    tardiness = sum(
        job.weight * max(0, paths[j] - job.due)
        for j, job in enumerate(data.jobs)
        if job.due is not None
    )
    cost = sum(
        min(m.duration * data.resources[m.resource].cost_per_time for m in op.modes)
        for op in data.operations
    )
    return {
        ObjectiveTerm.MAKESPAN: makespan_bound(data),
        ObjectiveTerm.WEIGHTED_TARDINESS: tardiness,
        ObjectiveTerm.COST: cost,
    }


def objective_bound(data: ProblemData) -> int:
    """A lower bound on the objective (first term for a lexicographic objective)."""
    bounds = term_bounds(data)
    obj = data.objective
    if obj.lexicographic:
        return bounds[obj.lexicographic[0]]
    return sum(w * bounds[t] for t, w in obj.weights)
