"""The `sharefab` policy: the platform's real services quote, book and replan the orders."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sharefab.sim.arrivals import make_scenario
from sharefab.sim.metrics import run_metrics
from sharefab.sim.params import SimParams
from sharefab.sim.policies.sharefab import run_sharefab
from sharefab.sim.record import Fate, RunRecord
from sharefab.sim.report import summarise
from sharefab.sim.world import World
from tests.sim.policies.test_dispatch import check_conservation


@pytest.fixture(scope="module")
def runs(world: World) -> tuple[RunRecord, RunRecord]:
    """The same seed played twice through the services, each in a fresh database."""
    scenario = make_scenario(world, 1)
    return run_sharefab(world, scenario), run_sharefab(world, scenario)


def test_conservation_through_the_services(world: World, runs: tuple[RunRecord, ...]) -> None:
    """Every order is booked and completed, in progress, waiting, or rejected with the
    service's reason."""
    record = runs[0]
    arrived = sum(a.at < world.end for a in make_scenario(world, 1).arrivals)
    check_conservation(record, world, arrived)
    assert any(o.fate != Fate.rejected for o in record.orders.values())
    assert record.executions


def test_time_only_moves_forward(world: World, runs: tuple[RunRecord, ...]) -> None:
    """The services are driven in simulated-time order."""
    times = runs[0].event_times
    assert times == sorted(times)
    assert times[-1] < world.end


def test_same_seed_same_figures(world: World, runs: tuple[RunRecord, ...]) -> None:
    """Replaying a seed through fresh databases gives the same metrics and the same work."""
    a, b = runs
    assert run_metrics(a, world) == run_metrics(b, world)
    assert [dataclasses.astuple(e) for e in a.executions] == [
        dataclasses.astuple(e) for e in b.executions
    ]


def test_same_seed_identical_json(world: World, runs: tuple[RunRecord, ...]) -> None:
    """Two runs of one seed print byte-identical `--json` figures for the sharefab policy."""
    docs = [
        json.dumps(summarise({"sharefab": [run_metrics(r, world)]}, [1]), sort_keys=True)
        for r in runs
    ]
    assert docs[0] == docs[1]


def test_the_platform_reoptimises_and_keeps_promises(
    world: World, runs: tuple[RunRecord, ...]
) -> None:
    """The operator's re-optimisation ran through the services and applied better plans; every
    booked order carries the promise its quote made, and the metrics count the kept ones."""
    record = runs[0]
    assert record.notes.get("reoptimised", 0) > 0
    booked = [o for o in record.orders.values() if o.fate != Fate.rejected]
    assert booked
    assert all(o.promised is not None and o.promised >= o.arrived for o in booked)
    assert run_metrics(record, world)["promises_kept_rate"] > 0


def test_idle_resources_start_ready_work_early(runs: tuple[RunRecord, ...]) -> None:
    """Work whose inputs are there starts before its booked time when its resource is idle,
    also when it then runs past the time of a booking there whose inputs are not there yet."""
    assert runs[0].notes.get("early_starts", 0) > 0
    assert runs[0].notes.get("started_ahead", 0) > 0


def test_steps_start_only_after_their_inputs(world: World, runs: tuple[RunRecord, ...]) -> None:
    """No step starts before every predecessor ended and the truck brought its work over."""
    record = runs[0]
    done = {(e.order, e.position): e for e in record.executions if e.done}
    for e in record.executions:
        for p in world.preds[e.order][e.position]:
            pred = done[(e.order, p)]
            ride = world.site_minutes[world.resource_site[pred.resource]][
                world.resource_site[e.resource]
            ]
            assert e.start >= pred.end + ride


def test_the_services_accept_every_shop_floor_report(runs: tuple[RunRecord, ...]) -> None:
    """The simulator follows the platform's state machine: no start, completion or breakdown
    report is refused, and breakdowns were reported."""
    notes = runs[0].notes
    assert notes.get("breakdowns", 0) > 0
    assert not {"start_refused", "complete_refused", "replan_failed"} & set(notes)


def test_booked_work_starts_inside_capacity_windows(
    world: World, runs: tuple[RunRecord, ...]
) -> None:
    """Every step the platform booked starts inside a window of its resource; one that may not
    pause at a shift end fits that window."""
    for e in runs[0].executions:
        window = world.window_at(e.resource, e.start)
        assert window is not None
        if not world.pausable[e.order][e.position]:
            assert e.start + e.planned <= window[1]


def test_buyers_may_pick_the_fastest_quote(world: World) -> None:
    """With buyers accepting the fastest quote, every order is still accounted for."""
    scenario = make_scenario(world, 1)
    record = run_sharefab(world, scenario, params=SimParams(buyer_picks="fastest"))
    check_conservation(record, world, sum(a.at < world.end for a in scenario.arrivals))
    assert record.executions
