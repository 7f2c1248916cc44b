"""The validator names each violation kind."""

from sharefab.optimize.builder import Model
from sharefab.optimize.data import ObjectiveTerm, ProblemData
from sharefab.optimize.result import Assignment as A  # noqa: N817
from sharefab.optimize.validate import term_values, validate


def _data() -> ProblemData:
    m = Model()
    s0, s1 = m.add_site(), m.add_site()
    r0 = m.add_resource(site=s0, cost_per_time=2, windows=[(0, 10), (12, 40)])
    r1 = m.add_resource(site=s1, cost_per_time=1)
    m.set_transport(s0, s1, 3, 5)
    j0 = m.add_job(release=1, due=6, weight=2)
    m.add_operation(j0, {r0: 4, r1: 5})
    m.add_operation(j0, {r1: 2})
    j1 = m.add_job()
    m.add_operation(j1, {r0: 3})
    m.add_fixed(j1, 0, r0, 5, 8)
    return m.data()


GOOD = [A(0, 0, 0, 1, 5), A(0, 1, 1, 8, 10), A(1, 0, 0, 5, 8)]


def _kinds(schedule: list[A]) -> set[str]:
    return {v.kind for v in validate(_data(), schedule)}


def test_valid_schedule_has_no_violations() -> None:
    """A hand-checked schedule passes (transport 3 from site 0 to 1: 5 + 3 = 8)."""
    assert validate(_data(), GOOD) == []


def test_each_violation_kind() -> None:
    """Each broken rule is reported under its own kind."""
    assert _kinds([GOOD[0], A(0, 1, 1, 6, 8), GOOD[2]]) == {"precedence"}
    assert _kinds([A(0, 0, 0, 0, 4), GOOD[1], GOOD[2]]) == {"release"}
    assert _kinds([A(0, 0, 1, 1, 5), GOOD[1], GOOD[2]]) == {"duration"}
    assert _kinds([GOOD[0], A(0, 1, 0, 10, 12), GOOD[2]]) == {"eligibility"}
    assert _kinds([A(0, 0, 0, 8, 12), A(0, 1, 1, 15, 17), A(1, 0, 0, 1, 4)]) == {"window", "fixed"}
    assert _kinds([A(0, 0, 0, 4, 8), A(0, 1, 1, 11, 13), GOOD[2]]) == {"overlap"}
    assert _kinds(GOOD[:2]) == {"missing"}
    assert _kinds([*GOOD, GOOD[0]]) == {"duplicate"}


def test_messages_name_job_and_operation() -> None:
    """Messages say which operation of which job is wrong."""
    (v,) = validate(_data(), [A(0, 0, 0, 0, 4), GOOD[1], GOOD[2]])
    assert "operation 0 of job 0" in v.message


def test_interruptible_counts_only_window_time() -> None:
    """An interruptible 6-unit operation in windows [0,4) and [6,20) from 2 ends at 10:
    2 units in [2,4), gap [4,6), 4 units in [6,10)."""
    m = Model()
    r = m.add_resource(windows=[(0, 4), (6, 20)])
    j = m.add_job()
    m.add_operation(j, {r: 6}, interruptible=True)
    data = m.data()
    assert validate(data, [A(0, 0, 0, 2, 10)]) == []
    assert {v.kind for v in validate(data, [A(0, 0, 0, 2, 8)])} == {"duration"}


def test_term_values() -> None:
    """Makespan 10; tardiness 2 x (10 - 6) = 8; cost 4x2 + 2x1 + 3x2 + transport 5 = 21."""
    values = term_values(_data(), GOOD)
    assert values[ObjectiveTerm.MAKESPAN] == 10
    assert values[ObjectiveTerm.WEIGHTED_TARDINESS] == 8
    assert values[ObjectiveTerm.COST] == 21
