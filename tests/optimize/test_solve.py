"""solve(): statuses, infeasibility reasons, warm start, streaming, and valid plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharefab.optimize.builder import Model
from sharefab.optimize.io_fjs import read_fjs
from sharefab.optimize.result import Assignment, Result, Status
from sharefab.optimize.solve import solve
from sharefab.optimize.validate import validate

BENCH = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "fjsp" / "brandimarte"


def test_operation_longer_than_every_window_is_infeasible() -> None:
    """A 10-unit operation with windows of at most 6 is infeasible, with the reason."""
    m = Model()
    r = m.add_resource(windows=[(0, 6), (10, 15)])
    m.add_operation(m.add_job(), {r: 3})
    m.add_operation(m.add_job(), {r: 10})
    result = solve(m.data(), time_limit=5)
    assert result.status == Status.INFEASIBLE
    assert "operation 0 of job 1 is longer than every capacity window" in result.reason


def test_clashing_fixed_bookings_are_infeasible() -> None:
    """Two fixed bookings overlapping on one machine are reported."""
    m = Model()
    r = m.add_resource()
    for start in (0, 2):
        j = m.add_job()
        m.add_operation(j, {r: 3})
        m.add_fixed(j, 0, r, start, start + 3)
    result = solve(m.data(), time_limit=5)
    assert result.status == Status.INFEASIBLE
    assert "overlap on resource 0" in result.reason


def test_infeasible_found_by_cpsat_is_a_status() -> None:
    """Fixed bookings that break a precedence (op 1 fixed at 0, op 0 takes 2) return
    infeasible, not an exception."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    j = m.add_job()
    m.add_operation(j, {r0: 2})
    m.add_operation(j, {r1: 2})
    m.add_fixed(j, 1, r1, 0, 2)
    result = solve(m.data(), time_limit=5)
    assert result.status == Status.INFEASIBLE
    assert result.schedule == ()


def test_windows_too_tight_overall_is_infeasible() -> None:
    """Two 3-unit operations in a single window [0, 5) cannot both fit."""
    m = Model()
    r = m.add_resource(windows=[(0, 5)])
    m.add_operation(m.add_job(), {r: 3})
    m.add_operation(m.add_job(), {r: 3})
    assert solve(m.data(), time_limit=5).status == Status.INFEASIBLE


def test_warm_start_and_streaming() -> None:
    """An initial plan is accepted and each improvement is streamed with a valid schedule."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    for d in (3, 4, 5):
        m.add_operation(m.add_job(), {r0: d, r1: d + 1})
    data = m.data()
    initial = [Assignment(0, 0, 0, 0, 3), Assignment(1, 0, 0, 3, 7), Assignment(2, 0, 0, 7, 12)]
    seen: list[Result] = []
    result = solve(data, time_limit=5, initial=initial, on_improve=seen.append)
    assert seen[0].objective == 12
    assert all(validate(data, r.schedule) == [] for r in seen)
    # optimum: 3 + 4 on r0 (7) and 5 + 1 = 6 on r1 -> 7
    assert (result.status, result.objective) == (Status.OPTIMAL, 7)


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks not available")
def test_brandimarte_mk01_is_solved_to_optimum() -> None:
    """mk01 (optimum 40) is solved and proven optimal quickly with 2 workers."""
    data = read_fjs(BENCH / "mk01.fjs")
    result = solve(data, time_limit=20, workers=2)
    assert validate(data, result.schedule) == []
    assert result.objective == 40
    assert result.status == Status.OPTIMAL


def test_time_limit_bounds_the_solve() -> None:
    """A solve with a 1 s limit on a larger random instance returns within ~1.5 s."""
    import random

    rng = random.Random(3)
    m = Model()
    res = [m.add_resource() for _ in range(6)]
    for _ in range(30):
        j = m.add_job()
        for _ in range(8):
            chosen = rng.sample(res, 3)
            m.add_operation(j, {r: rng.randint(1, 20) for r in chosen})
    data = m.data()
    result = solve(data, time_limit=1.0, workers=2)
    assert result.runtime_s < 1.5
    assert result.status in (Status.FEASIBLE, Status.OPTIMAL)
    assert validate(data, result.schedule) == []
