"""Input no plan can exist for, found before solving; every message names order and operation."""

from __future__ import annotations

from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.data import ProblemDataError


class PlanningInputError(ProblemDataError):
    """The instance cannot be planned; the message names the order and the operation."""


def unplannable(index: ClusterIndex) -> list[str]:
    """Operations longer than every window of every resource that can perform them (an
    interruptible one: longer than all of a resource's windows together).

    (An operation no resource can perform and a precedence cycle are already refused by
    ``ProblemData`` itself, naming the job and operation.)
    """
    problems = []
    for i in range(index.num_operations):
        pausable = index.interruptible[i]
        fits = False
        for r, d in zip(index.mode_res[i], index.mode_dur[i], strict=True):
            windows = index.windows[r]
            if (
                not windows
                or (pausable and sum(e - s for s, e in windows) >= d)
                or (not pausable and any(e - s >= d for s, e in windows))
            ):
                fits = True
                break
        if not fits:
            shortest = min(index.mode_dur[i])
            where = (
                "more than all the capacity windows together"
                if pausable
                else "longer than every capacity window"
            )
            problems.append(
                f"{index.op_label(i)} takes at least {shortest} time units, {where} "
                f"of the {len(index.mode_res[i])} resource(s) that can perform it"
            )
    return problems


def check_plannable(index: ClusterIndex) -> None:
    """Raise ``PlanningInputError`` naming the first unplannable operation."""
    problems = unplannable(index)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PlanningInputError(problems[0] + more)
