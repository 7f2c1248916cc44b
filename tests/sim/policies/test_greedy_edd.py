"""greedy-edd: due dates first, hopeless orders last, on every machine; conservation, same seed
same figures, and a projection that follows the same discipline."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sharefab.sim.arrivals import Scenario, arrival, make_scenario
from sharefab.sim.metrics import run_metrics
from sharefab.sim.policies import get_policy
from sharefab.sim.policies.dispatch import Dispatcher, _Task
from sharefab.sim.policies.greedy_edd import run_greedy_edd
from sharefab.sim.record import Execution, RunRecord
from sharefab.sim.runner import simulate
from sharefab.sim.world import World

from .test_dispatch import check_conservation


def rush_hour(world: World, seed: int) -> Scenario:
    """Seed `seed`'s draws, but every order arrives at 08:00 on the first Monday (due dates
    computed for that moment): machines have queues to choose from."""
    scenario = make_scenario(world, seed)
    return dataclasses.replace(
        scenario, arrivals=tuple(arrival(world, a.order, 480) for a in scenario.arrivals)
    )


def after_step(world: World, order: int, position: int, site: int) -> int:
    """Minutes from the end of a step (made at `site`) to delivery, at the very least: every
    later step on its fastest resource back to back, then the truck to the buyer."""
    later = world.succs[order][position]
    if not later:
        return world.site_minutes[site][world.ship_to[order]]
    return max(
        min(
            m + after_step(world, order, s, world.resource_site[r])
            for r, m in world.modes[order][s]
        )
        for s in later
    )


def priority_inversions(world: World, scenario: Scenario, record: RunRecord) -> tuple[int, int]:
    """(moments a machine started a step while another step of a different standing, hopeless
    or still feasible, waited and fitted there; of those, how often the started one was
    hopeless and the waiting one still feasible), from the run record alone."""
    due = {a.order: a.due for a in scenario.arrivals}
    came = {a.order: a.at for a in scenario.arrivals}
    step = {(e.order, e.position): e for e in record.executions}

    def ready(e: Execution) -> int:
        preds = [step[(e.order, p)] for p in world.preds[e.order][e.position]]
        here = world.resource_site[e.resource]
        return max(
            [came[e.order]]
            + [p.end + world.site_minutes[world.resource_site[p.resource]][here] for p in preds]
        )

    def hopeless(e: Execution, t: int) -> bool:
        site = world.resource_site[e.resource]
        return t + e.planned + after_step(world, e.order, e.position, site) > due[e.order]

    contested = inverted = 0
    for a in record.executions:
        window = world.window_at(a.resource, a.start)
        assert window is not None
        for b in record.executions:
            if b.resource != a.resource or b.start <= a.start or ready(b) > a.start:
                continue  # not waiting on that machine when `a` started
            if not world.pausable[b.order][b.position] and a.start + b.planned > window[1]:
                continue  # could not start then: its planned time did not fit the window
            if hopeless(a, a.start) != hopeless(b, a.start):
                contested += 1
                inverted += hopeless(a, a.start) and not hopeless(b, a.start)
    return contested, inverted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_still_feasible_order_is_never_served_after_a_hopeless_one(
    world: World, seed: int
) -> None:
    """On every machine, when a hopeless step and a still-feasible one both waited, the
    still-feasible one started first (feasibility recomputed here from the record)."""
    scenario = rush_hour(world, seed)
    record = run_greedy_edd(world, scenario)
    contested, inverted = priority_inversions(world, scenario, record)
    assert contested > 0  # the machines did have that choice to make
    assert inverted == 0


def test_first_come_first_served_does_serve_hopeless_orders_first(world: World) -> None:
    """The check above can fail: greedy (first come, first served) starts hopeless steps while
    still-feasible ones wait, on the same rush-hour scenario."""
    inverted = sum(
        priority_inversions(world, scenario, get_policy("greedy")(world, scenario))[1]
        for scenario in (rush_hour(world, seed) for seed in (1, 2, 3))
    )
    assert inverted > 0


def test_no_order_is_lost(world: World) -> None:
    """Every arrived order is completed, in progress, waiting or rejected with a reason, also
    in a rush hour."""
    for scenario in (make_scenario(world, 1), rush_hour(world, 1)):
        record = get_policy("greedy-edd")(world, scenario)
        check_conservation(record, world, sum(a.at < world.end for a in scenario.arrivals))


def test_same_seed_same_figures(world: World) -> None:
    """The same seed gives the same record and byte-identical figures."""
    scenario = rush_hour(world, 2)
    assert run_greedy_edd(world, scenario) == run_greedy_edd(world, scenario)
    one = simulate(world, ["greedy-edd"], [1, 2]).summary()
    two = simulate(world, ["greedy-edd"], [1, 2]).summary()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_due_dates_first_delivers_more_on_time_in_a_rush(world: World) -> None:
    """With every order arriving at once, serving due dates first (hopeless last) delivers at
    least as many orders on time as first come, first served."""
    for seed in (1, 2, 3):
        scenario = rush_hour(world, seed)
        edd = run_metrics(run_greedy_edd(world, scenario), world)["on_time_rate"]
        fcfs = run_metrics(get_policy("greedy")(world, scenario), world)["on_time_rate"]
        assert edd >= fcfs


@pytest.mark.parametrize("discipline", ["edd", "slack", "cr"])
def test_the_projection_plays_the_queue_by_the_discipline(world: World, discipline: str) -> None:
    """Where a step would start on a machine (what "finishes first" is judged on) is where it
    starts when the machine's queue is played forward by the same discipline, step by step."""
    checked = 0

    class Checked(Dispatcher):
        def _projected_start(self, r: int, task: _Task) -> int:
            nonlocal checked
            got = super()._projected_start(r, task)
            res = self.resources[r]
            if res.queue:
                checked += 1
                assert got == replay(self, r, [*res.queue, task], task)
            return got

    scenario = rush_hour(world, 1)
    Checked(
        world, scenario, "x", lambda o, p: world.modes[o][p], lambda o: "", discipline=discipline
    ).run()
    assert checked > 10


def replay(d: Dispatcher, r: int, queue: list[_Task], task: _Task) -> int:
    """When `task` starts on resource `r` if the machine, free from when it is next free,
    always takes the waiting step the discipline puts first (a plain loop, no shortcut)."""
    free = d._free_from(r)
    waiting = sorted(queue)
    while True:
        ready = [t for t in waiting if t.ready <= free]
        at = free if ready else min(t.ready for t in waiting)
        ready = [t for t in waiting if t.ready <= at]
        first = min(ready, key=lambda t: d._key(t, at))
        if first is task:
            return at
        waiting.remove(first)
        got = d.world.place(first.order, first.position, r, at, first.planned)
        free = got[1] if got is not None else at


def test_an_unknown_discipline_is_refused(world: World) -> None:
    """A queue discipline that does not exist is refused by name, with the choices."""
    with pytest.raises(ValueError, match="unknown queue discipline 'lifo'; choose one of fcfs"):
        Dispatcher(world, make_scenario(world, 1), "x", lambda o, p: (), lambda o: "", None, "lifo")
