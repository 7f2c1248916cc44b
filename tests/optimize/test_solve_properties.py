"""Property tests: on random instances every returned plan is valid, and the heuristic's plans
are valid whenever it finds one."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharefab.optimize.builder import Model
from sharefab.optimize.data import ProblemData
from sharefab.optimize.heuristic import construct
from sharefab.optimize.result import Status
from sharefab.optimize.solve import solve
from sharefab.optimize.validate import validate


@st.composite
def instances(draw: st.DrawFn) -> ProblemData:
    m = Model()
    n_sites = draw(st.integers(1, 2))
    sites = [m.add_site() for _ in range(n_sites)]
    for a in sites:
        for b in sites:
            if a != b:
                m.set_transport(a, b, draw(st.integers(0, 4)), draw(st.integers(0, 9)))
    n_res = draw(st.integers(1, 4))
    resources = []
    for _ in range(n_res):
        windows = []
        if draw(st.booleans()):
            t = 0
            for _ in range(draw(st.integers(1, 3))):
                t += draw(st.integers(0, 5))
                length = draw(st.integers(6, 40))
                windows.append((t, t + length))
                t += length
        resources.append(
            m.add_resource(
                site=draw(st.sampled_from(sites)),
                cost_per_time=draw(st.integers(0, 3)),
                windows=windows,
            )
        )
    for _ in range(draw(st.integers(1, 4))):
        j = m.add_job(
            release=draw(st.integers(0, 5)),
            due=draw(st.one_of(st.none(), st.integers(0, 30))),
            weight=draw(st.integers(1, 3)),
        )
        n_ops = draw(st.integers(1, 3))
        for _ in range(n_ops):
            eligible = draw(st.sets(st.sampled_from(resources), min_size=1, max_size=3))
            m.add_operation(j, {r: draw(st.integers(1, 6)) for r in sorted(eligible)})
        if n_ops == 3 and draw(st.booleans()):
            m.add_precedence(j, 0, 2)
            m.add_precedence(j, 1, 2)
    m.set_objective(
        draw(
            st.sampled_from(
                ["makespan", "tardiness", "cost", "lex:tardiness,cost", "mix:makespan=1,cost=1"]
            )
        )
    )
    return m.data()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_returned_plan_is_valid(data: ProblemData) -> None:
    """solve() never crashes, and any plan it returns passes the validator."""
    result = solve(data, time_limit=2.0, workers=1)
    assert result.status in set(Status)
    if result.schedule:
        assert validate(data, result.schedule) == []
        assert result.status in (Status.OPTIMAL, Status.FEASIBLE)
        assert result.objective is not None
        assert result.objective >= result.lower_bound
    else:
        assert result.status in (Status.INFEASIBLE, Status.UNKNOWN)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_heuristic_plans_are_valid(data: ProblemData) -> None:
    """Without fixed bookings, the constructive heuristic's plans are valid."""
    sched = construct(data)
    if sched is not None:
        assert validate(data, sched) == []
