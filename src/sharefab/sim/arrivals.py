"""The random part of a run: order arrivals, breakdowns and duration noise for one seed.

Each purpose draws from its own numpy PCG64 stream seeded from ``(seed, purpose, index)``, so
every policy sees the same arrivals, the same breakdowns of the same machines and the same
duration factor for the same operation (common random numbers): differences between policies
come from the policies, not from luck.

Arrivals: each buyer's orders (the generated cluster's orders of that buyer) arrive as a
non-homogeneous Poisson process over the weeks, with weekly seasonality (busy Mondays, quiet
Sundays, office hours) and bursts (a few days of intense ordering). Each order keeps the lead
time the generator gave it, counted from its arrival: in a calibrated world its tightness
times its flow time on empty machines from the moment it arrives (an order arriving on a
Friday evening waits for Monday's shifts), so every order can be on time alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sharefab.gen.flow import due_from_flow
from sharefab.sim.params import SimParams
from sharefab.sim.world import MINUTES_PER_DAY, World

ARRIVALS, BREAKDOWNS, DURATIONS = 1, 2, 3


def stream(seed: int, purpose: int, index: int = 0) -> np.random.Generator:
    """The random stream of one purpose (and one buyer, resource or order) for `seed`."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, purpose, index])))


@dataclass(frozen=True)
class Arrival:
    """An order entering the cluster."""

    order: int  # index into cluster.orders
    at: int  # minute
    due: int  # minute
    # whether the order can be delivered by `due` on empty machines (always, in a calibrated
    # world; a user's cluster may hold orders that cannot)
    feasible_alone: bool = True


@dataclass(frozen=True)
class Breakdown:
    """A resource fails at `at` and is repaired `repair` minutes later."""

    resource: int
    at: int
    repair: int


@dataclass(frozen=True)
class Scenario:
    """One seed's draws, shared by every policy."""

    seed: int
    arrivals: tuple[Arrival, ...]  # by time
    breakdowns: tuple[Breakdown, ...]  # by time
    duration_factor: tuple[tuple[float, ...], ...]  # per order, per operation position

    def actual_minutes(self, order: int, position: int, planned: int) -> int:
        """How long an operation really takes, given its planned minutes."""
        return max(1, round(planned * self.duration_factor[order][position]))


def intake_profile(world: World, params: SimParams) -> np.ndarray:
    """Relative intake per hour of the simulated period (weekday and office-hours shape)."""
    n_hours = world.end // 60
    hours = np.arange(n_hours)
    day = (hours // 24) % 7
    hour = hours % 24
    weekday = np.asarray(params.weekday_weights, dtype=float)[day]
    lo, hi = params.business_hours
    office = np.where((hour >= lo) & (hour < hi), 1.0, params.off_hours_weight)
    return weekday * office


def arrival(world: World, order: int, at: int) -> Arrival:
    """Order `order` arriving at minute `at`: a calibrated order (``GenOrder.tightness``) is due
    its tightness times its flow time on empty machines after `at` (``gen.flow``); any other
    keeps the lead time it was generated with (due minus release)."""
    o = world.cluster.orders[order]
    alone = world.delivery_alone(order, at)
    if o.tightness > 0 and alone is not None:
        due = due_from_flow(at, alone, o.tightness, o.rush)
    else:
        due = at + max(60, o.due_min - o.release_min)
    return Arrival(order, at, due, alone is not None and alone <= due)


def draw_arrivals(world: World, seed: int, params: SimParams) -> list[Arrival]:
    """Arrival times of every order of the cluster, buyer by buyer."""
    base = intake_profile(world, params)
    n_hours = len(base)
    by_buyer: dict[str, list[int]] = {}
    for k, o in enumerate(world.cluster.orders):
        by_buyer.setdefault(o.buyer_org_key, []).append(k)
    out: list[Arrival] = []
    weeks = world.end / (7 * MINUTES_PER_DAY)
    for key in sorted(by_buyer):
        rng = stream(seed, ARRIVALS, world.org_index[key])
        rate = base.copy()
        for _ in range(int(rng.poisson(params.bursts_per_week * weeks))):
            start = int(rng.integers(0, n_hours))
            length = round(rng.uniform(*params.burst_days) * 24)
            rate[start : start + length] *= params.burst_factor
        cum = np.cumsum(rate)
        orders = by_buyer[key]
        u = np.sort(rng.random(len(orders))) * cum[-1]
        hour = np.searchsorted(cum, u, side="right")
        minute = np.minimum(hour, n_hours - 1) * 60 + rng.integers(0, 60, len(orders))
        for k, at in zip(orders, minute.tolist(), strict=True):
            out.append(arrival(world, k, int(at)))
    out.sort(key=lambda a: (a.at, a.order))
    return out


def draw_breakdowns(world: World, seed: int, params: SimParams) -> list[Breakdown]:
    """Failures of every resource over the period: exponential gaps by kind, lognormal repairs."""
    out: list[Breakdown] = []
    for r, res in enumerate(world.cluster.resources):
        mtbf = params.mtbf_hours.get(res.kind, 0.0) * 60
        mttr = params.mttr_hours.get(res.kind, 0.0) * 60
        if mtbf <= 0 or mttr <= 0:
            continue
        rng = stream(seed, BREAKDOWNS, r)
        t = 0.0
        sigma = params.repair_sigma
        while True:
            t += rng.exponential(mtbf)
            if t >= world.end:
                break
            repair = max(15, round(mttr * math.exp(sigma * rng.standard_normal() - sigma**2 / 2)))
            out.append(Breakdown(r, int(t), int(repair)))
            t += repair
    out.sort(key=lambda b: (b.at, b.resource))
    return out


def draw_durations(world: World, seed: int, params: SimParams) -> list[tuple[float, ...]]:
    """A lognormal factor (mean 1) per operation of every order."""
    sigma = params.duration_sigma
    out = []
    for k, o in enumerate(world.cluster.orders):
        rng = stream(seed, DURATIONS, k)
        z = rng.standard_normal(len(o.operations))
        out.append(tuple(float(x) for x in np.exp(sigma * z - sigma**2 / 2)))
    return out


def make_scenario(world: World, seed: int, params: SimParams | None = None) -> Scenario:
    """Every random draw of one seed."""
    params = params or SimParams()
    return Scenario(
        seed=seed,
        arrivals=tuple(draw_arrivals(world, seed, params)),
        breakdowns=tuple(draw_breakdowns(world, seed, params)),
        duration_factor=tuple(draw_durations(world, seed, params)),
    )
