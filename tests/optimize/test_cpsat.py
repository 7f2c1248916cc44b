"""Each CP-SAT constraint family on a tiny instance solved to a known optimum."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sharefab.optimize.builder import Model
from sharefab.optimize.cpsat import identical_resource_pairs
from sharefab.optimize.params import CpSatParams
from sharefab.optimize.result import Status

from .conftest import solve_model

SolveCp = Callable[..., tuple[Status, int, list]]


def test_no_overlap() -> None:
    """Three operations of 2, 3, 4 on one machine: makespan 2 + 3 + 4 = 9."""
    m = Model()
    r = m.add_resource()
    for d in (2, 3, 4):
        m.add_operation(m.add_job(), {r: d})
    status, value, _ = solve_model(m.data())
    assert (status, value) == (Status.OPTIMAL, 9)


def test_flexible_assignment() -> None:
    """Jobs of 4 and 4 (fast machine) or 6 (slow): one each, makespan max(4, 6) = 6 beats 8."""
    m = Model()
    fast, slow = m.add_resource(), m.add_resource()
    for _ in range(2):
        m.add_operation(m.add_job(), {fast: 4, slow: 6})
    status, value, _ = solve_model(m.data())
    assert (status, value) == (Status.OPTIMAL, 6)


def test_precedence_chain() -> None:
    """Chain 3 -> 2 on different machines plus a 4 on the second machine: the 4 runs during the
    3, so makespan = 4 + 2 = 6 (the chain's 2 waits for the machine until 4)."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    j = m.add_job()
    m.add_operation(j, {r0: 3})
    m.add_operation(j, {r1: 2})
    m.add_operation(m.add_job(), {r1: 4})
    assert solve_model(m.data())[1] == 6


def test_dag_precedence() -> None:
    """0 -> 2 and 1 -> 2 with 0 and 1 in parallel (3 and 5) then 2 (1): makespan 5 + 1 = 6."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    j = m.add_job()
    m.add_operation(j, {r0: 3})
    m.add_operation(j, {r1: 5})
    m.add_operation(j, {r0: 1})
    m.add_precedence(j, 0, 2)
    m.add_precedence(j, 1, 2)
    assert solve_model(m.data())[1] == 6


def test_transport_between_sites() -> None:
    """Op 0 (2) only at site A, op 1 (3) at A or at B (1). Transport A->B is 5:
    staying at A ends at 2 + 3 = 5; moving ends at 2 + 5 + 1 = 8. Optimum 5."""
    m = Model()
    a, b = m.add_site(), m.add_site()
    ra, rb = m.add_resource(site=a), m.add_resource(site=b)
    m.set_transport(a, b, 5)
    j = m.add_job()
    m.add_operation(j, {ra: 2})
    m.add_operation(j, {ra: 3, rb: 1})
    assert solve_model(m.data())[1] == 5
    # with free transport the fast remote machine wins: 2 + 0 + 1 = 3
    m.set_transport(a, b, 0)
    assert solve_model(m.data())[1] == 3


def test_windows_no_spanning() -> None:
    """Windows [0, 5) and [8, 20): a 4 then a 3 on the same machine. The 3 cannot fit in
    [4, 5), so it starts at 8: makespan 11 (putting the 3 first: 3, then 4 cannot fit in
    [3, 5) and ends at 12)."""
    m = Model()
    r = m.add_resource(windows=[(0, 5), (8, 20)])
    m.add_operation(m.add_job(), {r: 4})
    m.add_operation(m.add_job(), {r: 3})
    assert solve_model(m.data())[1] == 11


def test_release_dates() -> None:
    """Job released at 10 with duration 2 on a machine shared with a 5 released at 0:
    the 5 runs [0, 5), the 2 runs [10, 12): makespan 12."""
    m = Model()
    r = m.add_resource()
    m.add_operation(m.add_job(release=10), {r: 2})
    m.add_operation(m.add_job(), {r: 5})
    assert solve_model(m.data())[1] == 12


def test_fixed_booking_is_kept() -> None:
    """A booking fixed at [1, 4) splits the machine: the 2-unit job cannot fit before it
    ([0, 1) is too short) so it runs [4, 6): makespan 6."""
    m = Model()
    r = m.add_resource()
    j = m.add_job()
    m.add_operation(j, {r: 3})
    m.add_fixed(j, 0, r, 1, 4)
    m.add_operation(m.add_job(), {r: 2})
    _, value, sched = solve_model(m.data())
    assert value == 6
    assert (sched[0].start, sched[0].end) == (1, 4)


@pytest.mark.parametrize("due", [None, 4])
def test_tardiness_penalised_and_unpenalised(due: int | None) -> None:
    """Two jobs of 3 on one machine, second has weight 5 and due 3 (the first has due 3,
    weight 1). Penalised: run job 1 first -> tardiness 1 x (6 - 3) = 3. Without a due date on
    job 1 the only due job goes first: tardiness 0."""
    m = Model()
    r = m.add_resource()
    m.add_operation(m.add_job(due=3, weight=1), {r: 3})
    m.add_operation(m.add_job(due=None if due is None else 3, weight=5), {r: 3})
    m.set_objective("tardiness")
    assert solve_model(m.data())[1] == (0 if due is None else 3)


@pytest.mark.parametrize(("rate", "expected"), [(0, 4), (10, 6)])
def test_cost_penalised_and_unpenalised(rate: int, expected: int) -> None:
    """Op 0 (1, free) at site A, then op 1: 2 units on a dear machine at A (3/unit) or 4 on a
    cheap machine at B (1/unit); moving A->B costs ``rate``. Free transport: 4 x 1 = 4 beats
    2 x 3 = 6. Transport cost 10: 4 + 10 = 14 loses to 6."""
    m = Model()
    a, b = m.add_site(), m.add_site()
    dear = m.add_resource(site=a, cost_per_time=3)
    cheap = m.add_resource(site=b, cost_per_time=1)
    first = m.add_resource(site=a, cost_per_time=0)
    m.set_transport(a, b, 0, rate)
    j = m.add_job()
    m.add_operation(j, {first: 1})
    m.add_operation(j, {dear: 2, cheap: 4})
    m.set_objective("cost")
    assert solve_model(m.data())[1] == expected


def test_lexicographic_tardiness_then_cost() -> None:
    """Stage 1 minimises tardiness (0 either way, loose due date); stage 2 the cost, so the
    cheap slow machine wins: 5 x 1 = 5 (against 2 x 4 = 8)."""
    m = Model()
    fast = m.add_resource(cost_per_time=4)
    slow = m.add_resource(cost_per_time=1)
    m.add_operation(m.add_job(due=100), {fast: 2, slow: 5})
    m.set_objective("lex:tardiness,cost")
    from sharefab.optimize.solve import solve

    result = solve(m.data(), time_limit=5)
    assert result.status == Status.OPTIMAL
    assert result.objectives == (0, 5)


def test_symmetry_breaking_keeps_optimum() -> None:
    """Four jobs of 3 on two identical machines: makespan 6 with and without symmetry breaking."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    for _ in range(4):
        m.add_operation(m.add_job(), {r0: 3, r1: 3})
    data = m.data()
    assert identical_resource_pairs(data) == [(0, 1)]
    for flag in (True, False):
        assert solve_model(data, CpSatParams(symmetry_breaking=flag))[1] == 6
