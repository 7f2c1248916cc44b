"""What an operator reads off a plan: utilisation counts only the time inside windows."""

from __future__ import annotations

from sharefab.optimize.cluster.dispatch import dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.metrics import plan_metrics
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource


def test_utilisation_counts_window_time_of_an_operation_over_the_night() -> None:
    """A 600-minute operation over the night between two 8-hour shifts books 600 of the 960
    offered minutes, not its 1560 minutes from start to end; cut at a horizon, it books only the
    window time before it."""
    data = ProblemData(
        jobs=(Job((Operation((Mode(0, 600),), interruptible=True),)),),
        resources=(Resource(cost_per_time=3, windows=((0, 480), (1440, 1920))),),
    )
    plan = dispatch(ClusterIndex.from_problem(data), "fcfs")
    assert (plan.start[0], plan.end[0]) == (0, 1560)
    metrics = plan_metrics(plan)
    assert metrics.utilisation == 600 / 960
    assert metrics.total_cost == 600 * 3
    assert metrics.makespan == 1560
    # before 1500: 480 + 60 minutes offered, all of them booked
    assert plan_metrics(plan, horizon=1500).utilisation == 1.0
