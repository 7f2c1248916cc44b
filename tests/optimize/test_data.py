"""ProblemData validation names the offending item."""

import pytest

from sharefab.optimize.builder import Model
from sharefab.optimize.data import (
    Job,
    Mode,
    Objective,
    ObjectiveTerm,
    Operation,
    ProblemData,
    ProblemDataError,
    Resource,
)


def test_operation_without_eligible_resource_is_rejected() -> None:
    """An operation with no modes names its job and position."""
    jobs = (Job((Operation((Mode(0, 1),)),)), Job((Operation((Mode(0, 1),)), Operation(()))))
    with pytest.raises(ProblemDataError, match="operation 1 of job 1 has no eligible resource"):
        ProblemData(jobs=jobs, resources=(Resource(),))


def test_precedence_cycle_is_rejected() -> None:
    """A cycle in a job's precedence DAG is reported with the operations on it."""
    m = Model()
    r = m.add_resource()
    j = m.add_job()
    for _ in range(3):
        m.add_operation(j, {r: 1})
    m.add_precedence(j, 0, 1)
    m.add_precedence(j, 1, 2)
    m.add_precedence(j, 2, 0)
    with pytest.raises(ProblemDataError, match="job 0 has a precedence cycle"):
        m.data()


def test_window_ending_before_start_is_rejected() -> None:
    """Windows must end after they start."""
    with pytest.raises(ProblemDataError, match="ends before it starts"):
        Resource(windows=((5, 3),))


def test_negative_duration_and_unknown_resource_are_rejected() -> None:
    """Negative durations and unknown resources name the operation."""
    with pytest.raises(ProblemDataError, match="operation 0 of job 0 has negative duration"):
        ProblemData(jobs=(Job((Operation((Mode(0, -1),)),)),), resources=(Resource(),))
    with pytest.raises(ProblemDataError, match="operation 0 of job 0 names unknown resource 3"):
        ProblemData(jobs=(Job((Operation((Mode(3, 1),)),)),), resources=(Resource(),))


def test_fixed_booking_must_match_duration() -> None:
    """A fixed booking whose length differs from the mode's duration is rejected."""
    m = Model()
    r = m.add_resource()
    j = m.add_job()
    m.add_operation(j, {r: 4})
    m.add_fixed(j, 0, r, 0, 3)
    with pytest.raises(ProblemDataError, match="lasts 3, but the operation takes 4"):
        m.data()


def test_objective_parse() -> None:
    """Objective strings parse into weighted or lexicographic objectives."""
    assert Objective.parse("makespan").is_makespan
    lex = Objective.parse("lex:tardiness,cost")
    assert lex.terms == (ObjectiveTerm.WEIGHTED_TARDINESS, ObjectiveTerm.COST)
    mix = Objective.parse("mix:makespan=2,cost=1")
    assert dict(mix.weights) == {ObjectiveTerm.MAKESPAN: 2, ObjectiveTerm.COST: 1}
    with pytest.raises(ProblemDataError, match="unknown objective"):
        Objective.parse("speed")


def test_flat_views() -> None:
    """Global operation indices follow job order."""
    m = Model()
    r = m.add_resource()
    for n in (2, 3):
        j = m.add_job()
        for _ in range(n):
            m.add_operation(j, {r: 1})
    data = m.data()
    assert data.num_operations == 5
    assert data.op_index(1, 2) == 4
    assert data.arcs == ((0, 1), (2, 3), (3, 4))
