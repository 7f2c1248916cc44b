"""The result of a solve: status, objective, lower bound, runtime and the schedule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Assignment(NamedTuple):
    """Operation ``operation`` of ``job`` runs on ``resource`` during ``[start, end)``."""

    job: int
    operation: int
    resource: int
    start: int
    end: int


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Result:
    """What ``solve`` returns. ``objective`` is None when no schedule was found.

    For a lexicographic objective ``objective`` is the first term and ``objectives`` holds all
    terms in order; for a weighted objective ``objectives`` holds the terms in ``terms`` order.
    """

    status: Status
    objective: int | None
    lower_bound: int
    runtime_s: float
    schedule: tuple[Assignment, ...] = ()
    objectives: tuple[int, ...] = ()
    reason: str = ""
    history: tuple[tuple[float, int, str], ...] = ()
    """(seconds, objective, source) of each improvement of the incumbent."""

    @property
    def feasible(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)
