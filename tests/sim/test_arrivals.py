"""Arrivals, breakdowns and duration noise: the same for every policy, fixed by the seed."""

from __future__ import annotations

import dataclasses

from sharefab.gen import SIZES
from sharefab.sim.arrivals import make_scenario
from sharefab.sim.world import MINUTES_PER_DAY, World, build_world, cluster_for


def test_same_seed_same_scenario(world: World) -> None:
    """Two draws with one seed are identical; another seed moves the arrivals."""
    assert make_scenario(world, 3) == make_scenario(world, 3)
    assert make_scenario(world, 3).arrivals != make_scenario(world, 4).arrivals


def test_every_order_arrives_once_inside_the_period(world: World) -> None:
    """Each order of the cluster arrives exactly once, before the end, due after it arrives."""
    scenario = make_scenario(world, 1)
    assert sorted(a.order for a in scenario.arrivals) == list(range(len(world.cluster.orders)))
    assert all(0 <= a.at < world.end and a.due > a.at for a in scenario.arrivals)
    times = [a.at for a in scenario.arrivals]
    assert times == sorted(times)


def test_weekdays_are_busier_than_weekends() -> None:
    """Weekly seasonality: a Monday-to-Friday day gets more orders than a weekend day."""
    spec = dataclasses.replace(SIZES["S"], orders=400)
    w = build_world(cluster_for(spec, 2, 1), 2)
    days = [a.at // MINUTES_PER_DAY % 7 for a in make_scenario(w, 1).arrivals]
    weekday = sum(d < 5 for d in days) / 5
    weekend = sum(d >= 5 for d in days) / 2
    assert weekday > 2 * weekend


def test_breakdowns_do_not_overlap_on_a_resource(world: World) -> None:
    """A resource fails again only after its repair."""
    last: dict[int, int] = {}
    for b in sorted(make_scenario(world, 2).breakdowns, key=lambda b: (b.resource, b.at)):
        assert b.at >= last.get(b.resource, 0)
        last[b.resource] = b.at + b.repair
