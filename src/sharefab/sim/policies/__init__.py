"""The platform's behaviours the simulator compares: isolated, greedy and sharefab."""

from __future__ import annotations

from collections.abc import Callable

from sharefab.sim.arrivals import Scenario
from sharefab.sim.record import RunRecord
from sharefab.sim.world import World

Policy = Callable[[World, Scenario], RunRecord]

POLICIES = ("isolated", "greedy", "sharefab")


def get_policy(name: str) -> Policy:
    """The policy called `name` (one of `POLICIES`)."""
    if name == "isolated":
        from sharefab.sim.policies.isolated import run_isolated

        return run_isolated
    if name == "greedy":
        from sharefab.sim.policies.greedy import run_greedy

        return run_greedy
    if name == "sharefab":
        from sharefab.sim.policies.sharefab import run_sharefab

        return run_sharefab
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}")
