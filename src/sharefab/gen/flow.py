"""How soon an order can be delivered on empty machines: the window-aware flow time.

``Calendar`` holds what does not change from order to order (each resource's capacity windows
and site, truck minutes between sites). ``Calendar.delivery(release, modes, preds, ship_to)``
places the order's steps one after another in precedence order, each on the capable resource
where it finishes first: after its release and its predecessors' ends plus the truck ride from
their sites, inside one capacity window of that resource, or, for a step that may pause at a
shift end (piece and desk work), starting in a window and going on in the next ones; with
nobody else's work in the way (two steps of the order never share a resource's time). The
answer is the minute the last step's work reaches the buyer.

That schedule is a real one, so an order due at or after it can be on time when it is alone in
the cluster; generated due dates are that flow time times a tightness of at least one.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence


class Calendar:
    """Capacity windows per resource, each resource's site and truck minutes between sites."""

    __slots__ = ("resource_site", "site_minutes", "starts", "windows")

    def __init__(
        self,
        windows: Sequence[Sequence[tuple[int, int]]],
        resource_site: Sequence[int],
        site_minutes: Sequence[Sequence[int]],
    ) -> None:
        self.windows = [sorted(w) for w in windows]
        self.starts = [[s for s, _ in w] for w in self.windows]
        self.resource_site = list(resource_site)
        self.site_minutes = site_minutes

    def fit(self, r: int, earliest: int, minutes: int) -> int | None:
        """The first start >= ``earliest`` where ``minutes`` of work fits inside one window of
        resource ``r`` (None when no window left is long enough)."""
        spans = self.windows[r]
        k = max(0, bisect_right(self.starts[r], earliest) - 1)
        for s, e in spans[k:]:
            start = s if s > earliest else earliest
            if start + minutes <= e:
                return start
        return None

    def worked(self, r: int, start: int, end: int) -> int:
        """Window time of resource ``r`` inside ``[start, end)``."""
        spans = self.windows[r]
        k = max(0, bisect_right(self.starts[r], start) - 1)
        total = 0
        for s, e in spans[k:]:
            if s >= end:
                break
            total += max(0, min(e, end) - max(s, start))
        return total

    def finish(self, r: int, start: int, minutes: int) -> int | None:
        """When ``minutes`` of work begun at ``start`` on resource ``r`` is done, counting only
        its window time (the work pauses between windows); None if the windows run out."""
        spans = self.windows[r]
        k = max(0, bisect_right(self.starts[r], start) - 1)
        t, left = start, minutes
        for s, e in spans[k:]:
            if e <= t:
                continue
            a = s if s > t else t
            if a + left <= e:
                return a + left
            left -= e - a
            t = e
        return None

    def span(self, r: int, earliest: int, minutes: int) -> tuple[int, int] | None:
        """The first (start, end) >= ``earliest`` of ``minutes`` of work that may pause at a
        window end: it starts inside a window and goes on in the next ones (None if the windows
        run out)."""
        spans = self.windows[r]
        k = max(0, bisect_right(self.starts[r], earliest) - 1)
        for s, e in spans[k:]:
            if e > earliest:
                start = s if s > earliest else earliest
                end = self.finish(r, start, minutes)
                return None if end is None else (start, end)
        return None

    def place(
        self, r: int, earliest: int, minutes: int, pausable: bool = False
    ) -> tuple[int, int] | None:
        """The first (start, end) >= ``earliest`` of a step on resource ``r``: inside one
        window, or (``pausable``) paused over the gaps between windows."""
        if pausable:
            return self.span(r, earliest, minutes)
        start = self.fit(r, earliest, minutes)
        return None if start is None else (start, start + minutes)

    def schedule(
        self,
        release: int,
        modes: Sequence[Sequence[tuple[int, int]]],
        preds: Sequence[Sequence[int]],
        pausable: Sequence[bool] = (),
    ) -> list[tuple[int, int, int]] | None:
        """Per step (in the given, topological, order): (resource, start, end) on empty
        machines, each step on the resource where it finishes first (a ``pausable`` step may
        pause at a window end); None if a step fits no window left."""
        placed: list[tuple[int, int, int]] = []
        site_of = self.resource_site
        for pos, step_modes in enumerate(modes):
            pauses = bool(pausable) and pausable[pos]
            best: tuple[int, int, int] | None = None  # end, resource, start
            for r, minutes in step_modes:
                site = site_of[r]
                ready = release
                for p in preds[pos]:
                    pr, _, pe = placed[p]
                    arrive = pe + self.site_minutes[site_of[pr]][site]
                    if arrive > ready:
                        ready = arrive
                got = self.place(r, ready, minutes, pauses)
                # not over another step of the same order on that resource (parallel branches)
                while got is not None and (
                    clash := next(
                        (e2 for r2, s2, e2 in placed if r2 == r and s2 < got[1] and got[0] < e2),
                        None,
                    )
                ):
                    got = self.place(r, clash, minutes, pauses)
                if got is None:
                    continue
                key = (got[1], r, got[0])
                if best is None or key < best:
                    best = key
            if best is None:
                return None
            end, r, start = best
            placed.append((r, start, end))
        return placed

    def delivery(
        self,
        release: int,
        modes: Sequence[Sequence[tuple[int, int]]],
        preds: Sequence[Sequence[int]],
        ship_to: int,
        pausable: Sequence[bool] = (),
    ) -> int | None:
        """The minute the order's work reaches ``ship_to`` when nothing else is in the way
        (None if some step fits no window left)."""
        placed = self.schedule(release, modes, preds, pausable)
        if placed is None:
            return None
        sinks = set(range(len(modes))) - {p for ps in preds for p in ps}
        return max(
            (
                end + self.site_minutes[self.resource_site[r]][ship_to]
                for k, (r, _, end) in enumerate(placed)
                if k in sinks
            ),
            default=release,
        )


def due_from_flow(release: int, delivery: int, tightness: float, rush: bool) -> int:
    """A due date ``tightness`` times the flow time after ``release``; a normal (not rush)
    order is due at the end of that working day (18:00 local, minute 0 being midnight)."""
    due = release + math.ceil((delivery - release) * tightness)
    if not rush:
        due += (1080 - due) % 1440
    return due
