"""The live plan's arithmetic: free time per resource, and placing orders into it fast.

Pure integers (minutes), no database: the marketplace keeps one ``Capacity`` per process (its
live plan) and the simulator one per run.

- ``Timeline``: a resource's capacity windows (touching windows merged) minus the time taken by
  bookings and downtimes, as sorted free segments. A step that may not pause needs one free
  segment that holds it (``earliest``); a step that may pause at a shift end (``span``) starts
  in a free segment and goes on in the next ones as long as only the resource's own off-shift
  gaps lie between them (nothing booked in between). ``take`` and ``give`` book and release
  time and never fail: they work on whatever part of the span is (not) free.
- ``Network``: what a plan needs to know about resources besides their time: site, cost per
  minute, truck minutes and cost between sites.
- ``place_order``: an order's steps placed one after another in precedence order on the live
  plan, by one of four rules (``fastest``, ``cheapest``, ``balanced``, ``safest``), and scored at
  delivery to the buyer (the final truck counts).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sharefab.optimize.cluster.timeline import INF, FreeTimeline


def merge_windows(windows: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted windows with overlapping or touching ones merged."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(windows):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


class Timeline(FreeTimeline):
    """Free time of one resource (see the module docstring): ``FreeTimeline``'s search
    (``earliest``, ``span``) over windows with touching ones merged, plus ``take`` and ``give``
    that never fail. A resource with no windows has no free time."""

    __slots__ = ()

    def __init__(self, windows: Sequence[tuple[int, int]]) -> None:
        merged = merge_windows(windows)
        self.win_starts = [s for s, _ in merged]
        self.win_ends = [e for _, e in merged]
        self.starts = self.win_starts[:]
        self.ends = self.win_ends[:]

    def copy(self) -> Timeline:
        other = Timeline.__new__(Timeline)
        other.win_starts, other.win_ends = self.win_starts, self.win_ends  # never changed
        other.starts, other.ends = self.starts[:], self.ends[:]
        return other

    def place(self, t: int, duration: int, pausable: bool) -> tuple[int, int]:
        """The earliest ``(start, end)`` from ``t``: in one free segment, or paused over
        off-shift gaps when ``pausable`` ((INF, INF) if none)."""
        if pausable:
            return self.span(t, duration)
        s = self.earliest(t, duration)
        return (s, s + duration) if s < INF else (INF, INF)

    # ---- writing --------------------------------------------------------------------------

    def take(self, start: int, end: int) -> None:
        """Take ``[start, end)`` out of the free time (whatever part of it is free)."""
        if end <= start:
            return
        starts, ends = self.starts, self.ends
        lo = max(0, bisect_right(starts, start) - 1)
        hi = bisect_left(starts, end)
        pieces: list[tuple[int, int]] = []
        for k in range(lo, hi):
            s, e = starts[k], ends[k]
            if e <= start or s >= end:
                pieces.append((s, e))
                continue
            if s < start:
                pieces.append((s, start))
            if end < e:
                pieces.append((end, e))
        starts[lo:hi] = [s for s, _ in pieces]
        ends[lo:hi] = [e for _, e in pieces]

    def give(self, start: int, end: int) -> None:
        """Give ``[start, end)`` back (its window time; merged with touching free time)."""
        if end <= start:
            return
        k = max(0, bisect_right(self.win_starts, start) - 1)
        while k < len(self.win_starts) and self.win_starts[k] < end:
            a, b = max(self.win_starts[k], start), min(self.win_ends[k], end)
            if a < b:
                self._insert(a, b)
            k += 1

    def _insert(self, a: int, b: int) -> None:
        starts, ends = self.starts, self.ends
        lo = bisect_left(ends, a)  # first segment that ends at or after a
        hi = bisect_right(starts, b)  # segments starting at or before b
        if lo < hi:  # overlapping or touching segments: merge them all
            a = min(a, starts[lo])
            b = max(b, ends[hi - 1])
        starts[lo:hi] = [a]
        ends[lo:hi] = [b]


class Copies(Sequence[Timeline]):
    """Copies of ``base``'s timelines, each made when first read: a plan that touches a few
    resources copies only those (a re-plan of one order, out of hundreds of resources)."""

    __slots__ = ("base", "made")

    def __init__(self, base: Sequence[Timeline]) -> None:
        self.base = base
        self.made: dict[int, Timeline] = {}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, k: int) -> Timeline:  # type: ignore[override]
        t = self.made.get(k)
        if t is None:
            t = self.made[k] = self.base[k].copy()
        return t


@dataclass(frozen=True)
class Network:
    """Resources' sites and costs, and trucks between sites."""

    site: Sequence[int]  # per resource
    cost: Sequence[int]  # per resource: price per minute (minor units x 60, credit-weighted)
    minutes: Sequence[Sequence[int]]  # truck minutes between sites
    truck_cost: Sequence[Sequence[int]]  # per trip between sites, minor units


