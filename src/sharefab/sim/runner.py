"""Run policies over seeds on one world and collect what the report needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
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


def _play(
    world: World,
    name: str,
    seed: int,
    params: SimParams | None,
    tick: Callable[[int], None] | None = None,
) -> tuple[dict[str, float], list[float], list[float], RunRecord]:
    """One policy on one seed: its metrics, daily utilisation, lateness and record."""
    record = get_policy(name)(world, make_scenario(world, seed, params), tick, params)
    return (
        run_metrics(record, world),
        daily_utilisation(record, world),
        lateness_hours(record),
        record,
    )


def simulate(
    world: World,
    policies: Sequence[str],
    seeds: Sequence[int],
    params: SimParams | None = None,
    keep_records: bool = False,
    on_run: Callable[[str, int], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    workers: int = 1,
) -> Simulation:
    """Every policy on every seed; a seed's random streams are shared by all policies.

    With `workers` > 1 the runs go to a process pool; the results are the same and come back
    in the same order.
    """
    out = Simulation(seeds=list(seeds))
    for name in policies:
        out.metrics[name], out.daily[name], out.lateness[name] = [], [], []
        if keep_records:
            out.records[name] = []
    jobs = [(name, seed) for seed in seeds for name in policies]
    results: dict[tuple[str, int], tuple[dict[str, float], list[float], list[float], RunRecord]]
    results = {}
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_play, world, n, s, params): (n, s) for n, s in jobs}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_run:
                    on_run(*futures[future])
    else:
        for name, seed in jobs:
            tick = (lambda m, n=name, s=seed: on_progress(n, s, m)) if on_progress else None
            results[(name, seed)] = _play(world, name, seed, params, tick)
            if on_run:
                on_run(name, seed)
    for name, seed in jobs:
        metrics, daily, late, record = results[(name, seed)]
        out.metrics[name].append(metrics)
        out.daily[name].append(daily)
        out.lateness[name].extend(late)
        if keep_records:
            out.records[name].append(record)
    return out
