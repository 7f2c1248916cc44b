"""Run policies over seeds on one world and collect what the report needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sharefab.sim.arrivals import make_scenario
from sharefab.sim.metrics import daily_utilisation, lateness_hours, run_metrics
from sharefab.sim.params import SimParams
from sharefab.sim.policies import get_policy
from sharefab.sim.record import RunRecord
from sharefab.sim.report import summarise
from sharefab.sim.world import World


@dataclass
class Simulation:
    """Per policy: each seed's metrics, daily utilisation and lateness."""

    seeds: list[int]
    metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    daily: dict[str, list[list[float]]] = field(default_factory=dict)
    lateness: dict[str, list[float]] = field(default_factory=dict)
    records: dict[str, list[RunRecord]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return summarise(self.metrics, self.seeds)


def simulate(
    world: World,
    policies: Sequence[str],
    seeds: Sequence[int],
    params: SimParams | None = None,
    keep_records: bool = False,
    on_run: Callable[[str, int], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Simulation:
    """Every policy on every seed; a seed's random streams are shared by all policies."""
    out = Simulation(seeds=list(seeds))
    for name in policies:
        out.metrics[name], out.daily[name], out.lateness[name] = [], [], []
        if keep_records:
            out.records[name] = []
    for seed in seeds:
        scenario = make_scenario(world, seed, params)
        for name in policies:
            tick = (lambda m, n=name, s=seed: on_progress(n, s, m)) if on_progress else None
            record = get_policy(name)(world, scenario, tick)
            out.metrics[name].append(run_metrics(record, world))
            out.daily[name].append(daily_utilisation(record, world))
            out.lateness[name].extend(lateness_hours(record))
            if keep_records:
                out.records[name].append(record)
            if on_run:
                on_run(name, seed)
    return out
