"""Portfolio for plain flexible job shops (makespan): tabu search beside CP-SAT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sharefab.optimize.data import ProblemData
from sharefab.optimize.params import SolveParams
from sharefab.optimize.result import Status

if TYPE_CHECKING:
    from sharefab.optimize.solve import Incumbent


def run_portfolio(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    deadline: float,
    workers: int,
    seed: int,
) -> Status:
    from sharefab.optimize.solve import _cpsat_then_lns

    return _cpsat_then_lns(data, params, inc, deadline, workers, seed)
