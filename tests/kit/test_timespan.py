"""Half-open span arithmetic used by capacity search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sharefab.kit.geo import haversine_km
from sharefab.kit.timespan import clip, overlaps, subtract

T0 = datetime(2027, 1, 4, tzinfo=UTC)


def h(x: float) -> datetime:
    """T0 plus x hours."""
    return T0 + timedelta(hours=x)


def test_subtract_cuts_holes() -> None:
    """8–16 minus 10–11 and 15–17 leaves 8–10 and 11–15."""
    assert subtract([(h(8), h(16))], [(h(10), h(11)), (h(15), h(17))]) == [
        (h(8), h(10)),
        (h(11), h(15)),
    ]


def test_touching_spans_do_not_overlap() -> None:
    """Half-open spans that touch share no instant."""
    assert not overlaps((h(8), h(10)), (h(10), h(12)))
    assert clip((h(8), h(10)), (h(10), h(12))) is None


spans = st.tuples(st.integers(0, 100), st.integers(1, 20)).map(lambda t: (h(t[0]), h(t[0] + t[1])))


def _hours(items: list) -> set[int]:
    """The whole hours (since T0) the spans cover."""
    out: set[int] = set()
    for a, b in items:
        out |= set(
            range(int((a - T0).total_seconds() // 3600), int((b - T0).total_seconds() // 3600))
        )
    return out


@given(st.lists(spans, max_size=5), st.lists(spans, max_size=5))
def test_subtract_is_set_difference(base: list, holes: list) -> None:
    """What is left covers exactly the hours of the spans minus the hours of the holes."""
    windows = subtract(base, [])
    windows = [w for w in windows if not any(overlaps(w, o) for o in windows if o is not w)]
    left = subtract(windows, holes)
    assert _hours(left) == _hours(windows) - _hours(holes)
    assert all(a < b for a, b in left)


def test_haversine_suzhou_kunshan() -> None:
    """Suzhou Industrial Park to Kunshan is about 25 km as the crow flies."""
    assert 20 < haversine_km(31.32, 120.72, 31.38, 120.98) < 30
