"""The tabu/CP-SAT portfolio: proves small optima, leaves no processes behind."""

from __future__ import annotations

import multiprocessing as mp

from sharefab.optimize.builder import Model
from sharefab.optimize.result import Status
from sharefab.optimize.solve import solve
from sharefab.optimize.validate import validate


def test_portfolio_proves_optimum_and_cleans_up() -> None:
    """Three jobs (3 then 2) on two machines that can each do any operation (M1 one unit
    slower): total work >= 3 x 5 = 15 on two machines -> makespan >= 8; 8 is reached
    (M0: 3 + 3 + 2, M1: 3 + 2 + ... is checked by the solver's bound). The plan is valid,
    proven optimal, and the tabu processes are gone afterwards."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    for _ in range(3):
        j = m.add_job()
        m.add_operation(j, {r0: 3, r1: 4})
        m.add_operation(j, {r0: 2, r1: 3})
    data = m.data()
    result = solve(data, time_limit=10, workers=2)
    assert validate(data, result.schedule) == []
    assert result.status == Status.OPTIMAL
    assert result.objective == result.lower_bound
    assert not [p for p in mp.active_children() if p.is_alive()]
