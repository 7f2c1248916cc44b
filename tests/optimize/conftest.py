"""Helpers shared by the optimiser tests."""

from __future__ import annotations

import pytest

from sharefab.optimize import cpsat
from sharefab.optimize.data import ProblemData
from sharefab.optimize.params import CpSatParams
from sharefab.optimize.result import Assignment, Status
from sharefab.optimize.validate import objective_values, validate


def solve_model(
    data: ProblemData, params: CpSatParams | None = None
) -> tuple[Status, int, list[Assignment]]:
    """Solve the bare CP-SAT model (no heuristic, no tabu) and validate the plan."""
    params = params or CpSatParams()
    v = cpsat.build(data, params, data.horizon(), data.objective.terms)
    v.model.minimize(cpsat.objective_expr(v, data.objective.weights))
    out = cpsat.run(v, data, 10.0, 1, 0, params)
    assert out.schedule is not None, out.status
    assert validate(data, out.schedule) == []
    assert objective_values(data, out.schedule)[0] == out.objective
    assert out.objective is not None
    return out.status, out.objective, out.schedule


@pytest.fixture
def solve_cp():  # type: ignore[no-untyped-def]
    return solve_model
