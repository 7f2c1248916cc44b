"""Running policies over seeds: the run cache that lets a long comparison resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharefab.sim import runner
from sharefab.sim.params import SimParams
from sharefab.sim.runner import simulate
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
