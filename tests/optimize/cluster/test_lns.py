"""LNS over CP-SAT sub-problems: never worse, always valid, robust to lost tasks."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from sharefab.optimize.cluster import lns
from sharefab.optimize.cluster.dispatch import dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import InlinePool, plan_cluster
from sharefab.optimize.cluster.params import ClusterParams
from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.cluster.submodel import solve_subproblem
from sharefab.optimize.cluster.subproblem import extract
from sharefab.optimize.data import Job, Mode, Objective, Operation, ProblemData, Resource
from sharefab.optimize.validate import objective_values, validate


def test_lns_is_never_worse_and_always_valid(small_index: ClusterIndex) -> None:
    """The plan LNS returns is valid and no worse than its dispatch start, for several seeds."""
    for seed in range(3):
        result = plan_cluster(small_index, InlinePool(), time_limit=2.0, seed=seed)
        assert result.valid
        assert validate(small_index.data, result.schedule) == []
        assert result.values <= result.start_values
        assert result.values == Plan.from_schedule(small_index, result.schedule).values()


def test_lns_finds_the_weighted_optimum_of_two_orders() -> None:
    """Two orders on one machine: LNS puts the heavy, urgent one first."""
    # FCFS: A [0,10) then B [10,15): B is 10 late x weight 3 = 30.
    # Optimum: B [0,5) then A [5,15): A is 5 late x weight 1 = 5.
    data = ProblemData(
        jobs=(
            Job((Operation((Mode(0, 10),)),), release=0, due=10, weight=1, name="A"),
            Job((Operation((Mode(0, 5),)),), release=0, due=5, weight=3, name="B"),
        ),
        resources=(Resource(windows=((0, 100),)),),
        objective=Objective.parse("tardiness"),
    )
    params = ClusterParams(rules=("fcfs",), start_share=0.0, min_size=2)
    result = plan_cluster(data, InlinePool(), time_limit=1.5, params=params)
    assert result.start_values[0] == 30
    assert result.values[0] == 5
    assert objective_values(data, result.schedule) == (5,)


class FailingPool(InlinePool):
    """Every task is lost, as if its worker died."""

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        def lost(_: Any) -> Any:
            raise ConnectionError("worker lost")

        return super().submit(lost, arg)


def test_lost_tasks_keep_the_incumbent(small_index: ClusterIndex) -> None:
    """When every neighbourhood's worker is lost, the start plan comes back, valid (the
    in-process queue re-sequencing is off so that only the workers could change it)."""
    params = ClusterParams(resequence_size=0)
    result = plan_cluster(small_index, FailingPool(), time_limit=1.0, params=params)
    assert result.valid
    assert result.values == result.start_values
    assert result.dropped > 0
    assert result.improvements == 0


def test_subproblem_solution_is_never_worse(small_index: ClusterIndex) -> None:
    """Applying a solved neighbourhood keeps the plan valid and its objective no worse."""
    rng = random.Random(1)
    plan = dispatch(small_index, "fcfs")
    before = plan.values()
    free = [i for i in range(small_index.num_operations) if small_index.op_job[i] < 6]
    sub = extract(plan, free, rng)
    solution = solve_subproblem(sub, time_limit=5.0)
    assert solution.status in ("optimal", "feasible")
    plan.move(solution.changes)
    assert validate(small_index.data, plan.schedule()) == []
    assert plan.values()[0] <= before[0]


class IdlePool:
    """No workers: only the planning process's queue re-sequencing can run."""

    slots = 0

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        raise AssertionError("no slot was offered")

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        return []


def test_fruitless_resequencing_rests(
    small_index: ClusterIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-sequencing that never improves pauses after `resequence_patience` tries in a row
    (leaving the CPU to CP-SAT); without patience it keeps running for the whole limit."""
    monkeypatch.setattr(lns, "resequence", lambda *args, **kwargs: [])
    resting = ClusterParams(resequence_patience=5, resequence_pause=60.0)
    result = plan_cluster(small_index, IdlePool(), time_limit=1.0, params=resting)
    assert result.kinds["queue"].tries == 5
    assert result.valid
    eager = ClusterParams(resequence_patience=0)
    result = plan_cluster(small_index, IdlePool(), time_limit=1.0, params=eager)
    assert result.kinds["queue"].tries > 20


def test_neighbourhood_re_plans_an_operation_over_a_gap(small_index: ClusterIndex) -> None:
    """An operation booked over an off-shift gap is freed with the rest of its neighbourhood and
    may pause in the sub-problem; the solved plan stays valid and no worse."""
    plan = dispatch(small_index, "fcfs")
    spanning = [i for i in range(small_index.num_operations) if plan.spans_gap(i)]
    assert spanning, "the generated cluster should have an operation running over a night"
    i = spanning[0]
    free = [k for j in range(small_index.op_job[i] + 1) for k in small_index.job_ops[j]]
    sub = extract(plan, free, random.Random(1))
    assert {o.op for o in sub.ops} == set(free)
    assert next(o for o in sub.ops if o.op == i).interruptible
    before = plan.values()
    solution = solve_subproblem(sub, time_limit=5.0)
    assert solution.status in ("optimal", "feasible")
    plan.move(solution.changes)
    assert validate(small_index.data, plan.schedule()) == []
    assert plan.values()[0] <= before[0]


def test_subproblem_moves_an_operation_over_the_night_to_finish_earlier() -> None:
    """A 10-hour interruptible operation booked from the second shift is moved to start with the
    first shift and run over the night, which makes its order on time."""
    shifts = ((0, 480), (1440, 1920), (2880, 3360))
    data = ProblemData(
        jobs=(Job((Operation((Mode(0, 600),), interruptible=True),), due=1560),),
        resources=(Resource(windows=shifts),),
    )
    index = ClusterIndex.from_problem(data)
    plan = Plan(index, [0], [1440], [2880 + 120])  # 480 min on day 1, 120 on day 2: 1440 late
    assert validate(data, plan.schedule()) == []
    solution = solve_subproblem(extract(plan, [0], random.Random(1)), time_limit=5.0)
    assert solution.status == "optimal"
    assert list(solution.changes) == [(0, 0, 0, 1440 + 120)]
    plan.move(solution.changes)
    assert validate(data, plan.schedule()) == []
    assert plan.values()[0] == 0
