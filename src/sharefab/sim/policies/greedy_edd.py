"""`greedy-edd`: orders are shared as in `greedy` (each step, when it becomes ready, goes to the
capable resource anywhere in the cluster expected to finish it first), but every resource
serves its queue by due date: the orders that can still make their due date first, earliest
due date first, then the hopeless ones (that cannot be delivered by their due date even if the
step started now and every later step ran on its fastest resource back to back, the final
truck included), earliest due date first. The projection that tells where a step finishes
first plays each queue forward by the same rule (``dispatch``, discipline ``edd``)."""

from __future__ import annotations

from sharefab.sim.arrivals import Scenario
from sharefab.sim.params import SimParams
from sharefab.sim.policies import Progress
from sharefab.sim.policies.dispatch import Dispatcher
from sharefab.sim.record import RunRecord
from sharefab.sim.world import World


def run_greedy_edd(
    world: World,
    scenario: Scenario,
    progress: Progress | None = None,
    params: SimParams | None = None,
    discipline: str = "edd",
) -> RunRecord:
    """Play `scenario` with every capable resource of the cluster a candidate and each queue
    served by `discipline` (``edd``; ``slack`` and ``cr`` are the variants it was measured
    against)."""
    return Dispatcher(
        world,
        scenario,
        "greedy-edd" if discipline == "edd" else f"greedy-{discipline}",
        lambda order, pos: world.modes[order][pos],
        lambda order: "",
        progress,
        discipline=discipline,
    ).run()
