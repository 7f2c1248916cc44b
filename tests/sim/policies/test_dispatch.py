"""The dispatching policies: conservation, no sharing when isolated, determinism, time order."""

from __future__ import annotations

import json

import pytest

from sharefab.sim.arrivals import make_scenario
from sharefab.sim.policies import get_policy
from sharefab.sim.record import Fate, RunRecord
from sharefab.sim.runner import simulate
from sharefab.sim.world import World


def check_conservation(record: RunRecord, world: World, scenario_arrivals: int) -> None:
    """Every arrived order is completed, in progress, waiting or rejected with a reason."""
    assert len(record.orders) == scenario_arrivals
    for o in record.orders.values():
        assert o.fate in set(Fate)
        if o.fate == Fate.rejected:
            assert o.reason
        if o.fate == Fate.completed:
            assert o.delivered is not None
            done = {e.position for e in record.executions if e.order == o.order and e.done}
            assert done == set(range(len(world.modes[o.order])))
        if o.fate == Fate.waiting:
            assert not any(e.order == o.order for e in record.executions)
        if o.fate == Fate.in_progress:
            assert any(e.order == o.order for e in record.executions)


@pytest.mark.parametrize("policy", ["isolated", "greedy", "greedy-edd"])
def test_conservation(world: World, policy: str) -> None:
    """No order is lost: arrivals equal completed + in progress + waiting + rejected."""
    scenario = make_scenario(world, 1)
    record = get_policy(policy)(world, scenario)
    arrived = sum(a.at < world.end for a in scenario.arrivals)
    check_conservation(record, world, arrived)
    assert sum(o.fate == Fate.completed for o in record.orders.values()) > 0


@pytest.mark.parametrize("policy", ["isolated", "greedy", "greedy-edd"])
def test_simulated_time_never_goes_backwards(world: World, policy: str) -> None:
    """The events a run handles come in non-decreasing time, all inside the period."""
    record = get_policy(policy)(world, make_scenario(world, 2))
    times = record.event_times
    assert times
    assert times == sorted(times)
    assert times[-1] < world.end


def test_isolated_never_moves_work_between_factories(world: World) -> None:
    """Without sharing, every step runs at the factory that makes it anyway; none absorbed."""
    for seed in (1, 2, 3):
        record = get_policy("isolated")(world, make_scenario(world, seed))
        assert record.executions
        for e in record.executions:
            assert world.resource_org[e.resource] == world.home_ops[e.order][e.position]
    result = simulate(world, ["isolated"], [1, 2])
    assert all(m["idle_hours_absorbed"] == 0 for m in result.metrics["isolated"])


def test_greedy_lends_capacity(world: World) -> None:
    """With sharing, some steps run on another factory's machines."""
    record = get_policy("greedy")(world, make_scenario(world, 1))
    assert any(
        world.resource_org[e.resource] != world.home_ops[e.order][e.position]
        for e in record.executions
    )


def test_same_seed_same_figures(world: World) -> None:
    """Two simulations with the same seeds give byte-identical JSON."""
    a = simulate(world, ["isolated", "greedy", "greedy-edd"], [1, 2]).summary()
    b = simulate(world, ["isolated", "greedy", "greedy-edd"], [1, 2]).summary()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_breakdowns_pause_work(world: World) -> None:
    """A breakdown during an operation delays its end: elapsed time exceeds real work."""
    record = get_policy("greedy")(world, make_scenario(world, 1))
    assert record.notes.get("breakdowns", 0) > 0
    assert all(e.end - e.start >= e.busy for e in record.executions)


def test_a_process_pool_gives_the_same_figures(world: World) -> None:
    """Running seeds and policies in two processes changes nothing in the results."""
    one = simulate(world, ["isolated", "greedy"], [1, 2]).summary()
    two = simulate(world, ["isolated", "greedy"], [1, 2], workers=2).summary()
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


@pytest.mark.parametrize("policy", ["isolated", "greedy", "greedy-edd"])
def test_work_starts_inside_capacity_windows(world: World, policy: str) -> None:
    """Every step starts inside a window of its resource; one that may not pause fits its
    planned time in that window, one that may pause works only inside windows."""
    record = get_policy(policy)(world, make_scenario(world, 1))
    paused = 0
    for e in record.executions:
        window = world.window_at(e.resource, e.start)
        assert window is not None
        if not world.pausable[e.order][e.position]:
            assert e.start + e.planned <= window[1]
        elif e.done and e.end > window[1]:
            paused += 1
            assert world.calendar.worked(e.resource, e.start, e.end) >= e.busy
    assert paused > 0  # the world has work that goes on in a later shift
