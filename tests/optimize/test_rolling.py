"""Rolling re-optimisation: valid plans, the same plan twice, orders given up go last."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sharefab.optimize.live import Network, Step, Timeline, merge_windows
from sharefab.optimize.rolling import (
    Pending,
    best_of_passes,
    repair,
    replan,
    retime,
    targeted,
)

MINUTES = [[0, 45], [45, 0]]
TRUCKS = [[0, 100], [100, 0]]


def _network(n: int) -> Network:
    return Network(
        site=[r % 2 for r in range(n)], cost=[100] * n, minutes=MINUTES, truck_cost=TRUCKS
    )


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[list[tuple[int, int]]], list[Pending]]:
    """2-4 resources open in day shifts over a week; 1-8 orders of 1-4 chained steps."""
    n = draw(st.integers(2, 4))
    wins = [[(d * 1440 + 480, d * 1440 + 960 + 60 * r) for d in range(7)] for r in range(n)]
    orders = []
    for key in range(draw(st.integers(1, 8))):
        steps = []
        for k in range(draw(st.integers(1, 4))):
            rs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
            steps.append(
                Step(
                    tuple((r, draw(st.integers(30, 400))) for r in rs),
                    (k - 1,) if k else (),
                    draw(st.booleans()),
                )
            )
        release = draw(st.integers(0, 2000))
        due = release + draw(st.integers(300, 6000))
        orders.append(Pending(key, steps, release, ship_to=0, deadline=due, due=due))
    return wins, orders


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 3))
def test_replan_is_valid_and_repeatable(
    problem: tuple[list[list[tuple[int, int]]], list[Pending]], rounds: int
) -> None:
    """Every step is placed inside offered time, no two steps share a resource's time, each
    starts after its predecessor plus the truck; the same inputs give the same plan."""
    wins, orders = problem
    timelines = [Timeline(w) for w in wins]
    net = _network(len(wins))
    got = replan(timelines, net, orders, now=0, rounds=rounds)
    again = replan(timelines, net, orders, now=0, rounds=rounds)
    assert got == again
    assert [t.starts for t in timelines] == [[s for s, _ in merge_windows(w)] for w in wins]
    taken: dict[int, list[tuple[int, int]]] = {}
    for o in orders:
        slots = got.slots[o.key]
        for k, (r, s, e) in enumerate(slots):
            step = o.steps[k]
            minutes = dict(step.modes)[r]
            assert s >= o.release
            assert any(a <= s < b for a, b in wins[r])
            if not step.pausable:
                assert e - s == minutes
                assert any(a <= s and e <= b for a, b in wins[r])
            for p in step.preds:
                pr, _, pe = slots[p]
                assert s >= pe + MINUTES[pr % 2][r % 2]
            for a, b in taken.get(r, []):
                assert b <= s or e <= a
            taken.setdefault(r, []).append((s, e))


def test_an_order_given_up_goes_last() -> None:
    """One machine, two orders wanting the same morning: the one given up earlier waits."""
    wins = [[(0, 600)]]
    steps = [Step(((0, 300),))]
    a = Pending(1, steps, 0, 0, deadline=300, due=300)
    b = Pending(2, steps, 0, 0, deadline=300, due=300, given_up=True)
    got = replan([Timeline(w) for w in wins], _network(1), [b, a], now=0, rounds=0)
    assert got.slots[1][0][1] == 0
    assert got.slots[2][0][1] == 300
    assert got.late == {2}


def test_orders_past_their_due_date_queue_by_the_promise_they_can_still_keep() -> None:
    """One machine, three orders already too late for their due date: the two that can still
    keep their (later) promise go first, the tighter promise first; the one whose promise is
    lost anyway goes last, so only its promise breaks (in the order given, two would)."""
    wins = [[(0, 2000)]]

    def order(key: int, promise: int) -> Pending:
        return Pending(key, [Step(((0, 300),))], 0, 0, deadline=promise, due=100)

    lost, loose, tight = order(1, 200), order(2, 1000), order(3, 400)
    got = replan([Timeline(w) for w in wins], _network(1), [lost, loose, tight], 0, rounds=0)
    assert [got.slots[k][0][1] for k in (3, 2, 1)] == [0, 300, 600]
    assert got.values[1] == 1  # one promise broken: order 1's, which no plan keeps


def test_giving_up_one_order_saves_another() -> None:
    """One machine, three orders of 300 minutes: B (due 350) first, then A (due 500) would
    make both A and C (due 650) late; giving A up puts C on time and A after it (Moore and
    Hodgson's rule: drop the job that makes the sequence late)."""
    wins = [[(0, 2000)]]

    def order(key: int, due: int) -> Pending:
        return Pending(key, [Step(((0, 300),))], 0, 0, deadline=due, due=due)

    orders = [order(1, 500), order(2, 350), order(3, 650)]  # A, B, C
    plain = replan([Timeline(w) for w in wins], _network(1), orders, now=0, rounds=0)
    better = replan([Timeline(w) for w in wins], _network(1), orders, now=0, rounds=3)
    assert plain.late == {1, 3}
    assert better.late == {1}
    assert better.given_up == {1}
    assert better.values < plain.values


def test_retime_keeps_each_step_on_its_resource() -> None:
    """The current plan made feasible from now: the same resources, in the same order, each as
    early as it fits (a booking left in the past moves to now)."""
    wins = [[(0, 2000)], [(0, 2000)]]
    order = Pending(1, [Step(((0, 100), (1, 80)))], 0, 0, deadline=900, due=900)
    current = {1: [(0, 10, 110)]}
    got = retime([Timeline(w) for w in wins], _network(2), [order], now=300, current=current)
    assert got.slots[1] == [(0, 300, 400)]
    moved = replan(
        [Timeline(w) for w in wins], _network(2), [order], now=300, rounds=0, stay=current
    )
    assert moved.slots[1][0][0] == 0  # the faster machine gains 20 minutes, under the stick


def test_repair_keeps_an_order_given_up_earlier_where_it_is_on_time() -> None:
    """A disruption's re-plan leaves two orders where they are when one pass would put the
    one given up earlier (on time where it is) last and make it late."""
    wins = [[(0, 600)]]
    steps = [Step(((0, 300),))]
    a = Pending(1, steps, 0, 0, deadline=300, due=300, given_up=True)
    b = Pending(2, steps, 0, 0, deadline=600, due=600)
    current = {1: [(0, 0, 300)], 2: [(0, 300, 600)]}
    again = replan([Timeline(w) for w in wins], _network(1), [a, b], 0, rounds=0, stay=current)
    assert again.late == {1}  # what one pass alone would do
    got = repair([Timeline(w) for w in wins], _network(1), [a, b], now=0, current=current)
    assert got.slots == {1: [(0, 0, 300)], 2: [(0, 300, 600)]}
    assert got.late == set()


def test_repair_moves_work_off_a_broken_machine_when_it_delivers_sooner() -> None:
    """A step whose machine broke down for two days moves to the other machine, though it
    would be on time after the repair: as good a plan, delivered two days sooner."""
    wins = [[(0, 5000)], [(0, 5000)]]
    order = Pending(1, [Step(((0, 100), (1, 100)))], 0, 0, deadline=4000, due=4000)
    current = {1: [(0, 0, 100)]}
    timelines = [Timeline(w) for w in wins]
    timelines[0].take(0, 2880)  # the breakdown
    got = repair(timelines, _network(2), [order], now=0, current=current)
    assert got.slots[1] == [(1, 0, 100)]
    assert retime(timelines, _network(2), [order], 0, current).slots[1] == [(0, 2880, 2980)]


def test_targeted_moves_only_the_orders_the_current_plan_makes_late() -> None:
    """An order on time where it is keeps its exact slot; only the late one is placed again
    (here on the free second machine, where it makes its date)."""
    wins = [[(0, 2000)], [(0, 2000)]]
    on_time = Pending(1, [Step(((0, 300), (1, 300)))], 0, 0, deadline=1000, due=1000)
    late = Pending(2, [Step(((0, 300), (1, 300)))], 0, 0, deadline=400, due=400)
    current = {1: [(0, 0, 300)], 2: [(0, 300, 600)]}
    timelines = [Timeline(w) for w in wins]
    kept = retime(timelines, _network(2), [on_time, late], 0, current)
    assert kept.late == {2}
    got = targeted(timelines, _network(2), [on_time, late], 0, kept, stay=current)
    assert got.slots[1] == [(0, 0, 300)]
    assert got.slots[2] == [(1, 0, 300)]
    assert got.late == set()


@settings(max_examples=80, deadline=None)
@given(problems())
def test_best_of_passes_is_never_worse_than_the_plan_or_either_pass(
    problem: tuple[list[list[tuple[int, int]]], list[Pending]],
) -> None:
    """The re-optimisation's answer never has more orders late or promises broken than the
    plan as it stands or either list-scheduling pass, and never worse values than that plan."""
    wins, orders = problem
    timelines = [Timeline(w) for w in wins]
    net = _network(len(wins))
    current = replan(timelines, net, orders, now=0, rounds=0).slots
    kept = retime(timelines, net, orders, 0, current)
    got = best_of_passes(timelines, net, orders, 0, kept, stay=current)
    full = replan(timelines, net, orders, 0, stay=current)
    narrow = targeted(timelines, net, orders, 0, kept, stay=current)
    assert got.values <= kept.values
    assert got.values[:2] <= min(full.values[:2], narrow.values[:2], kept.values[:2])
