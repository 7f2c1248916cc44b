"""Input no plan can exist for is refused before solving, naming order and operation."""

from __future__ import annotations

import pytest

from sharefab.optimize.cluster.checks import PlanningInputError, check_plannable
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import plan_cluster
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource


def test_operation_longer_than_every_window_is_refused() -> None:
    """An operation that fits no window of any capable resource is named with its order."""
    data = ProblemData(
        jobs=(
            Job(
                (Operation((Mode(0, 5),), name="cut"), Operation((Mode(0, 50),), name="weld")),
                name="PO-7",
            ),
        ),
        resources=(Resource(windows=((0, 20), (30, 60))),),
    )
    with pytest.raises(PlanningInputError, match=r"operation 1 'weld' of job 0 \(PO-7\)"):
        plan_cluster(data, time_limit=1)


def test_interruptible_operation_longer_than_all_windows_together_is_refused() -> None:
    """An interruptible operation may use several windows, but not more than there are."""
    windows = ((0, 20), (30, 60))  # 50 time units in all

    def data(duration: int) -> ProblemData:
        weld = Operation((Mode(0, duration),), interruptible=True, name="weld")
        return ProblemData(
            jobs=(Job((weld,), name="PO-8"),), resources=(Resource(windows=windows),)
        )

    assert plan_cluster(data(45), time_limit=1).valid  # over the gap at [20, 30)
    with pytest.raises(PlanningInputError, match=r"'weld' of job 0 \(PO-8\).*all the capacity"):
        plan_cluster(data(51), time_limit=1)


def test_plannable_instance_passes(small_index: ClusterIndex) -> None:
    """A generated cluster passes the check."""
    check_plannable(small_index)
