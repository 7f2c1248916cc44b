"""Problem data: validated, immutable dataclasses with integer indices.

A problem is a multi-factory flexible job shop with calendars:

- ``Site``: a factory. Moving an order's work between sites takes ``transport_time[a][b]`` and
  costs ``transport_cost[a][b]``.
- ``Resource``: a machine at a site with an integer cost per time unit (minor currency units per
  minute in the platform) and sorted ``[start, end)`` availability windows (empty = always).
- ``Job``: an order with release date, optional due date and weight, and ``Operation`` s linked
  by precedences (a chain in listed order unless ``precedences`` gives a DAG).
- ``Operation``: runs on exactly one of its ``Mode`` s (eligible resource + duration).
- ``FixedBooking``: an operation already committed to a resource and time; kept as-is.

Every object validates itself; ``ProblemData`` validates cross-references and names the
offending item in the message, e.g. ``"operation 3 of job 7 has no eligible resource"``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class ProblemDataError(ValueError):
    """Raised when problem data is malformed; the message names the offending item."""


@dataclass(frozen=True)
class Site:
    """A factory (location). Only its index matters to the solver."""

    name: str = ""


@dataclass(frozen=True)
class Resource:
    """A machine at ``site`` with a cost per time unit and ``[start, end)`` availability windows.

    An empty ``windows`` tuple means always available. Outside its windows the resource is
    unavailable: a non-interruptible operation must fit inside one window.
    """

    site: int = 0
    cost_per_time: int = 0
    windows: tuple[tuple[int, int], ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        label = f"resource {self.name!r}" if self.name else "resource"
        if self.site < 0:
            raise ProblemDataError(f"{label} has negative site index {self.site}")
        if self.cost_per_time < 0:
            raise ProblemDataError(f"{label} has negative cost {self.cost_per_time}")
        windows = tuple((int(s), int(e)) for s, e in self.windows)
        object.__setattr__(self, "windows", windows)
        for start, end in windows:
            if start < 0:
                raise ProblemDataError(f"{label} has a window starting before 0: [{start}, {end})")
            if end <= start:
                raise ProblemDataError(
                    f"{label} has a window that ends before it starts: [{start}, {end})"
                )
        for (_, e1), (s2, e2) in itertools.pairwise(windows):
            if s2 < e1:
                raise ProblemDataError(
                    f"{label} has windows out of order or overlapping at [{s2}, {e2})"
                )


@dataclass(frozen=True)
class Mode:
    """Operation runs on ``resource`` for ``duration`` time units."""

    resource: int
    duration: int


@dataclass(frozen=True)
class Operation:
    """One step of a job's routing; runs on exactly one of its modes.

    ``interruptible`` operations may span the gaps between a resource's windows (processing
    time only counts inside windows; the resource stays reserved across the gap).
    """

    modes: tuple[Mode, ...]
    interruptible: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "modes", tuple(self.modes))


@dataclass(frozen=True)
class Job:
    """An order: operations, precedences (``None`` = chain), release, due date and weight."""

    operations: tuple[Operation, ...]
    precedences: tuple[tuple[int, int], ...] | None = None
    release: int = 0
    due: int | None = None
    weight: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "operations", tuple(self.operations))
        if self.precedences is not None:
            object.__setattr__(
                self, "precedences", tuple((int(a), int(b)) for a, b in self.precedences)
            )

    @property
    def arcs(self) -> tuple[tuple[int, int], ...]:
        """Precedence arcs between operation positions of this job."""
        if self.precedences is None:
            return tuple((o, o + 1) for o in range(len(self.operations) - 1))
        return self.precedences


@dataclass(frozen=True)
class FixedBooking:
    """A committed booking: operation ``operation`` of ``job`` on ``resource`` in [start, end)."""

    job: int
    operation: int
    resource: int
    start: int
    end: int


class ObjectiveTerm(StrEnum):
    MAKESPAN = "makespan"
    WEIGHTED_TARDINESS = "tardiness"
    COST = "cost"


@dataclass(frozen=True)
class Objective:
    """Weighted sum of terms, or a lexicographic order of terms.

    ``weights`` maps each term to its integer weight (weighted sum). When ``lexicographic`` is
    non-empty the listed terms are optimised in that order and the weights are ignored.
    """

    weights: tuple[tuple[ObjectiveTerm, int], ...] = ((ObjectiveTerm.MAKESPAN, 1),)
    lexicographic: tuple[ObjectiveTerm, ...] = ()

    def __post_init__(self) -> None:
        for term, weight in self.weights:
            if weight < 0:
                raise ProblemDataError(f"objective weight of {term.value} is negative")
        if not self.lexicographic and not any(w > 0 for _, w in self.weights):
            raise ProblemDataError("objective has no term with positive weight")

    @property
    def terms(self) -> tuple[ObjectiveTerm, ...]:
        if self.lexicographic:
            return self.lexicographic
        return tuple(t for t, w in self.weights if w > 0)

    @property
    def is_makespan(self) -> bool:
        return self.terms == (ObjectiveTerm.MAKESPAN,)

    @classmethod
    def parse(cls, text: str) -> Objective:
        """Parse ``makespan``, ``tardiness``, ``cost``, ``lex:makespan,cost`` or
        ``mix:makespan=1,cost=2``."""
        text = text.strip().lower()
        try:
            if text.startswith("lex:"):
                terms = tuple(ObjectiveTerm(t.strip()) for t in text[4:].split(",") if t.strip())
                return cls(weights=tuple((t, 1) for t in terms), lexicographic=terms)
            if text.startswith("mix:"):
                pairs = []
                for part in text[4:].split(","):
                    name, _, weight = part.partition("=")
                    pairs.append((ObjectiveTerm(name.strip()), int(weight or 1)))
                return cls(weights=tuple(pairs))
            return cls(weights=((ObjectiveTerm(text), 1),))
        except ValueError as exc:
            raise ProblemDataError(
                f"unknown objective {text!r}: use makespan, tardiness, cost, "
                "lex:TERM,TERM or mix:TERM=W,TERM=W"
            ) from exc


def _find_cycle(num_nodes: int, arcs: tuple[tuple[int, int], ...]) -> list[int] | None:
    """Return the nodes of a directed cycle, or None if the arcs form a DAG."""
    succ: list[list[int]] = [[] for _ in range(num_nodes)]
    for a, b in arcs:
        succ[a].append(b)
    state = [0] * num_nodes  # 0 new, 1 on stack, 2 done
    for root in range(num_nodes):
        if state[root]:
            continue
        stack = [(root, 0)]
        path = [root]
        state[root] = 1
        while stack:
            node, idx = stack[-1]
            if idx < len(succ[node]):
                stack[-1] = (node, idx + 1)
                nxt = succ[node][idx]
                if state[nxt] == 1:
                    return [*path[path.index(nxt) :], nxt]
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


@dataclass(frozen=True)
class ProblemData:
    """A complete, validated problem instance. Use ``Model`` to build one conveniently."""

    jobs: tuple[Job, ...]
    resources: tuple[Resource, ...]
    sites: tuple[Site, ...] = (Site(),)
    transport_time: tuple[tuple[int, ...], ...] | None = None
    transport_cost: tuple[tuple[int, ...], ...] | None = None
    fixed: tuple[FixedBooking, ...] = ()
    objective: Objective = field(default_factory=Objective)

    def __post_init__(self) -> None:
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "resources", tuple(self.resources))
        object.__setattr__(self, "sites", tuple(self.sites))
        object.__setattr__(self, "fixed", tuple(self.fixed))
        n_sites = len(self.sites)
        for name in ("transport_time", "transport_cost"):
            matrix = getattr(self, name)
            if matrix is None:
                matrix = tuple(tuple(0 for _ in range(n_sites)) for _ in range(n_sites))
            matrix = tuple(tuple(int(x) for x in row) for row in matrix)
            if len(matrix) != n_sites or any(len(row) != n_sites for row in matrix):
                raise ProblemDataError(f"{name} must be a {n_sites}x{n_sites} matrix")
            for a, row in enumerate(matrix):
                for b, value in enumerate(row):
                    if value < 0:
                        raise ProblemDataError(f"{name} from site {a} to site {b} is negative")
            object.__setattr__(self, name, matrix)
        self._validate()

    def _validate(self) -> None:
        if not self.resources:
            raise ProblemDataError("problem has no resources")
        for r, res in enumerate(self.resources):
            if res.site >= len(self.sites):
                raise ProblemDataError(f"resource {r} is at unknown site {res.site}")
        for j, job in enumerate(self.jobs):
            if job.release < 0:
                raise ProblemDataError(f"job {j} has negative release date {job.release}")
            if job.due is not None and job.due < 0:
                raise ProblemDataError(f"job {j} has negative due date {job.due}")
            if job.weight < 0:
                raise ProblemDataError(f"job {j} has negative weight {job.weight}")
            if not job.operations:
                raise ProblemDataError(f"job {j} has no operations")
            for o, op in enumerate(job.operations):
                if not op.modes:
                    raise ProblemDataError(f"operation {o} of job {j} has no eligible resource")
                seen: set[int] = set()
                for mode in op.modes:
                    if not 0 <= mode.resource < len(self.resources):
                        raise ProblemDataError(
                            f"operation {o} of job {j} names unknown resource {mode.resource}"
                        )
                    if mode.duration < 0:
                        raise ProblemDataError(
                            f"operation {o} of job {j} has negative duration {mode.duration} "
                            f"on resource {mode.resource}"
                        )
                    if mode.resource in seen:
                        raise ProblemDataError(
                            f"operation {o} of job {j} lists resource {mode.resource} twice"
                        )
                    seen.add(mode.resource)
            n_ops = len(job.operations)
            for a, b in job.arcs:
                if not (0 <= a < n_ops and 0 <= b < n_ops) or a == b:
                    raise ProblemDataError(
                        f"job {j} has a precedence ({a}, {b}) between unknown operations"
                    )
            cycle = _find_cycle(n_ops, job.arcs)
            if cycle is not None:
                path = " -> ".join(str(o) for o in cycle)
                raise ProblemDataError(f"job {j} has a precedence cycle: operations {path}")
        seen_fixed: set[tuple[int, int]] = set()
        for k, booking in enumerate(self.fixed):
            if not 0 <= booking.job < len(self.jobs):
                raise ProblemDataError(f"fixed booking {k} names unknown job {booking.job}")
            job = self.jobs[booking.job]
            if not 0 <= booking.operation < len(job.operations):
                raise ProblemDataError(
                    f"fixed booking {k} names unknown operation {booking.operation} "
                    f"of job {booking.job}"
                )
            label = f"fixed booking of operation {booking.operation} of job {booking.job}"
            if (booking.job, booking.operation) in seen_fixed:
                raise ProblemDataError(f"{label} is given twice")
            seen_fixed.add((booking.job, booking.operation))
            op = job.operations[booking.operation]
            durations = {m.resource: m.duration for m in op.modes}
            if booking.resource not in durations:
                raise ProblemDataError(f"{label} uses ineligible resource {booking.resource}")
            if booking.start < 0 or booking.end < booking.start:
                raise ProblemDataError(
                    f"{label} has invalid times [{booking.start}, {booking.end})"
                )
            if not op.interruptible and booking.end - booking.start != durations[booking.resource]:
                raise ProblemDataError(
                    f"{label} lasts {booking.end - booking.start}, but the operation takes "
                    f"{durations[booking.resource]} on resource {booking.resource}"
                )

    # ---- flat views used by the solvers (global operation index i) -------------------------

    @property
    def num_jobs(self) -> int:
        return len(self.jobs)

    @property
    def num_resources(self) -> int:
        return len(self.resources)

    @cached_property
    def job_offsets(self) -> tuple[int, ...]:
        """Global index of each job's first operation; last entry is the operation count."""
        offsets = [0]
        for job in self.jobs:
            offsets.append(offsets[-1] + len(job.operations))
        return tuple(offsets)

    @property
    def num_operations(self) -> int:
        return self.job_offsets[-1]

    def op_index(self, job: int, operation: int) -> int:
        return self.job_offsets[job] + operation

    @cached_property
    def op_job(self) -> tuple[int, ...]:
        return tuple(j for j, job in enumerate(self.jobs) for _ in job.operations)

    @cached_property
    def op_pos(self) -> tuple[int, ...]:
        return tuple(o for job in self.jobs for o in range(len(job.operations)))

    @cached_property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(op for job in self.jobs for op in job.operations)

    @cached_property
    def arcs(self) -> tuple[tuple[int, int], ...]:
        """All precedence arcs as global operation indices."""
        return tuple(
            (self.job_offsets[j] + a, self.job_offsets[j] + b)
            for j, job in enumerate(self.jobs)
            for a, b in job.arcs
        )

    @cached_property
    def fixed_by_op(self) -> dict[int, FixedBooking]:
        return {self.op_index(b.job, b.operation): b for b in self.fixed}

    @cached_property
    def has_windows(self) -> bool:
        return any(res.windows for res in self.resources)

    @cached_property
    def has_transport(self) -> bool:
        assert self.transport_time is not None
        return len(self.sites) > 1 and any(any(row) for row in self.transport_time)

    @cached_property
    def is_chain_only(self) -> bool:
        return all(job.precedences is None for job in self.jobs)

    def duration(self, i: int, resource: int) -> int | None:
        for mode in self.operations[i].modes:
            if mode.resource == resource:
                return mode.duration
        return None

    def transport(self, r1: int, r2: int) -> int:
        assert self.transport_time is not None
        return self.transport_time[self.resources[r1].site][self.resources[r2].site]

    def horizon(self) -> int:
        """An upper bound on the end of some optimal schedule (for regular objectives)."""
        total = sum(max(m.duration for m in op.modes) for op in self.operations)
        assert self.transport_time is not None
        max_transport = max((max(row) for row in self.transport_time), default=0)
        base = max([job.release for job in self.jobs] + [0])
        base = max([base] + [b.end for b in self.fixed])
        window_end = max((res.windows[-1][1] for res in self.resources if res.windows), default=0)
        return max(base, window_end) + total + max_transport * len(self.arcs) + 1
