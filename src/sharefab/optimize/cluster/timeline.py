"""Free time of one resource: its capacity windows minus its bookings, as sorted segments.

An operation either runs inside one free segment (``earliest``) or, if it is interruptible, over
several segments that only the resource's own off-shift gaps separate (``span``): it starts in a
window, pauses at each window end and goes on at the next window's start, and nothing else may be
booked in between. ``window_time`` is the processing time such a booking gets.
"""

from __future__ import annotations

from bisect import bisect_right

INF = 1 << 60


def window_time(windows: list[tuple[int, int]], start: int, end: int) -> int:
    """Time of ``windows`` (sorted, disjoint) inside ``[start, end)``; no windows: always open."""
    if not windows:
        return max(0, end - start)
    k = max(0, bisect_right(windows, (start, INF)) - 1)
    total = 0
    while k < len(windows) and windows[k][0] < end:
        s, e = windows[k]
        total += max(0, min(e, end) - max(s, start))
        k += 1
    return total


class FreeTimeline:
    """Sorted, disjoint free ``[start, end)`` segments; book a block, find the earliest fit."""

    __slots__ = ("ends", "starts", "win_ends", "win_starts")

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        segs = windows or [(0, INF)]
        self.starts = [s for s, _ in segs]
        self.ends = [e for _, e in segs]
        self.win_starts = self.starts[:]
        self.win_ends = self.ends[:]

    def earliest(self, t: int, duration: int) -> int:
        """Earliest start >= ``t`` of ``duration`` inside one free segment (INF if none)."""
        starts, ends = self.starts, self.ends
        k = bisect_right(starts, t) - 1
        if k < 0:
            k = 0
        n = len(starts)
        while k < n:
            s = starts[k] if starts[k] > t else t
            if s + duration <= ends[k]:
                return s
            k += 1
        return INF

    def _joined(self, k: int) -> bool:
        """Whether free segment ``k`` runs to its window's end and ``k + 1`` starts the next
        window (only the resource's own off-shift gap lies between them)."""
        if k + 1 >= len(self.starts):
            return False
        end = self.ends[k]
        w = bisect_right(self.win_starts, end - 1) - 1
        return (
            0 <= w < len(self.win_starts) - 1
            and self.win_ends[w] == end
            and self.win_starts[w + 1] == self.starts[k + 1]
        )

    def span(self, t: int, duration: int) -> tuple[int, int]:
        """Earliest ``(start, end)`` with start >= ``t`` of an interruptible operation that needs
        ``duration`` of window time (``(INF, INF)`` if none); it starts and ends in a window and
        no booking lies between. No later start ends earlier."""
        starts, ends = self.starts, self.ends
        k = max(0, bisect_right(starts, t) - 1)
        n = len(starts)
        while k < n:
            s = starts[k] if starts[k] > t else t
            if s >= ends[k]:
                k += 1
                continue
            need = duration - (ends[k] - s)
            last = k
            while need > 0 and self._joined(last):
                last += 1
                need -= ends[last] - starts[last]
            if need <= 0:
                return s, ends[last] + need
            k = last + 1
        return INF, INF

    def book(self, start: int, end: int) -> None:
        """Take ``[start, end)`` out of the free segments: either inside one, or (an
        interruptible operation) over segments joined by off-shift gaps only."""
        if end <= start:
            return
        k = bisect_right(self.starts, start) - 1
        if k < 0 or self.ends[k] <= start:
            raise ValueError(f"[{start}, {end}) does not start inside a free segment")
        last = k
        while self.ends[last] < end:
            if not self._joined(last):
                raise ValueError(f"[{start}, {end}) is not inside free time")
            last += 1
        s, e = self.starts[k], self.ends[last]
        pieces = []
        if s < start:
            pieces.append((s, start))
        if end < e:
            pieces.append((end, e))
        self.starts[k : last + 1] = [a for a, _ in pieces]
        self.ends[k : last + 1] = [b for _, b in pieces]
