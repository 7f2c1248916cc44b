"""Free time of one resource: whole-window fits and interruptible spans over off-shift gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharefab.optimize.cluster.timeline import INF, FreeTimeline, window_time

SHIFTS = [(0, 480), (1440, 1920), (2880, 3360)]  # three 8-hour shifts, a day apart


def test_span_pauses_at_the_shift_end_and_resumes_next_shift() -> None:
    """A 10-hour interruptible job started at 06:00 works 2 h, pauses overnight, ends next day."""
    tl = FreeTimeline(SHIFTS)
    assert tl.span(360, 600) == (360, 1440 + 480)
    assert tl.earliest(360, 600) == INF  # without pausing it fits no shift


def test_span_does_not_run_through_a_booking() -> None:
    """Another job booked at the start of the next shift breaks the chain: start after it."""
    tl = FreeTimeline(SHIFTS)
    tl.book(1440, 1500)
    # from 360: 120 min today, then the next shift starts with a booking -> cannot go on;
    # the earliest chain starts at 1500: 420 min, pause, 180 min of the third shift
    assert tl.span(360, 600) == (1500, 2880 + 180)


def test_booking_a_span_takes_its_windows_and_leaves_the_rest() -> None:
    """Booking [360, 1920) removes the end of shift 1 and all of shift 2, nothing else."""
    tl = FreeTimeline(SHIFTS)
    tl.book(360, 1920)
    assert list(zip(tl.starts, tl.ends, strict=True)) == [(0, 360), (2880, 3360)]
    assert window_time(SHIFTS, 360, 1920) == 600


def test_booking_across_another_booking_is_refused() -> None:
    """A span that would run over someone else's booking is an error, not a silent overlap."""
    tl = FreeTimeline(SHIFTS)
    tl.book(1440, 1500)
    with pytest.raises(ValueError, match="not inside free time"):
        tl.book(360, 1920)


@settings(max_examples=200, deadline=None)
@given(
    bookings=st.lists(st.tuples(st.integers(0, 3300), st.integers(1, 200)), max_size=6),
    t=st.integers(0, 3000),
    d=st.integers(1, 900),
)
def test_span_is_the_earliest_feasible_end(bookings: list[tuple[int, int]], t: int, d: int) -> None:
    """``span`` gives exactly ``d`` minutes of window time with no booking inside, and no start
    minute from ``t`` on ends earlier (every start minute checked)."""
    tl = FreeTimeline(SHIFTS)
    taken: list[tuple[int, int]] = []
    for s, length in bookings:
        if tl.earliest(s, length) == s:
            tl.book(s, s + length)
            taken.append((s, s + length))

    horizon = 3360
    window = np.zeros(horizon, dtype=np.int64)
    booked = np.zeros(horizon, dtype=np.int64)
    for a, b in SHIFTS:
        window[a:b] = 1
    for a, b in taken:
        booked[a:b] = 1
    cw = np.concatenate(([0], np.cumsum(window)))  # window minutes before x
    cb = np.concatenate(([0], np.cumsum(booked)))
    starts = np.arange(t, horizon)
    ends = np.searchsorted(cw, cw[starts] + d)  # first x with d window minutes in [s, x)
    ok = (window[starts] == 1) & (ends <= horizon)
    ok &= cb[np.minimum(ends, horizon)] - cb[starts] == 0  # nobody else's minute on the way
    start, end = tl.span(t, d)
    best = int(ends[ok].min()) if ok.any() else INF
    assert end == best
    if end < INF:
        assert window_time(SHIFTS, start, end) == d
        assert not any(a < end and start < b for a, b in taken)
