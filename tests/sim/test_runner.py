"""Running policies over seeds: the run cache that lets a long comparison resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharefab.engine.base import make_engine
from sharefab.engine.dask_engine import DaskEngine
from sharefab.sim import runner
from sharefab.sim.params import SimParams
from sharefab.sim.runner import RunFailed, simulate
from sharefab.sim.world import World


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("a cached run was played again")


def test_cached_runs_are_reused_with_the_same_figures(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second simulation with the same cache plays nothing and reports the same figures."""
    first = simulate(world, ["isolated", "greedy"], [1, 2], cache=tmp_path)
    assert len(list(tmp_path.glob("*.pickle"))) == 4
    monkeypatch.setattr(runner, "_play", _refuse)
    again = simulate(world, ["isolated", "greedy"], [1, 2], cache=tmp_path)
    assert again.summary() == first.summary()
    assert again.daily == first.daily


def test_other_parameters_do_not_hit_the_cache(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run with other parameters (here noisier durations) is played, not taken from the cache."""
    simulate(world, ["greedy"], [1], cache=tmp_path)
    played: list[str] = []
    real = runner._play

    def counting(*args: object, **kwargs: object) -> runner.Outcome:
        played.append("run")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "_play", counting)
    simulate(world, ["greedy"], [1], SimParams(duration_sigma=0.3), cache=tmp_path)
    assert played == ["run"]
    assert len(list(tmp_path.glob("*.pickle"))) == 2


def test_runs_on_a_dask_cluster_give_the_same_figures(world: World) -> None:
    """The runs sent to the solver's Dask pool (a LocalCluster here) report the same figures,
    in the same order, as the runs played one after the other in this process."""
    here = simulate(world, ["isolated", "greedy-edd"], [1, 2])
    with DaskEngine(workers=2) as engine:
        there = simulate(world, ["isolated", "greedy-edd"], [1, 2], engine=engine)
    assert there.summary() == here.summary()
    assert there.daily == here.daily


def test_a_run_failing_on_a_worker_names_its_policy_and_seed(world: World) -> None:
    """A run that fails on a worker of the pool stops the simulation with an error naming
    the policy and the seed, not a bare traceback from another process."""
    with make_engine("local", workers=2) as engine, pytest.raises(RunFailed) as failed:
        simulate(world, ["greedy", "no-such-policy"], [3], engine=engine)
    assert "the no-such-policy run of seed 3 failed on a worker" in str(failed.value)
