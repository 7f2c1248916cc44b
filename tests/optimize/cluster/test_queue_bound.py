"""The capacity-aware (queue) bound never exceeds what a real plan achieves."""

from __future__ import annotations

import pytest

from sharefab.gen import SIZES, generate_cluster
from sharefab.gen.instance import cluster_to_problem
from sharefab.optimize.cluster.bounds import earliest_completions, tardiness_bound
from sharefab.optimize.cluster.dispatch import RULES, dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import InlinePool, plan_cluster
from sharefab.optimize.cluster.queue_bound import queue_bound
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource


@pytest.fixture(scope="module")
def size_s() -> ClusterIndex:
    return ClusterIndex.from_problem(cluster_to_problem(generate_cluster(SIZES["S"], 1)))


def test_queue_bound_is_below_every_plan(small_index: ClusterIndex, size_s: ClusterIndex) -> None:
    """On two generated clusters the bound is at least the relaxed one and at most the weighted
    tardiness of every dispatch plan and of an LNS plan."""
    for index in (small_index, size_s):
        bound = queue_bound(index)
        assert bound.relaxed == tardiness_bound(index, earliest_completions(index))
        assert bound.total >= bound.relaxed
        for rule in RULES:
            assert bound.total <= dispatch(index, rule).values()[0]
        result = plan_cluster(index, InlinePool(), time_limit=3.0, seed=2)
        assert bound.total <= result.values[0]


def test_queue_bound_counts_one_operation_per_window() -> None:
    """Three 6-hour operations on one machine with one 8-hour shift a day: they finish at the
    end of days 1, 2 and 3 at the earliest, so two of them are late whatever the plan."""
    day = 1440
    windows = tuple((d * day, d * day + 480) for d in range(10))
    jobs = tuple(
        Job((Operation((Mode(0, 360),)),), release=0, due=480, weight=1, name=f"J{k}")
        for k in range(3)
    )
    index = ClusterIndex.from_problem(
        ProblemData(jobs=jobs, resources=(Resource(windows=windows),))
    )
    bound = queue_bound(index)
    assert bound.relaxed == 0
    # best plan: J0 ends 360 (on time), J1 ends 1440+360 (1320 late), J2 ends 2880+360 (2760)
    assert bound.total == 1320 + 2760
    assert dispatch(index, "fcfs").values()[0] == bound.total


def test_queue_bound_lets_interruptible_operations_share_windows() -> None:
    """The same three 6-hour operations allowed to pause at the shift end: they share windows,
    so the bound drops below the one-per-window 1320 + 2760 yet stays at most the real plan."""
    day = 1440
    windows = tuple((d * day, d * day + 480) for d in range(10))
    jobs = tuple(
        Job((Operation((Mode(0, 360),), True),), release=0, due=480, weight=1, name=f"J{k}")
        for k in range(3)
    )
    index = ClusterIndex.from_problem(
        ProblemData(jobs=jobs, resources=(Resource(windows=windows),))
    )
    # fcfs: J0 [0, 360) on time; J1 works 120 min on day 0 and 240 on day 1, ends 1440+240 =
    # 1680 (1200 late); J2 works the other 240 of day 1 and 120 of day 2, ends 2880+120 = 3000
    # (2520 late): 3720
    plan = dispatch(index, "fcfs")
    assert list(zip(plan.start, plan.end, strict=True)) == [(0, 360), (360, 1680), (1680, 3000)]
    assert plan.values()[0] == 1200 + 2520
    bound = queue_bound(index)
    assert bound.relaxed == 0
    assert 0 < bound.total <= plan.values()[0]
    assert bound.total < 1320 + 2760