@dataclass(frozen=True)
class Step:
    """One step of an order to place: where it may run and how long, and what it waits for."""

    modes: tuple[tuple[int, int], ...]  # (resource, minutes)
    preds: tuple[int, ...] = ()  # positions of earlier steps of the same order
    pausable: bool = False
    # work that is already placed or done outside this placement: (site, minute its output is
    # ready there); the step starts after each plus the truck from that site
    after: tuple[tuple[int, int], ...] = ()


@dataclass
class Placement:
    """An order placed on the live plan: per step (resource, start, end)."""

    slots: list[tuple[int, int, int]]
    delivery: int  # minute the last work reaches the buyer
    cost: int  # machine time at cost plus trucks (the ``Network`` cost scale)
    rule: str = ""
    waits: list[int] = field(default_factory=list)  # per step: start minus ready (queueing)

    def lateness(self, due: int | None) -> int:
        return 0 if due is None else max(0, self.delivery - due)


def _sinks(steps: Sequence[Step]) -> list[int]:
    used = {p for s in steps for p in s.preds}
    return [k for k in range(len(steps)) if k not in used]


def buffer_minutes(steps: Sequence[Step], cv: float, z: float = 2.0) -> int:
    """Slack a plan should keep before the due date: ``z`` standard deviations of the order's
    total work when each step's duration varies by ``cv`` (its fastest mode)."""
    var = sum((cv * min(m for _, m in s.modes)) ** 2 for s in steps if s.modes)
    return math.ceil(z * math.sqrt(var))


class Placer:
    """Places orders on ``timelines`` over ``network`` (see ``place_order``)."""

    def __init__(self, timelines: Sequence[Timeline], network: Network) -> None:
        self.timelines = timelines
        self.network = network

    def _ready(self, k: int, r: int, steps: Sequence[Step], release: int, slots: list) -> int:
        net = self.network
        site = net.site[r]
        t = release
        for p in steps[k].preds:
            pr, _, pe = slots[p]
            arrive = pe + net.minutes[net.site[pr]][site]
            if arrive > t:
                t = arrive
        for s, ready in steps[k].after:
            arrive = ready + net.minutes[s][site]
            if arrive > t:
                t = arrive
        return t

    def _cost(self, k: int, r: int, minutes: int, steps: Sequence[Step], slots: list) -> int:
        net = self.network
        site = net.site[r]
        total = minutes * net.cost[r]
        for p in steps[k].preds:
            total += net.truck_cost[net.site[slots[p][0]]][site]
        for s, _ in steps[k].after:
            total += net.truck_cost[s][site]
        return total

    def forward(
        self,
        release: int,
        steps: Sequence[Step],
        ship_to: int,
        choose: Callable[[int, list[tuple[int, int, int, int, int]]], int],
        pad: Sequence[int] | None = None,
    ) -> Placement | None:
        """Place the steps in order; ``choose(k, options)`` picks one of the step's options
        ``(end, cost, resource, start, ready)``; a last step's end and cost count the truck
        to the buyer. Each placed step is taken from its timeline
        until the pass ends (so two steps of the order never overlap), then given back.
        ``pad[k]`` minutes after a step's end are kept before its successors start (a
        buffer against overruns). None when a step fits nowhere."""
        slots: list[tuple[int, int, int]] = []
        waits: list[int] = []
        taken: list[tuple[int, int, int]] = []
        cost = 0
        net = self.network
        sinks = set(_sinks(steps)) if ship_to >= 0 else set()
        try:
            for k, step in enumerate(steps):
                options = []
                for r, minutes in step.modes:
                    ready = self._ready(k, r, steps, release, slots)
                    s, e = self.timelines[r].place(ready, minutes, step.pausable)
                    if s >= INF:
                        continue
                    c = self._cost(k, r, minutes, steps, slots)
                    if k in sinks:  # judged by arrival at the buyer
                        e += net.minutes[net.site[r]][ship_to]
                        c += net.truck_cost[net.site[r]][ship_to]
                    options.append((e, c, r, s, ready))
                if not options:
                    return None
                e, c, r, s, ready = options[choose(k, options)]
                if k in sinks:
                    e -= net.minutes[net.site[r]][ship_to]
                    c -= net.truck_cost[net.site[r]][ship_to]
                self.timelines[r].take(s, e)
                taken.append((r, s, e))
                padded = e + (pad[k] if pad else 0)
                slots.append((r, s, padded))
                waits.append(s - ready)
                cost += c
        finally:
            for r, s, e in taken:
                self.timelines[r].give(s, e)
        delivery = release
        for k in _sinks(steps):
            r, _, e = slots[k]
            if ship_to < 0:  # no delivery site: done where the last step ends
                delivery = max(delivery, e)
                continue
            delivery = max(delivery, e + net.minutes[net.site[r]][ship_to])
            cost += net.truck_cost[net.site[r]][ship_to]
        real = [(r, s, e - (pad[k] if pad else 0)) for k, (r, s, e) in enumerate(slots)]
        return Placement(real, delivery, cost, waits=waits)

    def fixed(
        self, release: int, steps: Sequence[Step], ship_to: int, resources: Sequence[int]
    ) -> Placement | None:
        """The steps placed on the given resources, each as early as it fits."""

        def choose(k: int, options: list[tuple[int, int, int, int, int]]) -> int:
            for i, o in enumerate(options):
                if o[2] == resources[k]:
                    return i
            raise LookupError

        try:
            return self.forward(release, steps, ship_to, choose)
        except LookupError:
            return None


