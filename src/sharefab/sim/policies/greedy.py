"""`greedy`: orders are shared, first come first served to the capable resource anywhere in the
cluster that is expected to finish the operation first."""

from __future__ import annotations

from sharefab.sim.arrivals import Scenario
from sharefab.sim.params import SimParams
from sharefab.sim.policies import Progress
from sharefab.sim.policies.dispatch import Dispatcher
from sharefab.sim.record import RunRecord
from sharefab.sim.world import World


def run_greedy(
    world: World,
    scenario: Scenario,
    progress: Progress | None = None,
    params: SimParams | None = None,
) -> RunRecord:
    """Play `scenario` with every capable resource of the cluster a candidate."""
    return Dispatcher(
        world,
        scenario,
        "greedy",
        lambda order, pos: world.modes[order][pos],
        lambda order: "",
        progress,
    ).run()
