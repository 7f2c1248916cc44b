"""The live plan's arithmetic: free time per resource and orders placed by insertion."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sharefab.optimize.live import (
    INF,
    Copies,
    Network,
    Placer,
    Step,
    Timeline,
    buffer_minutes,
    merge_windows,
    place_order,
)

# three sites a truck joins in 30 / 60 / 90 minutes
MINUTES = [[0, 30, 60], [30, 0, 90], [60, 90, 0]]
TRUCKS = [[0, 100, 200], [100, 0, 300], [200, 300, 0]]


@st.composite
def windows(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Shift-like windows over three days (some touching, some apart)."""
    out = []
    t = draw(st.integers(0, 200))
    for _ in range(draw(st.integers(1, 6))):
        length = draw(st.integers(30, 600))
        out.append((t, t + length))
        t += length + draw(st.sampled_from([0, 0, 15, 240, 600]))
    return out


@st.composite
def worlds(
    draw: st.DrawFn,
) -> tuple[list[list[tuple[int, int]]], list[tuple[int, int]], list[Step]]:
    """Resources with windows and some booked spans, and an order of 1-5 steps (a chain or a
    small tree), each step runnable on 1-3 of the resources."""
    n = draw(st.integers(2, 5))
    wins = [draw(windows()) for _ in range(n)]
    busy = [(r, s) for r in range(n) for s in draw(st.lists(st.integers(0, 2000), max_size=3))]
    steps = []
    for k in range(draw(st.integers(1, 5))):
        rs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
        modes = tuple((r, draw(st.integers(10, 300))) for r in rs)
        preds = (draw(st.integers(0, k - 1)),) if k else ()
        steps.append(Step(modes, preds, draw(st.booleans())))
    return wins, busy, steps


def _build(
    wins: list[list[tuple[int, int]]], busy: list[tuple[int, int]]
) -> tuple[list[Timeline], list[list[tuple[int, int]]]]:
    """Timelines with an hour booked from each busy start (its window parts only: bookings lie
    in offered time), and those parts."""
    timelines = [Timeline(w) for w in wins]
    taken: list[list[tuple[int, int]]] = [[] for _ in wins]
    for r, s in busy:
        for a, b in merge_windows(wins[r]):
            lo, hi = max(a, s), min(b, s + 60)
            if lo < hi:
                timelines[r].take(lo, hi)
                taken[r].append((lo, hi))
    return timelines, taken


def _network(n: int) -> Network:
    return Network(
        site=[r % 3 for r in range(n)],
        cost=[100 + 7 * r for r in range(n)],
        minutes=MINUTES,
        truck_cost=TRUCKS,
    )


def _window_time(wins: list[tuple[int, int]], s: int, e: int) -> int:
    return sum(max(0, min(b, e) - max(a, s)) for a, b in merge_windows(wins))


@settings(max_examples=300, deadline=None)
@given(
    worlds(), st.sampled_from(["fastest", "cheapest", "balanced", "safest"]), st.integers(0, 400)
)
def test_insertion_never_overlaps_and_respects_windows_and_precedence(
    world: tuple[list[list[tuple[int, int]]], list[tuple[int, int]], list[Step]],
    rule: str,
    release: int,
) -> None:
    """Every placed step lies in its resource's windows (whole in one window, or only paused
    over off-shift gaps), overlaps no booked span and no other step of the order, gets its full
    work time, and starts after its predecessor's end plus the truck."""
    wins, busy, steps = world
    timelines, taken = _build(wins, busy)
    before = [(t.starts[:], t.ends[:]) for t in timelines]
    placer = Placer(timelines, _network(len(wins)))
    got = place_order(placer, release, steps, ship_to=0, due=release + 3000, rule=rule)
    assert [(t.starts, t.ends) for t in timelines] == before  # a placement changes nothing
    if got is None:
        return
    merged = [merge_windows(w) for w in wins]
    for k, (r, s, e) in enumerate(got.slots):
        minutes = dict(steps[k].modes)[r]
        assert s >= release
        inside = [w for w in merged[r] if w[0] <= s < w[1]]
        assert inside, "starts inside a window"
        if steps[k].pausable:
            assert _window_time(wins[r], s, e) == minutes
            assert any(a < e <= b for a, b in merged[r]), "ends inside a window"
        else:
            assert e - s == minutes
            assert e <= inside[0][1]
        for a, b in taken[r]:
            assert b <= s or e <= a, "no overlap with what is booked"
        for j, (r2, s2, e2) in enumerate(got.slots):
            if j != k and r2 == r:
                assert e2 <= s or e <= s2, "two steps of the order never overlap"
        for p in steps[k].preds:
            pr, _, pe = got.slots[p]
            assert s >= pe + MINUTES[pr % 3][r % 3]


