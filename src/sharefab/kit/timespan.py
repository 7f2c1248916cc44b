"""Half-open time spans `[start, end)` and the arithmetic capacity search needs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

Span = tuple[datetime, datetime]


def overlaps(a: Span, b: Span) -> bool:
    """Whether two half-open spans share any instant."""
    return a[0] < b[1] and b[0] < a[1]


def clip(span: Span, bounds: Span) -> Span | None:
    """The part of `span` inside `bounds`, or None."""
    start, end = max(span[0], bounds[0]), min(span[1], bounds[1])
    return (start, end) if start < end else None


def subtract(spans: Iterable[Span], holes: Iterable[Span]) -> list[Span]:
    """`spans` with every `holes` span cut out; both may be unsorted and may overlap."""
    result: list[Span] = []
    sorted_holes = sorted(holes)
    for start, end in sorted(spans):
        cursor = start
        for h_start, h_end in sorted_holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                result.append((cursor, h_start))
            cursor = max(cursor, h_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def minutes(span: Span) -> int:
    """Whole minutes in a span."""
    return int((span[1] - span[0]).total_seconds() // 60)


def offered(span: Span, windows: Iterable[Span], pausable: bool = False) -> bool:
    """Whether `span` is time a resource offers: inside one window (touching windows count as
    one), or, for work that may pause at a shift end, starting and ending inside windows
    (the gaps between are the resource's own off-shift time)."""
    merged: list[list[datetime]] = []
    for s, e in sorted(windows):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    start, end = span
    if not pausable:
        return any(s <= start and end <= e for s, e in merged)
    starts_in = any(s <= start < e for s, e in merged)
    ends_in = any(s < end <= e for s, e in merged)
    return starts_in and ends_in
