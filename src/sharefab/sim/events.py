"""A heap-based event queue with a monotonic clock: simulated time never goes backwards."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any


class TimeWentBackwards(AssertionError):
    """An event was scheduled or popped before the current simulated time."""


@dataclass(frozen=True, order=True, slots=True)
class Event:
    """Something that happens at `time` (minutes from the simulation start).

    Events at the same minute run by `priority` (lower first), then in scheduling order.
    """

    time: int
    priority: int
    seq: int
    kind: str = field(compare=False)
    data: Any = field(compare=False, default=None)


class Clock:
    """The simulated time in minutes; it only moves forward."""

    __slots__ = ("_now",)

    def __init__(self, start: int = 0) -> None:
        self._now = start

    @property
    def now(self) -> int:
        return self._now

    def advance(self, to: int) -> None:
        if to < self._now:
            raise TimeWentBackwards(f"time would go back from minute {self._now} to {to}")
        self._now = to


class EventQueue:
    """Pending events ordered by (time, priority, scheduling order), with the clock they drive."""

    def __init__(self, start: int = 0) -> None:
        self.clock = Clock(start)
        self._heap: list[Event] = []
        self._seq = 0
        self.popped = 0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, time: int, kind: str, data: Any = None, priority: int = 5) -> Event:
        """Add an event; scheduling in the past is a bug and raises `TimeWentBackwards`."""
        if time < self.clock.now:
            raise TimeWentBackwards(
                f"event {kind!r} scheduled at minute {time}, before now ({self.clock.now})"
            )
        self._seq += 1
        event = Event(time, priority, self._seq, kind, data)
        heapq.heappush(self._heap, event)
        return event

    def peek_time(self) -> int | None:
        return self._heap[0].time if self._heap else None

    def pop(self) -> Event:
        """The next event; the clock moves to its time."""
        event = heapq.heappop(self._heap)
        self.clock.advance(event.time)
        self.popped += 1
        return event
