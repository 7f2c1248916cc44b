"""A tiny cluster simulated for one week, shared by the simulator's tests."""

from __future__ import annotations

import dataclasses

import pytest

from sharefab.gen import SIZES
from sharefab.sim.world import World, build_world, cluster_for

TINY = dataclasses.replace(SIZES["S"], factories=10, resources=50, orders=60)


@pytest.fixture(scope="session")
def world() -> World:
    """Ten factories, fifty resources, fifteen orders arriving over one week."""
    return build_world(cluster_for(TINY, 1, 5), 1)
