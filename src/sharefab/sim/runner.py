"""Run policies over seeds on one world and collect what the report needs."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import sharefab
from sharefab.engine.base import Engine, make_engine
from sharefab.sim.arrivals import make_scenario
from sharefab.sim.metrics import (
    daily_utilisation,
    lateness_hours,
    rejection_reasons,
    run_metrics,
)
from sharefab.sim.params import SimParams
from sharefab.sim.policies import get_policy
from sharefab.sim.record import RunRecord
from sharefab.sim.report import summarise
from sharefab.sim.world import World


@dataclass
class Simulation:
    """Per policy: each seed's metrics, daily utilisation, lateness and rejection reasons."""

    seeds: list[int]
    metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    daily: dict[str, list[list[float]]] = field(default_factory=dict)
    lateness: dict[str, list[float]] = field(default_factory=dict)
    reasons: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    records: dict[str, list[RunRecord]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return summarise(self.metrics, self.seeds, self.reasons)


Outcome = tuple[dict[str, float], list[float], list[float], dict[str, int], RunRecord]

# Relative cost of one run per policy: the longest go to the process pool first.
_COST = {"sharefab": 100, "clairvoyant": 50, "greedy-edd": 3, "greedy": 2, "isolated": 1}


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """A hash of every source file of the package: cached runs are reused by this code only."""
    root = Path(sharefab.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


class RunCache:
    """Finished runs on disk, so that a long comparison interrupted part way resumes.

    A run is keyed by the world, the policy, the seed, the parameters and the source code of
    the package; any change to one of them is a different key, never a stale result.
    """

    def __init__(self, directory: Path, world: World, params: SimParams | None) -> None:
        self.directory = directory
        h = hashlib.sha256(pickle.dumps(world, protocol=5))
        h.update(repr(params or SimParams()).encode())
        h.update(_code_fingerprint().encode())
        self._base = h.hexdigest()

    def _path(self, name: str, seed: int) -> Path:
        key = hashlib.sha256(f"{self._base}:{name}:{seed}".encode()).hexdigest()[:32]
        return self.directory / f"{name}-{seed}-{key}.pickle"

    def get(self, name: str, seed: int) -> Outcome | None:
        path = self._path(name, seed)
        if not path.exists():
            return None
        with path.open("rb") as f:
            out: Outcome = pickle.load(f)
        return out

    def put(self, name: str, seed: int, outcome: Outcome) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(name, seed)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(outcome, protocol=5))
        os.replace(tmp, path)  # a run is on disk whole or not at all


def _play(
    world: World,
    name: str,
    seed: int,
    params: SimParams | None,
    tick: Callable[[int], None] | None = None,
) -> Outcome:
    """One policy on one seed: its metrics, daily utilisation, lateness, rejection reasons
    and record."""
    record = get_policy(name)(world, make_scenario(world, seed, params), tick, params)
    return (
        run_metrics(record, world),
        daily_utilisation(record, world),
        lateness_hours(record),
        rejection_reasons(record),
        record,
    )


def _play_job(job: tuple[World, str, int, SimParams | None]) -> Outcome:
    """``_play`` as an engine task: one picklable argument."""
    return _play(*job)


class RunFailed(RuntimeError):
    """A simulation run failed on a worker (or its worker was lost); the message names it."""


def _on_engine(
    engine: Engine,
    world: World,
    todo: list[tuple[str, int]],
    params: SimParams | None,
    finished: Callable[[str, int, Outcome], None],
) -> None:
    """Play ``todo`` on the engine's workers, the longest runs first; a failed run raises
    ``RunFailed`` after the runs already finished were handed to ``finished``."""
    todo = sorted(todo, key=lambda job: -_COST.get(job[0], 10))
    tickets = {engine.submit(_play_job, (world, n, s, params)): (n, s) for n, s in todo}
    while tickets:
        for ticket, outcome in engine.wait(60.0):
            name, seed = tickets.pop(ticket)
            if isinstance(outcome, BaseException):
                raise RunFailed(
                    f"the {name} run of seed {seed} failed on a worker: {outcome!r}"
                ) from outcome
            finished(name, seed, outcome)


def simulate(
    world: World,
    policies: Sequence[str],
    seeds: Sequence[int],
    params: SimParams | None = None,
    keep_records: bool = False,
    on_run: Callable[[str, int], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    workers: int = 1,
    cache: Path | None = None,
    engine: Engine | None = None,
) -> Simulation:
    """Every policy on every seed; a seed's random streams are shared by all policies.

    With `engine` (the solver's worker pool: ``engine.make_engine``, a local process pool or a
    Dask cluster), or `workers` > 1 (a local pool of that many processes), the runs go to its
    workers, the longest first; the results are the same and come back in the same order.
    With `cache`, each finished run is kept in that directory and a run already there (same
    world, parameters and code) is not played again.
    """
    out = Simulation(seeds=list(seeds))
    for name in policies:
        out.metrics[name], out.daily[name], out.lateness[name] = [], [], []
        out.reasons[name] = []
        if keep_records:
            out.records[name] = []
    jobs = [(name, seed) for seed in seeds for name in policies]
    store = RunCache(cache, world, params) if cache is not None else None
    results: dict[tuple[str, int], Outcome] = {}
    todo = []
    for name, seed in jobs:
        kept = store.get(name, seed) if store is not None else None
        if kept is None:
            todo.append((name, seed))
            continue
        results[(name, seed)] = kept
        if on_run:
            on_run(name, seed)

    def finished(name: str, seed: int, outcome: Outcome) -> None:
        results[(name, seed)] = outcome
        if store is not None:
            store.put(name, seed, outcome)
        if on_run:
            on_run(name, seed)

    if engine is not None and todo:
        _on_engine(engine, world, todo, params, finished)
    elif workers > 1 and len(todo) > 1:
        with make_engine("local", workers=min(workers, len(todo))) as pool:
            _on_engine(pool, world, todo, params, finished)
    else:
        for name, seed in todo:
            tick = (lambda m, n=name, s=seed: on_progress(n, s, m)) if on_progress else None
            finished(name, seed, _play(world, name, seed, params, tick))
    for name, seed in jobs:
        metrics, daily, late, reasons, record = results[(name, seed)]
        out.metrics[name].append(metrics)
        out.daily[name].append(daily)
        out.lateness[name].extend(late)
        out.reasons[name].append(reasons)
        if keep_records:
            out.records[name].append(record)
    return out
