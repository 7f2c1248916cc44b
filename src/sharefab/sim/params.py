"""Tunables of the simulated world: arrivals, breakdowns and duration noise."""

from __future__ import annotations

from dataclasses import dataclass, field

# Mean calendar hours between failures and mean hours to repair, per kind of resource.
DEFAULT_MTBF_HOURS: dict[str, float] = {
    "machine": 240.0,
    "line": 180.0,
    "tool": 400.0,
    "instrument": 600.0,
    "vehicle": 300.0,
    "service_team": 2000.0,
}
DEFAULT_MTTR_HOURS: dict[str, float] = {
    "machine": 4.0,
    "line": 6.0,
    "tool": 2.0,
    "instrument": 3.0,
    "vehicle": 3.0,
    "service_team": 1.0,
}


@dataclass(frozen=True)
class SimParams:
    """What the random world looks like (the same for every policy)."""

    # Weekly seasonality: relative order intake per weekday (Monday first) and per hour.
    weekday_weights: tuple[float, ...] = (1.3, 1.15, 1.1, 1.0, 1.0, 0.35, 0.1)
    business_hours: tuple[int, int] = (8, 18)
    off_hours_weight: float = 0.15
    # Bursts: per buyer, episodes of intense ordering (a new programme, a recall).
    bursts_per_week: float = 0.25
    burst_days: tuple[float, float] = (1.0, 3.0)
    burst_factor: float = 4.0
    # Operations take their planned time times a lognormal factor with this sigma.
    duration_sigma: float = 0.15
    # Breakdowns: exponential calendar times between failures, lognormal repairs.
    mtbf_hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MTBF_HOURS))
    mttr_hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MTTR_HOURS))
    repair_sigma: float = 0.6
    # Which of the platform's quotes a buyer accepts (the `sharefab` policy): balanced,
    # fastest, cheapest or safest; the first quote when that option was not offered.
    buyer_picks: str = "balanced"
    # The `sharefab` policy runs the platform's re-optimisation every this many simulated
    # minutes (0: never; disruptions still replan what they touch).
    reoptimise_every: int = 120
