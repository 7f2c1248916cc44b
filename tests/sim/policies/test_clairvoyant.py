"""The clairvoyant reference: a valid plan of the whole scenario, recorded as the simulator
would have; conservation, windows and repairs, determinism, and never behind greedy."""

from __future__ import annotations

import pytest

from sharefab.optimize.cluster.params import WorkLimit
from sharefab.optimize.validate import validate
from sharefab.sim.arrivals import Scenario, make_scenario
from sharefab.sim.metrics import run_metrics
from sharefab.sim.policies.clairvoyant import (
    ClairvoyantParams,
    build_model,
    known_windows,
    plan,
    run_clairvoyant,
)
from sharefab.sim.policies.greedy import run_greedy
from sharefab.sim.record import Fate, RunRecord
from sharefab.sim.world import World

# a small deterministic budget: the tiny world has a few dozen orders
SMALL = ClairvoyantParams(
    work=WorkLimit(
        neighbourhoods=10,
        sub_deterministic_time=0.2,
        dispatch_rounds=4,
        resequence_steps=4,
        validate_every=2,
    )
)


@pytest.fixture(scope="module")
def scenario(world: World) -> Scenario:
    return make_scenario(world, 1)


@pytest.fixture(scope="module")
def record(world: World, scenario: Scenario) -> RunRecord:
    return run_clairvoyant(world, scenario, clairvoyant=SMALL)


def test_the_plan_passes_the_validator_and_counts_delivery(
    world: World, scenario: Scenario
) -> None:
    """The independent validator accepts the plan, and each order completes at its delivery:
    no earlier than every last step's end plus the truck to the buyer."""
    model = build_model(world, scenario)
    assert model.data.num_jobs > 0
    _, result = plan(model, 1, SMALL)
    assert validate(model.data, result.schedule) == []
    end: dict[tuple[int, int], tuple[int, int]] = {}
    for a in result.schedule:
        end[(a.job, a.operation)] = (a.end, a.resource)
    tardiness = 0
    for j, arrival in enumerate(model.arrivals):
        order = arrival.order
        steps = len(world.modes[order])
        delivered = end[(j, steps)][0]  # the delivery pseudo-operation comes last
        for pos in range(steps):
            if not world.succs[order][pos]:
                e, r = end[(j, pos)]
                site = world.resource_site[r]
                assert delivered >= e + world.site_minutes[site][world.ship_to[order]]
        tardiness += model.data.jobs[j].weight * max(0, delivered - arrival.due)
    assert result.values[0] == tardiness


def test_every_order_is_accounted_for(world: World, scenario: Scenario, record: RunRecord) -> None:
    """Arrivals = completed + in progress + waiting + rejected; a completed order has every
    step done and a delivery, a waiting one none started."""
    arrived = [a for a in scenario.arrivals if a.at < world.end]
    assert sorted(record.orders) == sorted(a.order for a in arrived)
    assert sum(o.fate == Fate.completed for o in record.orders.values()) > 0
    for o in record.orders.values():
        mine = [e for e in record.executions if e.order == o.order]
        if o.fate == Fate.completed:
            assert o.delivered is not None
            assert {e.position for e in mine if e.done} == set(range(len(world.modes[o.order])))
            last = max(e.end for e in mine)
            assert o.delivered >= last
        elif o.fate == Fate.in_progress:
            assert mine
            assert not all(e.done for e in mine) or len(mine) < len(world.modes[o.order])
        elif o.fate == Fate.waiting:
            assert not mine
        else:
            assert o.reason
    positions = [(e.order, e.position) for e in record.executions]
    assert len(positions) == len(set(positions))  # every step runs once


def test_steps_start_in_a_window_and_never_during_a_repair(
    world: World, scenario: Scenario, record: RunRecord
) -> None:
    """Each step starts inside a published window and outside every repair of its resource; a
    step that may not pause runs clear of repairs; busy = the realised minutes."""
    repairs: dict[int, list[tuple[int, int]]] = {}
    for b in scenario.breakdowns:
        repairs.setdefault(b.resource, []).append((b.at, b.at + b.repair))
    assert repairs
    for e in record.executions:
        assert world.window_at(e.resource, e.start) is not None
        for s, t in repairs.get(e.resource, ()):
            assert not s <= e.start < t
            if not world.pausable[e.order][e.position]:
                assert e.end <= s or e.start >= t
        assert e.busy == scenario.actual_minutes(e.order, e.position, e.planned)
        assert e.done == (e.end < world.end)


def test_repairs_are_cut_out_of_the_windows(world: World, scenario: Scenario) -> None:
    windows = known_windows(world, scenario)
    for b in scenario.breakdowns:
        for s, e in windows[b.resource]:
            assert e <= b.at or s >= b.at + b.repair


def test_same_seed_same_record(world: World, scenario: Scenario, record: RunRecord) -> None:
    """Deterministic: the same world and scenario give the identical record."""
    again = run_clairvoyant(world, scenario, clairvoyant=SMALL)
    assert again == record
    assert run_metrics(again, world) == run_metrics(record, world)


def test_at_least_as_on_time_as_greedy(world: World) -> None:
    """Knowing everything in advance, it is on time at least as often as greedy."""
    for seed in (1, 2):
        scenario = make_scenario(world, seed)
        ours = run_metrics(run_clairvoyant(world, scenario, clairvoyant=SMALL), world)
        theirs = run_metrics(run_greedy(world, scenario), world)
        assert ours["on_time_rate"] >= theirs["on_time_rate"]


def test_the_bound_is_below_the_plan(world: World, record: RunRecord) -> None:
    """The proven lower bound is at most the plan's weighted tardiness, and the plan's
    tardiness is at least what the recorded deliveries show."""
    notes = record.notes
    assert 0 <= notes["tardiness_lower_bound"] <= notes["tardiness"]
    seen = sum(
        world.cluster.orders[o.order].weight * max(0, o.delivered - o.due)
        for o in record.orders.values()
        if o.fate == Fate.completed and o.delivered is not None
    )
    assert seen <= notes["tardiness"]
    metrics = run_metrics(record, world)
    assert metrics["orders_arrived"] == len(record.orders)
    assert record.trips > 0
    assert record.transport_cost > 0
