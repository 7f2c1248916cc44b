"""The calibrated world: every order can be on time alone, and the load is what was asked."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest

from sharefab.gen import SIZES, generate_cluster
from sharefab.gen.calibrate import cluster_loads
from sharefab.sim.arrivals import make_scenario
from sharefab.sim.world import World, build_world, cluster_for

TINY = dataclasses.replace(SIZES["S"], factories=12, resources=60, orders=80)


def _walk(
    windows: list[tuple[int, int]], t: int, minutes: int, pausable: bool
) -> tuple[int, int] | None:
    """Minute by minute: the first (start, end) from `t` of `minutes` of work inside the
    windows (in one window unless `pausable`). Written apart from `gen.flow` on purpose."""
    open_at: set[int] = set()
    for a, b in windows:
        open_at.update(range(a, b))
    horizon = max((b for _, b in windows), default=0)
    for start in range(t, horizon):
        if start not in open_at:
            continue
        done, m = 0, start
        while done < minutes and m < horizon:
            if m in open_at:
                done += 1
            elif not pausable:
                break
            m += 1
        if done == minutes:
            return start, m
    return None


def _earliest_delivery(world: World, order: int, release: int) -> int | None:
    """The least delivery over every assignment of resources (orders of up to 64 of them),
    each step as early as it goes after its inputs and the truck; None if none fits."""
    modes = world.modes[order]
    if math.prod(len(m) for m in modes) > 128:
        return -1  # too many assignments for this check
    best = None
    for choice in itertools.product(*modes):
        placed: list[tuple[int, int, int]] = []
        for k, (r, minutes) in enumerate(choice):
            site = world.resource_site[r]
            t = release
            for p in world.preds[order][k]:
                pr, _, pe = placed[p]
                t = max(t, pe + world.site_minutes[world.resource_site[pr]][site])
            spans = list(world.windows[r])
            # the order's own steps already on r are not free
            taken = [(s, e) for r2, s, e in placed if r2 == r]
            while True:
                got = _walk(spans, t, minutes, world.pausable[order][k])
                clash = got and next((e for s, e in taken if s < got[1] and got[0] < e), None)
                if not clash:
                    break
                t = clash
            if got is None:
                break
            placed.append((r, *got))
        else:
            sinks = set(range(len(modes))) - {p for ps in world.preds[order] for p in ps}
            dest = world.ship_to[order]
            d = max(
                placed[k][2] + world.site_minutes[world.resource_site[placed[k][0]]][dest]
                for k in sinks
            )
            best = d if best is None else min(best, d)
    return best


@pytest.fixture(scope="module")
def world() -> World:
    """A small calibrated cluster over one week."""
    return build_world(cluster_for(TINY, 1, 3), 1)


def test_every_order_can_be_on_time_alone(world: World) -> None:
    """For every arrival, an exhaustive minute-by-minute search over resource assignments (not
    the generator's own flow time) finds a schedule on empty machines delivered by the due
    date (orders with more than 128 assignments are skipped)."""
    checked = 0
    for a in make_scenario(world, 1).arrivals:
        got = _earliest_delivery(world, a.order, a.at)
        if got == -1:
            continue
        checked += 1
        assert got is not None, f"order {a.order} fits no window"
        assert got <= a.due, f"order {a.order}: delivered at {got} at best, due {a.due}"
        assert a.feasible_alone
    assert checked >= 15


@pytest.mark.parametrize("load", [0.5, 0.85])
def test_the_most_loaded_family_gets_the_load_asked(load: float) -> None:
    """A generated cluster's most loaded capability family is within 5 % of `load`, and no
    capability is loaded above it by more than 10 % (supply was balanced on the order mix,
    the volume taken is a prefix of it)."""
    spec = dataclasses.replace(SIZES["M"], load=load, release_days=14, horizon_days=28)
    loads = cluster_loads(generate_cluster(spec, 2))
    top = max(loads.family.values())
    assert abs(top - load) <= 0.05 * load
    assert max(loads.capability.values()) <= top * 1.10


def test_same_seed_same_world() -> None:
    """The same spec and seed give the same calibrated cluster."""
    spec = dataclasses.replace(TINY, load=0.7)
    assert generate_cluster(spec, 4) == generate_cluster(spec, 4)
