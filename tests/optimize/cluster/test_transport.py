"""The transportation helper: least-cost assignment of items to slots of limited capacity."""

from __future__ import annotations

from sharefab.optimize.cluster.transport import Transport


def test_cheapest_assignment_respects_slot_capacity() -> None:
    """Both items prefer slot 0, which holds one: the cheaper total sends item 1 to slot 1."""
    t = Transport(n_items=2, n_slots=2)
    t.item(0)
    t.to_slot(0, 0, cost=1)
    t.to_slot(0, 1, cost=10)
    t.item(1)
    t.to_slot(1, 0, cost=2)
    t.to_slot(1, 1, cost=3)
    t.slot(0, 1)
    t.slot(1, 1)
    assert t.solve() == 4  # item 0 -> slot 0 (1) + item 1 -> slot 1 (3), not 2 + 10
    assert sorted(t.chosen()) == [(0, 0), (1, 1)]


def test_an_item_with_no_room_makes_it_unsolvable_unless_it_has_a_way_out() -> None:
    """Two items and one single-unit slot: no solution, until one item may go straight out."""
    t = Transport(n_items=2, n_slots=1)
    for k in (0, 1):
        t.item(k)
        t.to_slot(k, 0, cost=1)
    t.slot(0, 1)
    assert t.solve() is None

    t = Transport(n_items=2, n_slots=1)
    for k in (0, 1):
        t.item(k)
        t.to_slot(k, 0, cost=1)
    t.out(1, cost=7)
    t.slot(0, 1)
    assert t.solve() == 8
    assert list(t.chosen()) == [(0, 0)]  # the item sent out holds no slot
