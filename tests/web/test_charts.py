"""The arithmetic behind the dashboard's charts: idle hours and daily utilisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sharefab.web import charts

T0 = datetime(2027, 3, 1, tzinfo=UTC)


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_idle_hours_by_family_and_region() -> None:
    """Offered minus booked time, counted in every family a resource offers, largest first."""
    offered = {1: [(_h(8), _h(16))], 2: [(_h(8), _h(12))]}
    booked = {1: [(_h(9), _h(11))]}
    groups = {1: (["machining", "inspection"], "Kunshan"), 2: (["machining"], "Suzhou")}
    families, series = charts.idle_hours_by_group(offered, booked, groups, (T0, _h(24)))
    # resource 1: 8 h offered - 2 h booked = 6 h, in machining and inspection;
    # resource 2: 4 h in machining. Machining 10 h > inspection 6 h.
    assert families == ["machining", "inspection"]
    assert dict(series) == {"Kunshan": [6.0, 6.0], "Suzhou": [4.0, 0.0]}


def test_idle_hours_are_clipped_to_the_horizon() -> None:
    """Only the part of a window inside the horizon counts."""
    families, series = charts.idle_hours_by_group(
        {1: [(_h(-5), _h(3))]}, {}, {1: (["casting"], "")}, (T0, _h(24))
    )
    assert families == ["casting"]
    assert dict(series) == {"–": [3.0]}


def test_daily_utilisation() -> None:
    """Booked over offered per day; a day with nothing offered has no value."""
    offered = [(_h(8), _h(16)), (_h(24 + 8), _h(24 + 12))]
    booked = [(_h(8), _h(12)), (_h(24 + 8), _h(24 + 12))]
    days = [T0, _h(24), _h(48)]
    assert charts.daily_utilisation(offered, booked, days) == [0.5, 1.0, None]


def test_gantt_draws_windows_under_bookings() -> None:
    """Windows come first in the spec, so bookings are drawn on top of them."""
    spec = charts.gantt(
        ["Mill"],
        [
            charts.Bar(row=0, start=_h(9), end=_h(10), label="PO-1"),
            charts.Bar(row=0, start=_h(8), end=_h(16), window=True),
        ],
        start=T0,
        end=_h(24),
    )
    assert [item["window"] for item in spec["items"]] == [True, False]
    assert spec["items"][1]["start"] == charts.ms(_h(9))
