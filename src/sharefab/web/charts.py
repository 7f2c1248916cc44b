"""Data for the pages' charts: plain functions from rows to the JSON specs `static/app.js`
draws with ECharts (Gantt bars, heat maps, bars, donuts, gauges). No queries here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sharefab.kit.timespan import Span, clip, minutes, subtract
from sharefab.web.i18n import DISPLAY_TZ

STATUS_COLORS = {
    "tentative": "#9aa5b1",
    "committed": "#1d6fb8",
    "in_progress": "#e9a23b",
    "done": "#2a9d8f",
    "window": "#e3f0e8",
}


def ms(moment: datetime) -> int:
    """Milliseconds since the epoch (what the chart's time axis takes)."""
    return int(moment.timestamp() * 1000)


def tz_offset_minutes(moment: datetime) -> int:
    """The display time zone's offset from UTC at `moment` (for the calendar's form inputs)."""
    offset = moment.astimezone(DISPLAY_TZ).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


@dataclass
class Bar:
    """One bar of a Gantt chart: a booking, or a capacity window drawn behind the bookings."""

    row: int
    start: datetime
    end: datetime
    label: str = ""
    group: str = "committed"
    tooltip: str = ""
    id: int = 0
    critical: bool = False
    window: bool = False
    color_index: int = 0


def gantt(
    rows: Sequence[str],
    bars: Iterable[Bar],
    *,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    now_label: str = "now",
    colors: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Gantt spec: one row per label, bars by time (windows first, so bookings draw on top)."""
    ordered = sorted(bars, key=lambda b: (not b.window, b.start))
    return {
        "rows": list(rows),
        "items": [
            {
                "row": b.row,
                "start": ms(b.start),
                "end": ms(b.end),
                "label": b.label,
                "group": b.group,
                "tooltip": b.tooltip,
                "id": b.id,
                "critical": b.critical,
                "window": b.window,
                "colorIndex": b.color_index,
            }
            for b in ordered
        ],
        "min": ms(start),
        "max": ms(end),
        "now": ms(now) if now else None,
        "nowLabel": now_label,
        "colors": colors if colors is not None else STATUS_COLORS,
        **extra,
    }


def bar(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    stacked: bool = False,
    horizontal: bool = False,
    unit: str = "",
    labels: bool = False,
    colors: Sequence[str] | None = None,
    max_value: float | None = None,
) -> dict[str, Any]:
    """A bar chart spec (stacked or grouped, vertical or horizontal)."""
    spec: dict[str, Any] = {
        "categories": list(categories),
        "series": [{"name": name, "data": [round(v, 2) for v in data]} for name, data in series],
        "stacked": stacked,
        "horizontal": horizontal,
        "unit": unit,
        "labels": labels,
    }
    if colors:
        spec["colors"] = list(colors)
    if max_value is not None:
        spec["max"] = max_value
    return spec


def donut(
    items: Sequence[tuple[str, float]], colors: Sequence[str] | None = None
) -> dict[str, Any]:
    """A donut chart spec."""
    spec: dict[str, Any] = {"data": [{"name": n, "value": v} for n, v in items]}
    if colors:
        spec["colors"] = list(colors)
    return spec


def gauge(value: float, label: str = "", max_value: float = 1000) -> dict[str, Any]:
    """A gauge spec (the credit score)."""
    return {"value": value, "label": label, "max": max_value}


# --- capacity arithmetic for the operator's charts ----------------------------------------


def free_spans(offered: list[Span], booked: list[Span], span: Span) -> list[Span]:
    """Offered time inside `span` that no booking holds."""
    inside = [c for w in offered if (c := clip(w, span))]
    return [s for s in subtract(inside, booked) if s]


def idle_hours_by_group(
    offered: dict[int, list[Span]],
    booked: dict[int, list[Span]],
    groups: dict[int, tuple[list[str], str]],
    span: Span,
) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """Idle hours per capability family (categories) and region (series).

    `groups` maps a resource to (its capability families, its region); a resource offering
    several families counts its idle time in each.
    """
    hours: dict[tuple[str, str], float] = defaultdict(float)
    for rid, spans in offered.items():
        families, region = groups.get(rid, ([], ""))
        idle = sum(minutes(s) for s in free_spans(spans, booked.get(rid, []), span)) / 60
        for family in families:
            hours[(family, region or "–")] += idle
    per_family: dict[str, float] = defaultdict(float)
    for (family, _), value in hours.items():
        per_family[family] += value
    families = sorted(per_family, key=lambda f: -per_family[f])
    regions = sorted({r for _, r in hours})
    return families, [(r, [hours.get((f, r), 0.0) for f in families]) for r in regions]


def daily_utilisation(
    offered: list[Span], booked: list[Span], days: Sequence[datetime]
) -> list[float | None]:
    """Per day: booked minutes over offered minutes (None when nothing was offered)."""
    out: list[float | None] = []
    for day in days:
        span = (day, day + timedelta(days=1))
        offer = sum(minutes(c) for w in offered if (c := clip(w, span)))
        used = sum(minutes(c) for b in booked if (c := clip(b, span)))
        out.append(min(1.0, used / offer) if offer else (1.0 if used else None))
    return out


def heatmap(
    rows: Sequence[str], days: Sequence[str], values: Sequence[Sequence[float | None]]
) -> dict[str, Any]:
    """A heat map spec: resource rows by day columns, values in [0, 1]."""
    data = [
        [x, y, round(v, 3)]
        for y, row in enumerate(values)
        for x, v in enumerate(row)
        if v is not None
    ]
    return {"x": list(days), "y": list(rows), "data": data}
