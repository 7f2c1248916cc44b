"""The Model builder produces the same ProblemData as writing it out by hand."""

from sharefab.optimize.builder import Model
from sharefab.optimize.data import Job, Mode, Operation, ProblemData, Resource, Site


def test_builder_matches_dataclasses() -> None:
    """Sites, resources, jobs, transport and fixed bookings land in ProblemData."""
    m = Model()
    a, b = m.add_site("A"), m.add_site("B")
    r0 = m.add_resource(site=a, cost_per_time=2, windows=[(0, 10)])
    r1 = m.add_resource(site=b)
    j = m.add_job(release=1, due=9, weight=3)
    m.add_operation(j, {r0: 2, r1: 3})
    m.set_transport(a, b, 5, 7)
    m.add_fixed(j, 0, r1, 4, 7)
    data = m.data()
    expected = ProblemData(
        jobs=(Job((Operation((Mode(0, 2), Mode(1, 3))),), None, 1, 9, 3),),
        resources=(Resource(0, 2, ((0, 10),)), Resource(1)),
        sites=(Site("A"), Site("B")),
        transport_time=((0, 5), (0, 0)),
        transport_cost=((0, 7), (0, 0)),
        fixed=data.fixed,
    )
    assert data == expected
    assert data.transport(r0, r1) == 5
