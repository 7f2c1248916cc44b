"""Window-aware lower bounds never exceed what a real plan achieves."""

from __future__ import annotations

from sharefab.optimize.cluster.bounds import (
    earliest_completions,
    makespan_bound,
    tardiness_bound,
)
from sharefab.optimize.cluster.dispatch import RULES, dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource


def test_bounds_are_below_every_dispatch_plan(small_index: ClusterIndex) -> None:
    """The tardiness and makespan bounds are at most those of any valid plan."""
    completions = earliest_completions(small_index)
    assert all(c is not None for c in completions)
    for rule in RULES:
        plan = dispatch(small_index, rule)
        wt, _ = plan.values()
        assert tardiness_bound(small_index, completions) <= wt
        assert makespan_bound(small_index, completions) <= max(plan.end)


def test_bound_waits_for_a_window() -> None:
    """An order that must wait for a window is bounded by the window, not its release."""
    # the only window opens at 100: completion >= 100 + 10 = 110, due 50, weight 2 -> 120
    data = ProblemData(
        jobs=(Job((Operation((Mode(0, 10),)),), due=50, weight=2),),
        resources=(Resource(windows=((100, 200),)),),
    )
    index = ClusterIndex.from_problem(data)
    completions = earliest_completions(index)
    assert completions == [110]
    assert tardiness_bound(index, completions) == 120


def test_bound_lets_an_interruptible_operation_pause_overnight() -> None:
    """A 10-hour interruptible operation on 8-hour shifts a day apart cannot finish before two
    hours into the second shift; the bound says exactly that."""
    # 480 min on day 0, 120 more from 1440: completion 1560, due 480, weight 1 -> 1080
    data = ProblemData(
        jobs=(Job((Operation((Mode(0, 600),), interruptible=True),), due=480),),
        resources=(Resource(windows=((0, 480), (1440, 1920))),),
    )
    index = ClusterIndex.from_problem(data)
    completions = earliest_completions(index)
    assert completions == [1440 + 120]
    assert tardiness_bound(index, completions) == 1080