def _fastest(k: int, options: list[tuple[int, int, int, int, int]]) -> int:
    return min(range(len(options)), key=lambda i: options[i][:3])


def _cheapest(k: int, options: list[tuple[int, int, int, int, int]]) -> int:
    return min(range(len(options)), key=lambda i: (options[i][1], options[i][0], options[i][2]))


RULES = ("fastest", "cheapest", "balanced", "safest")
# a balanced placement tries at most this many cheaper resources per step
BALANCED_TRIES = 8


def place_order(
    placer: Placer,
    release: int,
    steps: Sequence[Step],
    ship_to: int,
    due: int | None,
    rule: str,
    cv: float = 0.15,
) -> Placement | None:
    """The order placed on the live plan by ``rule`` (None if a step fits nowhere):

    - ``fastest``: each step on the resource where it ends first (cost breaks ties);
    - ``cheapest``: each step on the resource where it costs least (machine time and the truck
      that brings its inputs), as early as it fits there, then the whole order at one site or
      single steps moved where that costs less; it may spend all the slack;
    - ``balanced``: lateness at delivery first, then the lack of slack before the due date up
      to a buffer (``buffer_minutes``: grows with the routing's length and its duration
      uncertainty ``cv``), then cost: the fastest plan, then the cheaper plans of ``_improve``
      (one site, or single steps moved) that keep those two no worse;
    - ``safest``: the most slack: the fastest plan when every step is given its buffer
      (``cv``-scaled) before its successors start, so an overrun does not reach the next step.
    """
    if rule == "fastest":
        got = placer.forward(release, steps, ship_to, _fastest)
    elif rule == "cheapest":
        got = placer.forward(release, steps, ship_to, _cheapest)
        if got is not None:
            got = _improve(placer, release, steps, ship_to, got, INF)
    elif rule == "safest":
        pad = [math.ceil(2 * cv * min(m for _, m in s.modes)) if s.modes else 0 for s in steps]
        got = placer.forward(release, steps, ship_to, _fastest, pad=pad)
        if got is not None:
            fast = placer.forward(release, steps, ship_to, _fastest)
            if fast is not None and due is not None and got.lateness(due) > fast.lateness(due):
                got = fast  # buffers that would make it late buy no safety
    elif rule == "balanced":
        got = _balanced(placer, release, steps, ship_to, due, buffer_minutes(steps, cv))
    else:
        raise ValueError(f"unknown placement rule {rule!r}; known: {', '.join(RULES)}")
    if got is not None:
        got.rule = rule
    return got


def _one_site_routes(placer: Placer, steps: Sequence[Step]) -> list[list[int]]:
    """Per site that can do every step: each step on that site's cheapest capable resource
    (the whole order made in one place: no truck between steps)."""
    net = placer.network
    best: dict[int, list[int | None]] = {}
    for k, step in enumerate(steps):
        for r, minutes in step.modes:
            site = net.site[r]
            route = best.setdefault(site, [None] * len(steps))
            here = route[k]
            if here is None or minutes * net.cost[r] < _machine(net, steps[k], here):
                route[k] = r
    return [[r for r in route if r is not None] for route in best.values() if None not in route]


def _machine(net: Network, step: Step, r: int) -> int:
    return dict(step.modes)[r] * net.cost[r]


def _improve(
    placer: Placer,
    release: int,
    steps: Sequence[Step],
    ship_to: int,
    best: Placement,
    limit: int,
) -> Placement:
    """Lower ``best``'s cost without delivering after ``limit``: whole orders moved to one
    site, then step by step the cheapest of up to ``BALANCED_TRIES`` cheaper resources."""
    for route in _one_site_routes(placer, steps):
        got = placer.fixed(release, steps, ship_to, route)
        if got is not None and got.delivery <= limit and got.cost < best.cost:
            best = got
    chosen = [r for r, _, _ in best.slots]
    cost = placer.network.cost
    for k, step in enumerate(steps):
        current = chosen[k]
        by_cost = sorted(step.modes, key=lambda m: (m[1] * cost[m[0]], m[0]))
        cheaper = [r for r, _ in by_cost[: [r for r, _ in by_cost].index(current)]]
        for r in cheaper[:BALANCED_TRIES]:
            trial = [*chosen[:k], r, *chosen[k + 1 :]]
            got = placer.fixed(release, steps, ship_to, trial)
            if got is not None and got.delivery <= limit and got.cost < best.cost:
                best, chosen = got, trial
                break
    return best


def _balanced(
    placer: Placer,
    release: int,
    steps: Sequence[Step],
    ship_to: int,
    due: int | None,
    buffer: int,
) -> Placement | None:
    best = placer.forward(release, steps, ship_to, _fastest)
    if best is None:
        return None
    # keep lateness and the lack of slack (up to the buffer) as the fastest plan has them
    limit = INF if due is None else max(best.delivery, due - buffer)
    return _improve(placer, release, steps, ship_to, best, limit)
