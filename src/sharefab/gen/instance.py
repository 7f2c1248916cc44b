"""From a generated (or user-supplied) cluster to the optimiser's problem data.

``cluster_to_problem(cluster)`` turns a ``Cluster`` into ``ProblemData``: one site per cluster
site, one resource per cluster resource (cost per minute from its hourly rate, its capacity windows
as availability), one job per order (one operation per routing step, one mode per eligible
resource with the class-dependent processing time, precedences from the routing), transport time
and cost between sites from their coordinates. The objective is weighted tardiness first, then
cost (lexicographic).

Before building anything, ``check_cluster`` looks for input no solver can plan and names the
order and operation: an operation no resource can perform, an operation longer than every window
of every resource that can perform it (for an interruptible one: longer than all of a resource's
windows together), a precedence cycle or an unknown predecessor. Interruptible operations stay
interruptible in the problem data.
``cluster_from_dict`` reads back what ``cluster_to_dict`` (and ``sharefab gen cluster``) wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharefab.gen.cluster import (
    Cluster,
    ClusterSpec,
    GenCapability,
    GenOperation,
    GenOrder,
    GenOrganization,
    GenResource,
    GenSite,
    GenWindow,
    operation_minutes,
    transport_cost_minor,
    transport_minutes,
)
from sharefab.optimize.data import (
    Job,
    Mode,
    Objective,
    ObjectiveTerm,
    Operation,
    ProblemData,
    ProblemDataError,
    Resource,
    Site,
)

__all__ = [
    "CLUSTER_OBJECTIVE",
    "ClusterInputError",
    "check_cluster",
    "cluster_from_dict",
    "cluster_to_problem",
    "eligible_resources",
    "extend_windows",
    "read_cluster",
]

CLUSTER_OBJECTIVE = Objective(
    weights=((ObjectiveTerm.WEIGHTED_TARDINESS, 1), (ObjectiveTerm.COST, 1)),
    lexicographic=(ObjectiveTerm.WEIGHTED_TARDINESS, ObjectiveTerm.COST),
)


class ClusterInputError(ProblemDataError):
    """A cluster no plan can exist for; the message names the order and the operation."""


def _op_label(order: GenOrder, op: GenOperation) -> str:
    return f"order {order.reference or order.key} operation {op.seq} {op.name!r}"


def eligible_resources(cluster: Cluster) -> list[list[list[int]]]:
    """For each order and operation, the indices of the resources that can perform it.

    A resource is eligible when one of its capabilities has the operation's capability code and
    lists either no materials or the operation's material.
    """
    by_cap: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for r, res in enumerate(cluster.resources):
        for cap in res.capabilities:
            by_cap.setdefault(cap.code, []).append((r, cap.materials))
    cache: dict[tuple[str, str], list[int]] = {}
    out: list[list[list[int]]] = []
    for order in cluster.orders:
        per_op = []
        for op in order.operations:
            key = (op.capability_code, op.material or order.material)
            if key not in cache:
                seen: set[int] = set()
                rs = []
                for r, mats in by_cap.get(key[0], ()):
                    if r not in seen and (not mats or key[1] in mats):
                        seen.add(r)
                        rs.append(r)
                cache[key] = rs
            per_op.append(cache[key])
        out.append(per_op)
    return out


def _windows_by_resource(cluster: Cluster) -> list[list[tuple[int, int]]]:
    index = {res.key: r for r, res in enumerate(cluster.resources)}
    out: list[list[tuple[int, int]]] = [[] for _ in cluster.resources]
    for w in cluster.windows:
        if w.resource_key not in index:
            raise ClusterInputError(f"capacity window names unknown resource {w.resource_key!r}")
        out[index[w.resource_key]].append((w.start_min, w.end_min))
    for spans in out:
        spans.sort()
    return out


def _cycle(order: GenOrder) -> list[int] | None:
    """Seqs on a precedence cycle of ``order`` (or None)."""
    preds = {op.seq: op.predecessors for op in order.operations}
    state: dict[int, int] = {}

    def visit(seq: int, path: list[int]) -> list[int] | None:
        state[seq] = 1
        path.append(seq)
        for p in preds.get(seq, ()):
            if state.get(p) == 1:
                return [*path[path.index(p) :], p]
            if p in preds and not state.get(p):
                found = visit(p, path)
                if found:
                    return found
        path.pop()
        state[seq] = 2
        return None

    for op in order.operations:
        if not state.get(op.seq):
            found = visit(op.seq, [])
            if found:
                return found[::-1]
    return None


def check_cluster(cluster: Cluster) -> list[str]:
    """Every reason no plan can exist, each naming the order and operation (empty = fine)."""
    problems: list[str] = []
    windows = _windows_by_resource(cluster)
    longest = [max((e - s for s, e in spans), default=0) for spans in windows]
    offered = [sum(e - s for s, e in spans) for spans in windows]
    classes = [res.resource_class for res in cluster.resources]
    eligible = eligible_resources(cluster)
    for order, per_op in zip(cluster.orders, eligible, strict=True):
        seqs = [op.seq for op in order.operations]
        if len(set(seqs)) != len(seqs):
            problems.append(f"order {order.reference or order.key} repeats an operation number")
            continue
        for op, rs in zip(order.operations, per_op, strict=True):
            label = _op_label(order, op)
            for p in op.predecessors:
                if p not in seqs:
                    problems.append(f"{label} follows unknown operation {p}")
            if not rs:
                material = op.material or order.material
                problems.append(
                    f"{label} needs capability {op.capability_code!r} on {material} "
                    "that no resource offers"
                )
                continue
            shortest = min(operation_minutes(op, order.quantity, classes[r]) for r in rs)
            # an interruptible operation may run over several windows of one resource
            room = offered if op.interruptible else longest
            if not any(room[r] >= operation_minutes(op, order.quantity, classes[r]) for r in rs):
                where = (
                    "more than all the capacity windows together"
                    if op.interruptible
                    else "longer than every capacity window"
                )
                problems.append(
                    f"{label} takes at least {shortest} min, {where} "
                    f"of the {len(rs)} resource(s) that can perform it"
                )
        cycle = _cycle(order)
        if cycle is not None:
            path = " -> ".join(str(s) for s in cycle)
            problems.append(
                f"order {order.reference or order.key} has a precedence cycle: operations {path}"
            )
    return problems


TAIL_DAYS = 365


def extend_windows(
    spans: list[tuple[int, int]], horizon: int, extend_minutes: int
) -> list[tuple[int, int]]:
    """``spans`` plus, after ``horizon``, the same windows again (the published period repeated
    from its start) up to ``horizon + extend_minutes``, then one open window of ``TAIL_DAYS``
    (overflow capacity, so a plan always exists); touching windows merge."""
    if extend_minutes <= 0 or not spans:
        return spans
    out = list(spans)
    limit = horizon + extend_minutes
    for s, e in spans:
        s2, e2 = s + horizon, min(e + horizon, limit)
        if s2 >= limit:
            break
        if out[-1][1] >= s2:
            out[-1] = (out[-1][0], max(out[-1][1], e2))
        else:
            out.append((s2, e2))
    tail = (limit, limit + TAIL_DAYS * 1440)
    if out[-1][1] >= tail[0]:
        out[-1] = (out[-1][0], tail[1])
    else:
        out.append(tail)
    return out


def cluster_to_problem(
    cluster: Cluster, objective: Objective = CLUSTER_OBJECTIVE, extend_days: int | None = None
) -> ProblemData:
    """The optimiser's problem data for ``cluster`` (raises ``ClusterInputError`` first)."""
    problems = check_cluster(cluster)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ClusterInputError(problems[0] + more)
    site_index = {s.key: k for k, s in enumerate(cluster.sites)}
    sites = tuple(Site(s.key) for s in cluster.sites)
    transport_time = tuple(
        tuple(transport_minutes(a, b) for b in cluster.sites) for a in cluster.sites
    )
    transport_cost = tuple(
        tuple(transport_cost_minor(a, b) for b in cluster.sites) for a in cluster.sites
    )
    windows = _windows_by_resource(cluster)
    horizon = cluster.spec.horizon_min
    extend = (cluster.spec.horizon_days if extend_days is None else extend_days) * 1440
    resources = []
    for res, spans in zip(cluster.resources, windows, strict=True):
        if res.site_key not in site_index:
            raise ClusterInputError(f"resource {res.key} is at unknown site {res.site_key!r}")
        resources.append(
            Resource(
                site=site_index[res.site_key],
                cost_per_time=round(res.hourly_rate_minor / 60),
                windows=tuple(extend_windows(spans, horizon, extend)),
                name=res.key,
            )
        )
    classes = [res.resource_class for res in cluster.resources]
    eligible = eligible_resources(cluster)
    jobs = []
    for order, per_op in zip(cluster.orders, eligible, strict=True):
        position = {op.seq: k for k, op in enumerate(order.operations)}
        ops = []
        arcs: list[tuple[int, int]] = []
        for k, (op, rs) in enumerate(zip(order.operations, per_op, strict=True)):
            duration: dict[str, int] = {}
            modes = []
            for r in rs:
                c = classes[r]
                if c not in duration:
                    duration[c] = operation_minutes(op, order.quantity, c)
                modes.append(Mode(r, duration[c]))
            ops.append(Operation(tuple(modes), op.interruptible, name=op.name))
            arcs.extend((position[p], k) for p in op.predecessors)
        chain = arcs == [(k, k + 1) for k in range(len(ops) - 1)]
        jobs.append(
            Job(
                tuple(ops),
                None if chain else tuple(arcs),
                release=order.release_min,
                due=order.due_min,
                weight=order.weight,
                name=order.reference or order.key,
            )
        )
    return ProblemData(
        jobs=tuple(jobs),
        resources=tuple(resources),
        sites=sites,
        transport_time=transport_time,
        transport_cost=transport_cost,
        objective=objective,
    )


