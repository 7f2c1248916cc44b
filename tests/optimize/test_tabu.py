"""Tabu search returns valid schedules that improve the constructive one."""

from __future__ import annotations

import random
import time

from sharefab.optimize.builder import Model
from sharefab.optimize.data import ProblemData
from sharefab.optimize.heuristic import construct
from sharefab.optimize.params import TabuParams
from sharefab.optimize.tabu import applicable, tabu_search
from sharefab.optimize.validate import validate


def _random_fjsp(seed: int, jobs: int = 8, machines: int = 4, ops: int = 5) -> ProblemData:
    rng = random.Random(seed)
    m = Model()
    res = [m.add_resource() for _ in range(machines)]
    for _ in range(jobs):
        j = m.add_job(release=rng.randint(0, 5))
        for _ in range(ops):
            chosen = rng.sample(res, rng.randint(1, 3))
            m.add_operation(j, {r: rng.randint(1, 9) for r in chosen})
    return m.data()


def test_tabu_improves_and_stays_valid() -> None:
    """From the greedy schedule, tabu never gets worse and every plan it returns is valid."""
    for seed in range(3):
        data = _random_fjsp(seed)
        assert applicable(data)
        start = construct(data)
        assert start is not None
        seen: list[int] = []

        def record(_schedule: object, value: int, seen: list[int] = seen) -> None:
            seen.append(value)

        best = tabu_search(
            data,
            start,
            time.perf_counter() + 0.5,
            TabuParams(),
            seed=seed,
            on_improve=record,
        )
        assert validate(data, best) == []
        assert max(a.end for a in best) <= max(a.end for a in start)
        assert seen == sorted(seen, reverse=True)


def test_tabu_finds_small_optimum() -> None:
    """Two machines, jobs (3 on M0 | 4 on M1) then (2 on M1): the optimum is 6
    (job A: M0 [0,3), then M1 [4,6) after job B's M1 [0,4)... or B on M1 [0,4) and
    A's second op on M1 [4,6)); tabu reaches it from any start."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    a = m.add_job()
    m.add_operation(a, {r0: 3, r1: 4})
    m.add_operation(a, {r1: 2})
    b = m.add_job()
    m.add_operation(b, {r1: 4, r0: 6})
    data = m.data()
    start = construct(data)
    assert start is not None
    best = tabu_search(data, start, time.perf_counter() + 0.3, TabuParams(), target=6)
    assert validate(data, best) == []
    assert max(x.end for x in best) == 6


def test_not_applicable_with_windows() -> None:
    """Tabu declines problems with capacity windows (CP-SAT and LNS handle them)."""
    m = Model()
    r = m.add_resource(windows=[(0, 10)])
    m.add_operation(m.add_job(), {r: 3})
    assert not applicable(m.data())
