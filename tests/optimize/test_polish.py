"""The cluster planner's search on a rolling plan: valid, repeatable, better than its start."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sharefab.engine.base import make_engine
from sharefab.optimize.live import Network, Step, Timeline
from sharefab.optimize.polish import polish
from sharefab.optimize.rolling import Pending, Replanned, replan, retime
from tests.optimize.test_rolling import MINUTES, _network


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[list[tuple[int, int]]], list[Pending], int]:
    """2-4 resources in day shifts over two weeks; 1-8 orders of 1-4 chained steps, some
    waiting for an input that is ready later at one of the sites; a `now` inside day one."""
    n = draw(st.integers(2, 4))
    wins = [[(d * 1440 + 480, d * 1440 + 960 + 60 * r) for d in range(14)] for r in range(n)]
    now = draw(st.integers(0, 900))
    orders = []
    for key in range(draw(st.integers(1, 8))):
        steps = []
        for k in range(draw(st.integers(1, 4))):
            rs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
            after: tuple[tuple[int, int], ...] = ()
            if k == 0 and draw(st.booleans()):
                after = ((draw(st.integers(0, 1)), now + draw(st.integers(-120, 900))),)
            steps.append(
                Step(
                    tuple((r, draw(st.integers(30, 400))) for r in rs),
                    (k - 1,) if k else (),
                    draw(st.booleans()),
                    after,
                )
            )
        release = draw(st.integers(0, 2000))
        due = release + draw(st.integers(300, 4000))
        orders.append(Pending(key, steps, release, ship_to=1, deadline=due, due=due))
    return wins, orders, now


def _check(
    wins: list[list[tuple[int, int]]], orders: list[Pending], now: int, plan: Replanned
) -> None:
    taken: dict[int, list[tuple[int, int]]] = {}
    for o in orders:
        slots = plan.slots[o.key]
        for k, (r, s, e) in enumerate(slots):
            step = o.steps[k]
            assert s >= max(now, o.release)
            assert any(a <= s < b for a, b in wins[r])
            if not step.pausable:
                assert e - s == dict(step.modes)[r]
                assert any(a <= s and e <= b for a, b in wins[r])
            for p in step.preds:
                pr, _, pe = slots[p]
                assert s >= pe + MINUTES[pr % 2][r % 2]
            for site, ready in step.after:
                assert s >= ready + MINUTES[site][r % 2]
            for a, b in taken.get(r, []):
                assert b <= s or e <= a
            taken.setdefault(r, []).append((s, e))


@settings(max_examples=40, deadline=None)
@given(problems())
def test_the_search_gives_a_valid_plan_and_the_same_one_twice(
    problem: tuple[list[list[tuple[int, int]]], list[Pending], int],
) -> None:
    """From the one-pass plan, the search's plan has every step inside offered time, no two
    steps on one resource at once, each after its predecessor or input plus the truck, and
    the same inputs give the identical plan."""
    wins, orders, now = problem
    timelines = [Timeline(w) for w in wins]
    net = _network(len(wins))
    start = replan(timelines, net, orders, now, rounds=0)
    if start.unplaced:
        return
    got = polish(timelines, net, orders, now, start)
    assert got == polish(timelines, net, orders, now, start)
    _check(wins, orders, now, got)


def _queue_in_the_wrong_order() -> tuple[list[Timeline], Network, list[Pending], Replanned]:
    """Two machines at one site; an urgent order queued behind two lax ones on machine 0 while
    machine 1 also could do it."""
    wins = [[(0, 2000)], [(0, 2000)]]
    net = Network(site=[0, 0], cost=[100, 100], minutes=[[0]], truck_cost=[[0]])
    lax = [Pending(k, [Step(((0, 300), (1, 400)))], 0, ship_to=0, deadline=1900) for k in (1, 2)]
    urgent = Pending(3, [Step(((0, 300), (1, 400)))], 0, ship_to=0, deadline=450)
    orders = [*lax, urgent]
    timelines = [Timeline(w) for w in wins]
    current = {1: [(0, 0, 300)], 2: [(0, 300, 600)], 3: [(0, 600, 900)]}
    return timelines, net, orders, retime(timelines, net, orders, 0, current)


def test_the_search_makes_a_late_order_on_time() -> None:
    """An urgent order queued last on a busy machine is late in the start plan; the search
    moves work so that every order is on time."""
    timelines, net, orders, start = _queue_in_the_wrong_order()
    assert start.values[0] == 1
    got = polish(timelines, net, orders, 0, start)
    assert got.values == (0, 0, 0)
    assert got.delivery[3] <= 450


def test_a_process_pool_gives_the_same_plan() -> None:
    """The deterministic search gives the identical plan in this process and on the solver's
    process pool (the engine a re-optimisation job uses)."""
    timelines, net, orders, start = _queue_in_the_wrong_order()
    here = polish(timelines, net, orders, 0, start)
    with make_engine("local", workers=2) as pool:
        there = polish(timelines, net, orders, 0, start, pool)
    assert there == here
