"""LNS around CP-SAT keeps plans valid and never worsens the incumbent."""

import random
import time

from sharefab.optimize.builder import Model
from sharefab.optimize.heuristic import construct
from sharefab.optimize.lns import run_lns
from sharefab.optimize.params import SolveParams
from sharefab.optimize.solve import Incumbent
from sharefab.optimize.validate import validate


def test_lns_improves_tardiness_with_windows() -> None:
    """On a windowed tardiness instance LNS returns a valid plan no worse than the greedy one."""
    rng = random.Random(5)
    m = Model()
    res = [m.add_resource(windows=[(0, 40), (45, 400)]) for _ in range(3)]
    for _ in range(10):
        j = m.add_job(due=rng.randint(10, 60), weight=rng.randint(1, 3))
        for _ in range(3):
            m.add_operation(j, {r: rng.randint(2, 8) for r in rng.sample(res, 2)})
    m.set_objective("tardiness")
    data = m.data()
    start = construct(data)
    assert start is not None
    inc = Incumbent(data, time.perf_counter(), None)
    inc.offer(start)
    first = inc.objective
    assert first is not None
    run_lns(data, SolveParams(), inc, time.perf_counter() + 2.0, 1, 0)
    assert inc.schedule is not None
    assert validate(data, inc.schedule) == []
    assert inc.objective is not None
    assert inc.objective <= first
