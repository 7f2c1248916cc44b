"""A mutable builder that produces validated ``ProblemData`` (in the style of PyJobShop's Model)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sharefab.optimize.data import (
    FixedBooking,
    Job,
    Mode,
    Objective,
    Operation,
    ProblemData,
    Resource,
    Site,
)


@dataclass
class _JobDraft:
    release: int = 0
    due: int | None = None
    weight: int = 1
    name: str = ""
    operations: list[Operation] = field(default_factory=list)
    precedences: list[tuple[int, int]] | None = None


class Model:
    """Build a problem step by step; ``data()`` validates and freezes it.

    >>> m = Model()
    >>> r = m.add_resource()
    >>> j = m.add_job(due=10)
    >>> m.add_operation(j, {r: 3})
    0
    >>> m.data().num_operations
    1
    """

    def __init__(self) -> None:
        self._sites: list[Site] = []
        self._resources: list[Resource] = []
        self._jobs: list[_JobDraft] = []
        self._transport: dict[tuple[int, int], tuple[int, int]] = {}
        self._fixed: list[FixedBooking] = []
        self._objective = Objective()

    def add_site(self, name: str = "") -> int:
        self._sites.append(Site(name))
        return len(self._sites) - 1

    def add_resource(
        self,
        site: int = 0,
        cost_per_time: int = 0,
        windows: Iterable[tuple[int, int]] = (),
        name: str = "",
    ) -> int:
        self._resources.append(Resource(site, cost_per_time, tuple(windows), name))
        return len(self._resources) - 1

    def add_job(
        self, release: int = 0, due: int | None = None, weight: int = 1, name: str = ""
    ) -> int:
        self._jobs.append(_JobDraft(release, due, weight, name))
        return len(self._jobs) - 1

    def add_operation(
        self,
        job: int,
        modes: Mapping[int, int] | Iterable[tuple[int, int]],
        interruptible: bool = False,
        name: str = "",
    ) -> int:
        """Append an operation to ``job``; ``modes`` maps resource -> duration. Returns its
        position in the job."""
        pairs = modes.items() if isinstance(modes, Mapping) else modes
        op = Operation(tuple(Mode(r, d) for r, d in pairs), interruptible, name)
        self._jobs[job].operations.append(op)
        return len(self._jobs[job].operations) - 1

    def add_precedence(self, job: int, before: int, after: int) -> None:
        """Make the job a DAG (if it was a chain) and add ``before -> after``."""
        draft = self._jobs[job]
        if draft.precedences is None:
            draft.precedences = []
        draft.precedences.append((before, after))

    def set_transport(self, from_site: int, to_site: int, time: int, cost: int = 0) -> None:
        self._transport[(from_site, to_site)] = (time, cost)

    def add_fixed(self, job: int, operation: int, resource: int, start: int, end: int) -> None:
        self._fixed.append(FixedBooking(job, operation, resource, start, end))

    def set_objective(self, objective: Objective | str) -> None:
        self._objective = Objective.parse(objective) if isinstance(objective, str) else objective

    def data(self) -> ProblemData:
        sites = self._sites or [Site()]
        n = len(sites)
        time = [[0] * n for _ in range(n)]
        cost = [[0] * n for _ in range(n)]
        for (a, b), (t, c) in self._transport.items():
            time[a][b], cost[a][b] = t, c
        jobs = tuple(
            Job(
                tuple(d.operations),
                None if d.precedences is None else tuple(d.precedences),
                d.release,
                d.due,
                d.weight,
                d.name,
            )
            for d in self._jobs
        )
        return ProblemData(
            jobs=jobs,
            resources=tuple(self._resources),
            sites=tuple(sites),
            transport_time=tuple(map(tuple, time)),
            transport_cost=tuple(map(tuple, cost)),
            fixed=tuple(self._fixed),
            objective=self._objective,
        )
