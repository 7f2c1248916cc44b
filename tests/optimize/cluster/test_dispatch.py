"""The dispatch heuristic: complete, valid plans in the rule's order."""

from __future__ import annotations

import time

import pytest

from sharefab.optimize.cluster.dispatch import (
    RULES,
    dispatch,
    iterated_dispatch,
    iterated_op_dispatch,
    job_order,
    op_dispatch,
)
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource
from sharefab.optimize.validate import validate


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_gives_a_valid_plan(small_index: ClusterIndex, rule: str) -> None:
    """Each dispatch rule plans every operation inside windows, in precedence, with transport."""
    plan = dispatch(small_index, rule)
    assert validate(small_index.data, plan.schedule()) == []


def test_fcfs_serves_orders_in_release_order(small_index: ClusterIndex) -> None:
    """The baseline takes orders first come, first served."""
    order = job_order(small_index, "fcfs")
    releases = [small_index.data.jobs[j].release for j in order]
    assert releases == sorted(releases)


def test_dispatch_picks_the_earliest_finishing_resource() -> None:
    """An operation goes to the resource where it finishes first, not the first one listed."""
    # resource 0 is slow (10), resource 1 fast (4) but only open from 3: finishes at 7 < 10
    data = ProblemData(
        jobs=(Job((Operation((Mode(0, 10), Mode(1, 4))),)),),
        resources=(Resource(windows=((0, 100),)), Resource(windows=((3, 100),))),
    )
    plan = dispatch(ClusterIndex.from_problem(data), "fcfs")
    assert (plan.res[0], plan.start[0], plan.end[0]) == (1, 3, 7)


def test_dispatch_fills_an_earlier_gap_that_fits() -> None:
    """A later order uses a gap left before an earlier order's booking when it fits."""
    # job 0 (released 5) books [5, 15); job 1 (released 0, but dispatched second by EDD) fits [0, 5)
    data = ProblemData(
        jobs=(
            Job((Operation((Mode(0, 10),)),), release=5, due=15),
            Job((Operation((Mode(0, 5),)),), release=0, due=50),
        ),
        resources=(Resource(windows=((0, 100),)),),
    )
    plan = dispatch(ClusterIndex.from_problem(data), "edd")
    assert (plan.start[0], plan.start[1]) == (5, 0)


def test_iterated_dispatch_is_valid_and_no_worse_than_edd(small_index: ClusterIndex) -> None:
    """Moving late orders up the sequence keeps the plan valid and never loses to plain EDD."""
    edd = dispatch(small_index, "edd")
    better = iterated_dispatch(small_index, time.perf_counter() + 1.0, max_rounds=8)
    assert validate(small_index.data, better.schedule()) == []
    assert better.values() <= edd.values()


SHIFTS = ((0, 480), (1440, 1920))  # two 8-hour shifts, a day apart


def _one_op(windows: tuple[tuple[int, int], ...], interruptible: bool) -> ProblemData:
    """One 600-minute operation on one resource costing 2 per minute."""
    return ProblemData(
        jobs=(Job((Operation((Mode(0, 600),), interruptible),), due=2000),),
        resources=(Resource(cost_per_time=2, windows=windows),),
    )


def test_interruptible_operation_runs_over_the_night() -> None:
    """A 10-hour interruptible operation starts with the first shift, pauses overnight and ends
    two hours into the next; cost counts its 600 minutes of work, not the night."""
    data = _one_op(SHIFTS, interruptible=True)
    plan = dispatch(ClusterIndex.from_problem(data), "fcfs")
    assert (plan.res[0], plan.start[0], plan.end[0]) == (0, 0, 1440 + 120)
    assert validate(data, plan.schedule()) == []
    assert plan.work(0) == 600
    assert plan.spans_gap(0)
    assert plan.values() == (0, 600 * 2)


def test_non_interruptible_operation_waits_for_a_long_enough_window() -> None:
    """The same operation that may not pause goes to a later window it fits in whole; allowed to
    pause, it would finish far earlier over the night."""
    windows = (*SHIFTS, (2880, 3600))
    data = _one_op(windows, interruptible=False)
    plan = dispatch(ClusterIndex.from_problem(data), "fcfs")
    assert (plan.start[0], plan.end[0]) == (2880, 3480)
    assert validate(data, plan.schedule()) == []
    assert not plan.spans_gap(0)
    assert plan.values() == (1480, 1200)
    pausing = dispatch(ClusterIndex.from_problem(_one_op(windows, interruptible=True)), "fcfs")
    assert (pausing.start[0], pausing.end[0]) == (0, 1560)


def test_iterated_op_dispatch_is_valid_and_no_worse_than_one_pass(
    small_index: ClusterIndex,
) -> None:
    """Moving late orders' operations up their queues keeps the plan valid and never loses to
    the single ``op_slack`` pass it starts from."""
    one = op_dispatch(small_index, 1.0)
    better = iterated_op_dispatch(small_index, time.perf_counter() + 2.0, 1.0, max_rounds=8)
    assert validate(small_index.data, better.schedule()) == []
    assert better.values() <= one.values()


def test_advancing_an_order_moves_it_ahead_in_the_queue() -> None:
    """An order advanced by more than the gap between two ready times takes the machine first."""
    data = ProblemData(
        jobs=(
            Job((Operation((Mode(0, 10),)),), release=0, due=100),
            Job((Operation((Mode(0, 10),)),), release=1, due=100),
        ),
        resources=(Resource(windows=((0, 100),)),),
    )
    index = ClusterIndex.from_problem(data)
    assert op_dispatch(index, 0.0).start == [0, 10]
    assert op_dispatch(index, 0.0, advance=[0.0, 5.0]).start == [11, 1]
