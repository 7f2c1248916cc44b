"""The constructive heuristic respects windows, transport and fixed bookings."""

from sharefab.optimize.builder import Model
from sharefab.optimize.heuristic import construct
from sharefab.optimize.validate import validate


def test_respects_windows_transport_and_fixed() -> None:
    """A plan built around a fixed booking, a window gap and a transport delay is valid."""
    m = Model()
    a, b = m.add_site(), m.add_site()
    r0 = m.add_resource(site=a, windows=[(0, 6), (10, 50)])
    r1 = m.add_resource(site=b)
    m.set_transport(a, b, 4)
    j = m.add_job()
    m.add_operation(j, {r0: 4})
    m.add_operation(j, {r1: 2})
    k = m.add_job()
    m.add_operation(k, {r0: 5})
    f = m.add_job()
    m.add_operation(f, {r1: 3})
    m.add_fixed(f, 0, r1, 8, 11)
    data = m.data()
    sched = construct(data)
    assert sched is not None
    assert validate(data, sched) == []
    by_op = {(x.job, x.operation): x for x in sched}
    # job 0 op 0 ends at 4 on site A; op 1 at site B cannot start before 4 + 4 = 8, and the
    # fixed booking holds [8, 11), so it starts at 11
    assert by_op[(0, 1)].start == 11


def test_gets_stuck_returns_none() -> None:
    """When no window can hold an operation the heuristic reports None instead of crashing."""
    m = Model()
    r = m.add_resource(windows=[(0, 5)])
    m.add_operation(m.add_job(), {r: 4})
    m.add_operation(m.add_job(), {r: 4})
    assert construct(m.data()) is None
