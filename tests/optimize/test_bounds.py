"""Lower bounds are valid and as strong as the arithmetic says."""

from sharefab.optimize.bounds import job_path_bounds, load_bound, makespan_bound, term_bounds
from sharefab.optimize.builder import Model
from sharefab.optimize.data import ObjectiveTerm


def test_load_and_path_bounds() -> None:
    """Ops only on {M0}: 5 + 4 = 9 -> load bound 9. Job 0 path: release 2 + 5 + 1 = 8."""
    m = Model()
    r0, r1 = m.add_resource(), m.add_resource()
    j = m.add_job(release=2)
    m.add_operation(j, {r0: 5})
    m.add_operation(j, {r0: 1, r1: 3})
    m.add_operation(m.add_job(), {r0: 4})
    data = m.data()
    assert load_bound(data) == 9
    assert job_path_bounds(data) == [8, 4]
    assert makespan_bound(data) == 9


def test_tardiness_and_cost_bounds() -> None:
    """Job due 3 with path 5, weight 2 -> at least 2 x 2 = 4 tardiness; cheapest mode cost
    min(5 x 1, 2 x 4) = 5."""
    m = Model()
    slow, fast = m.add_resource(cost_per_time=1), m.add_resource(cost_per_time=4)
    m.add_operation(m.add_job(due=3, weight=2), {slow: 5, fast: 2})
    bounds = term_bounds(m.data())
    assert bounds[ObjectiveTerm.WEIGHTED_TARDINESS] == 0  # the fast machine makes it by 2
    assert bounds[ObjectiveTerm.COST] == 5
