"""The platform's behaviours the simulator compares: isolated, greedy, greedy-edd and sharefab,
and the clairvoyant reference (the cluster planner told the whole scenario in advance)."""

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


POLICIES = ("isolated", "greedy", "greedy-edd", "sharefab")
"""The online policies, in the order `--compare` runs and reports them."""

REFERENCES = ("clairvoyant",)
"""Not a policy a platform could run: the limit an online policy is measured against."""

KNOWN = POLICIES + REFERENCES


def get_policy(name: str) -> Policy:
    """The policy called `name` (one of `KNOWN`)."""
    if name == "isolated":
        from sharefab.sim.policies.isolated import run_isolated

        return run_isolated
    if name == "greedy":
        from sharefab.sim.policies.greedy import run_greedy

        return run_greedy
    if name == "greedy-edd":
        from sharefab.sim.policies.greedy_edd import run_greedy_edd

        return run_greedy_edd
    if name == "sharefab":
        from sharefab.sim.policies.sharefab import run_sharefab

        return run_sharefab
    if name == "clairvoyant":
        from sharefab.sim.policies.clairvoyant import run_clairvoyant

        return run_clairvoyant
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(KNOWN)}")


def compared() -> tuple[str, ...]:
    """What `--compare` runs: every online policy, and the clairvoyant reference when its
    module imports."""
    try:
        get_policy("clairvoyant")
    except ImportError:
        return POLICIES
    return KNOWN