@settings(max_examples=200, deadline=None)
@given(worlds(), st.integers(0, 400))
def test_fastest_is_never_later_than_the_other_rules_on_one_step(
    world: tuple[list[list[tuple[int, int]]], list[tuple[int, int]], list[Step]], release: int
) -> None:
    """For a one-step order, the fastest placement delivers no later than any other rule's."""
    wins, busy, steps = world
    timelines, _ = _build(wins, busy)
    placer = Placer(timelines, _network(len(wins)))
    one = steps[:1]
    fast = place_order(placer, release, one, 0, None, "fastest")
    for rule in ("cheapest", "balanced", "safest"):
        other = place_order(placer, release, one, 0, None, rule)
        if fast is not None and other is not None:
            assert fast.delivery <= other.delivery


def test_take_and_give_back_restore_free_time() -> None:
    """Taking a span and giving it back leaves the free time as it was, even across a gap."""
    t = Timeline([(0, 480), (480, 600), (900, 1400)])
    assert (t.starts, t.ends) == ([0, 900], [600, 1400])  # touching windows merged
    t.take(500, 1000)
    assert (t.starts, t.ends) == ([0, 1000], [500, 1400])
    t.give(500, 1000)
    assert (t.starts, t.ends) == ([0, 900], [600, 1400])


def test_a_pausable_step_spans_a_night_a_rigid_one_waits() -> None:
    """A 300-minute step from 400 fits a window that ends at 600 only if it may pause."""
    t = Timeline([(0, 600), (1000, 1500)])
    assert t.place(400, 300, pausable=True) == (400, 1100)
    assert t.place(400, 300, pausable=False) == (1000, 1300)
    t.take(1050, 1060)  # something booked in the morning window: the pause cannot go on
    assert t.place(400, 300, pausable=True) == (1060, 1360)
    assert t.place(1400, 300, pausable=False) == (INF, INF)


def test_balanced_keeps_slack_that_cheapest_spends() -> None:
    """Two machines: a fast dear one and a slow cheap one. With a due date the cheap one
    would only just meet, balanced keeps the buffer (fast machine); cheapest takes the cheap
    one and delivers later."""
    wins = [[(0, 5000)], [(0, 5000)]]
    net = Network(site=[0, 0], cost=[300, 100], minutes=MINUTES, truck_cost=TRUCKS)
    placer = Placer([Timeline(w) for w in wins], net)
    steps = [Step(((0, 200), (1, 380)))]
    due = 400
    assert buffer_minutes(steps, 0.15) == 60
    balanced = place_order(placer, 0, steps, 0, due, "balanced")
    cheapest = place_order(placer, 0, steps, 0, due, "cheapest")
    assert balanced is not None
    assert cheapest is not None
    assert balanced.slots[0][0] == 0
    assert cheapest.slots[0][0] == 1
    assert balanced.delivery < cheapest.delivery <= due


def test_copies_are_made_when_read_and_leave_the_originals_alone() -> None:
    """A plan working on ``Copies`` changes only its copies, and copies only what it reads."""
    base = [Timeline([(0, 100)]), Timeline([(0, 50)])]
    copies = Copies(base)
    copies[1].take(10, 20)
    assert list(zip(copies[1].starts, copies[1].ends, strict=True)) == [(0, 10), (20, 50)]
    assert list(zip(base[1].starts, base[1].ends, strict=True)) == [(0, 50)]
    assert set(copies.made) == {1}
    assert len(copies) == 2
