"""The event queue and its clock."""

from __future__ import annotations

import pytest

from sharefab.sim.events import Clock, EventQueue, TimeWentBackwards


def test_events_pop_in_time_then_priority_then_schedule_order() -> None:
    """Events come out by time, then priority, then the order they were scheduled in."""
    q = EventQueue()
    q.schedule(30, "c")
    q.schedule(10, "b", priority=6)
    q.schedule(10, "a", priority=1)
    q.schedule(10, "b2", priority=6)
    assert [q.pop().kind for _ in range(4)] == ["a", "b", "b2", "c"]
    assert q.clock.now == 30


def test_scheduling_in_the_past_is_refused() -> None:
    """Once the clock is at minute 10, an event at minute 9 raises instead of rewinding time."""
    q = EventQueue()
    q.schedule(10, "x")
    q.pop()
    with pytest.raises(TimeWentBackwards):
        q.schedule(9, "late")


def test_clock_never_goes_back() -> None:
    """The clock moves forward or stays; moving it back raises."""
    c = Clock()
    c.advance(5)
    c.advance(5)
    with pytest.raises(TimeWentBackwards):
        c.advance(4)
