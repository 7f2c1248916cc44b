"""The platform's behaviours the simulator compares: isolated, greedy and sharefab."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sharefab.sim.arrivals import Scenario
from sharefab.sim.params import SimParams
from sharefab.sim.record import RunRecord
from sharefab.sim.world import World

Progress = Callable[[int], None]
"""Told the simulated minute now and then (once per simulated day at most)."""


class Policy(Protocol):
    """Plays a scenario in a world and records what happened."""

    def __call__(
        self,
        world: World,
        scenario: Scenario,
        progress: Progress | None = None,
        params: SimParams | None = None,
    ) -> RunRecord: ...


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