# --------------------------------------------------------------------- reading a cluster file


@dataclass(frozen=True)
class _Fields:
    path: str
    doc: dict[str, Any]

    def get(self, key: str, default: Any = ...) -> Any:
        if key not in self.doc:
            if default is ...:
                raise ClusterInputError(f"{self.path}: missing field {key!r}")
            return default
        return self.doc[key]


def _obj(doc: Any, path: str) -> _Fields:
    if not isinstance(doc, dict):
        raise ClusterInputError(f"{path}: expected an object")
    return _Fields(path, doc)


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list | tuple) else ()


def cluster_from_dict(doc: Any) -> Cluster:
    """A ``Cluster`` from the JSON document ``cluster_to_dict`` wrote (errors name the path)."""
    top = _obj(doc, "cluster")
    spec_doc = _obj(top.get("spec"), "spec").doc
    try:
        spec = ClusterSpec(**spec_doc)
    except (TypeError, ValueError) as exc:
        raise ClusterInputError(f"spec: {exc}") from None
    try:
        orgs = tuple(GenOrganization(**o) for o in top.get("organizations", []))
        for o in orgs:
            object.__setattr__(o, "certifications", _tuple(o.certifications))
        sites = tuple(GenSite(**s) for s in top.get("sites"))
        resources = []
        for k, r in enumerate(top.get("resources")):
            f = _obj(r, f"resources[{k}]")
            caps = tuple(
                GenCapability(
                    code=c["code"],
                    materials=_tuple(c.get("materials")),
                    max_envelope_mm=(
                        tuple(c["max_envelope_mm"]) if c.get("max_envelope_mm") else None
                    ),
                    tolerance_um=c.get("tolerance_um"),
                    certifications=_tuple(c.get("certifications")),
                )
                for c in f.get("capabilities")
            )
            resources.append(GenResource(**{**r, "capabilities": caps}))
        windows = tuple(GenWindow(**w) for w in top.get("windows"))
        orders = []
        for k, o in enumerate(top.get("orders")):
            f = _obj(o, f"orders[{k}]")
            ops = tuple(
                GenOperation(**{**op, "predecessors": _tuple(op.get("predecessors"))})
                for op in f.get("operations")
            )
            orders.append(GenOrder(**{**o, "operations": ops}))
    except (TypeError, KeyError) as exc:
        raise ClusterInputError(f"cluster: malformed entry ({exc})") from None
    return Cluster(
        spec=spec,
        seed=int(top.get("seed", 0)),
        organizations=orgs,
        sites=sites,
        resources=tuple(resources),
        windows=windows,
        orders=tuple(orders),
    )


def read_cluster(path: str | Path) -> Cluster:
    """Read a cluster JSON file written by ``sharefab gen cluster``."""
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ClusterInputError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    return cluster_from_dict(doc)
