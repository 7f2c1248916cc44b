"""`isolated`: no sharing. Each step of an order is made by the factory that makes it without a
platform (the order's home factory, or that factory's fixed subcontractor for a process it
lacks), on that factory's own resources; no capacity is lent between factories."""

from __future__ import annotations

from sharefab.sim.arrivals import Scenario
from sharefab.sim.params import SimParams
from sharefab.sim.policies import Progress
from sharefab.sim.policies.dispatch import Dispatcher
from sharefab.sim.record import RunRecord
from sharefab.sim.world import World


def run_isolated(
    world: World,
    scenario: Scenario,
    progress: Progress | None = None,
    params: SimParams | None = None,
) -> RunRecord:
    """Play `scenario` with no sharing: a step goes only to the factory that owns it."""
    own = [
        [
            tuple((r, m) for r, m in op_modes if world.resource_org[r] == world.home_ops[k][pos])
            for pos, op_modes in enumerate(order_modes)
        ]
        for k, order_modes in enumerate(world.modes)
    ]
    return Dispatcher(
        world,
        scenario,
        "isolated",
        lambda order, pos: own[order][pos],
        lambda order: "no resource of the factories that make it can take it",
        progress,
    ).run()
