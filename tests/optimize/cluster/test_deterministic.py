"""The planner's deterministic mode, warm start and cancel."""

from __future__ import annotations

import itertools

import pytest

from sharefab.optimize.cluster.dispatch import dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import InlinePool, plan_cluster
from sharefab.optimize.cluster.params import ClusterParams, WorkLimit
from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource
from sharefab.optimize.validate import validate

# a small budget: a dozen neighbourhoods, a few rounds and re-sequencings
WORK = WorkLimit(
    neighbourhoods=12,
    batch=2,
    sub_deterministic_time=0.2,
    dispatch_rounds=4,
    resequence_steps=6,
    validate_every=2,
)


def test_same_inputs_give_the_same_plan(small_index: ClusterIndex) -> None:
    """Twice the same instance, seed and work limit: the identical schedule, valid, and the
    LNS ran (the comparison is not between two untouched start plans)."""
    first = plan_cluster(small_index, InlinePool(), seed=3, work_limit=WORK)
    second = plan_cluster(small_index, InlinePool(), seed=3, work_limit=WORK)
    assert first.deterministic
    assert not first.stopped
    assert first.schedule == second.schedule
    assert first.values == second.values
    assert (first.iterations, first.improvements) == (second.iterations, second.improvements)
    assert first.iterations == WORK.neighbourhoods
    assert first.valid
    assert validate(small_index.data, first.schedule) == []
    assert first.values <= first.start_values
    assert first.values == Plan.from_schedule(small_index, first.schedule).values()


def test_the_work_limit_not_the_clock_ends_the_run(small_index: ClusterIndex) -> None:
    """A time limit far too short for the work is ignored in deterministic mode."""
    result = plan_cluster(small_index, InlinePool(), time_limit=0.001, seed=3, work_limit=WORK)
    assert result.iterations == WORK.neighbourhoods
    assert result.kinds["queue"].tries == WORK.resequence_steps


def test_answers_are_applied_in_submission_order(small_index: ClusterIndex) -> None:
    """A pool that hands a batch's answers back in reverse order gives the same plan."""

    class Reversed(InlinePool):
        def wait(self, timeout: float) -> list[tuple[int, object]]:
            out = []
            while self._queue:
                ticket, fn, arg = self._queue.pop(0)
                out.append((ticket, fn(arg)))
            return out[::-1]

    inline = plan_cluster(small_index, InlinePool(), seed=4, work_limit=WORK)
    shuffled = plan_cluster(small_index, Reversed(), seed=4, work_limit=WORK)
    assert shuffled.schedule == inline.schedule


def test_should_stop_ends_early_with_a_valid_plan(small_index: ClusterIndex) -> None:
    """Cancelled after a few polls: the run stops well before its budget, valid and no worse
    than its start."""
    polls = [0]

    def stop() -> bool:
        polls[0] += 1
        return polls[0] > 3

    result = plan_cluster(small_index, InlinePool(), seed=3, work_limit=WORK, should_stop=stop)
    assert result.stopped
    assert result.iterations < WORK.neighbourhoods
    assert result.valid
    assert validate(small_index.data, result.schedule) == []
    assert result.values <= result.start_values


def test_should_stop_ends_a_wall_clock_run(small_index: ClusterIndex) -> None:
    """The same in the wall-clock mode: a 60-second run stops at once."""
    result = plan_cluster(small_index, InlinePool(), time_limit=60.0, should_stop=lambda: True)
    assert result.stopped
    assert result.runtime_s < 30.0
    assert validate(small_index.data, result.schedule) == []


def test_a_warm_start_is_never_worsened(small_index: ClusterIndex) -> None:
    """Started from an FCFS plan instead of the dispatch start: the result starts there and
    is no worse, in both modes."""
    initial = dispatch(small_index, "fcfs")
    values = initial.values()
    deterministic = plan_cluster(
        small_index, InlinePool(), seed=2, initial=initial.schedule(), work_limit=WORK
    )
    clock = plan_cluster(small_index, InlinePool(), 1.5, seed=2, initial=initial.schedule())
    for result in (deterministic, clock):
        assert result.start_rule == "initial"
        assert result.start_values == values
        assert result.values <= values
        assert validate(small_index.data, result.schedule) == []


def test_an_invalid_warm_start_is_ignored(small_index: ClusterIndex) -> None:
    """A warm start with two operations on top of each other, or one missing, is refused by
    the validator; the dispatch start plan is used instead."""
    schedule = dispatch(small_index, "fcfs").schedule()
    a, b = schedule[0], schedule[1]
    clash = [b._replace(resource=a.resource, start=a.start, end=a.end), *schedule[2:]]
    for bad in (clash, schedule[:-1]):
        result = plan_cluster(small_index, InlinePool(), seed=2, initial=bad, work_limit=WORK)
        assert result.start_rule != "initial"
        assert validate(small_index.data, result.schedule) == []


def test_on_improve_and_on_progress_report(small_index: ClusterIndex) -> None:
    """``on_improve`` sees the validated incumbents, each better than the last; ``on_progress``
    climbs to 1."""
    seen: list[tuple[int, int]] = []
    shares: list[float] = []
    result = plan_cluster(
        small_index,
        InlinePool(),
        seed=3,
        work_limit=WORK,
        on_improve=lambda _s, values: seen.append(values),
        on_progress=shares.append,
    )
    assert seen[0] == result.start_values
    assert seen[-1] == result.values
    assert all(b < a for a, b in itertools.pairwise(seen))
    assert shares == sorted(shares)
    assert shares[-1] == 1.0


def test_no_neighbourhoods_means_the_start_plan() -> None:
    """A work limit of nothing: the dispatch start plan, validated."""
    data = ProblemData(
        jobs=(Job((Operation((Mode(0, 10),)),), due=5), Job((Operation((Mode(0, 5),)),), due=5)),
        resources=(Resource(windows=((0, 100),)),),
    )
    nothing = WorkLimit(neighbourhoods=0, dispatch_rounds=0, resequence_steps=0)
    result = plan_cluster(data, work_limit=nothing, params=ClusterParams(rules=("fcfs",)))
    assert result.iterations == 0
    assert result.values == result.start_values
    assert validate(data, result.schedule) == []


def test_work_limit_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="batch"):
        WorkLimit(batch=0)
    with pytest.raises(ValueError, match="negative"):
        WorkLimit(neighbourhoods=-1)
    with pytest.raises(ValueError, match="positive"):
        WorkLimit(sub_deterministic_time=0)
