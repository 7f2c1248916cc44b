"""Free time of one resource: its capacity windows minus its bookings, as sorted segments."""

from __future__ import annotations

from bisect import bisect_right

INF = 1 << 60


class FreeTimeline:
    """Sorted, disjoint free ``[start, end)`` segments; book a block, find the earliest fit."""

    __slots__ = ("ends", "starts")

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        segs = windows or [(0, INF)]
        self.starts = [s for s, _ in segs]
        self.ends = [e for _, e in segs]

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

    def book(self, start: int, end: int) -> None:
        """Take ``[start, end)`` out of the free segment holding it (must be inside one)."""
        if end <= start:
            return
        k = bisect_right(self.starts, start) - 1
        if k < 0 or self.ends[k] < end:
            raise ValueError(f"[{start}, {end}) is not inside one free segment")
        s, e = self.starts[k], self.ends[k]
        if s < start and end < e:
            self.ends[k] = start
            self.starts.insert(k + 1, end)
            self.ends.insert(k + 1, e)
        elif s < start:
            self.ends[k] = start
        elif end < e:
            self.starts[k] = end
        else:
            del self.starts[k], self.ends[k]
