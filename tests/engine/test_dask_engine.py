"""The Dask engine: a LocalCluster on 127.0.0.1, a dead address, a lost worker."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import dask
import distributed  # noqa: F401 - its config must exist before dask.config.set below
import pytest

from sharefab.engine.base import EngineError, make_engine
from sharefab.engine.dask_engine import DaskEngine
from sharefab.gen import ClusterSpec, generate_cluster
from sharefab.gen.instance import cluster_to_problem
from sharefab.optimize.cluster.lns import plan_cluster
from sharefab.optimize.cluster.params import ClusterParams, WorkLimit
from sharefab.optimize.data import ProblemData

# small neighbourhoods, so that two fit side by side in a 40-order cluster
PARAMS = ClusterParams(initial_size=10, max_modes=3, sub_time_limit=1.0)


@pytest.fixture(scope="module")
def small() -> ProblemData:
    return cluster_to_problem(
        generate_cluster(ClusterSpec(factories=6, resources=40, orders=40), 5)
    )


@pytest.fixture(scope="module")
def engine() -> Iterator[DaskEngine]:
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        eng = DaskEngine(workers=2)
        try:
            yield eng
        finally:
            eng.close()


def _die(_: Any) -> Any:
    os._exit(3)


class KillFirst:
    """Passes tasks to the engine, but the first one kills its worker."""

    def __init__(self, engine: DaskEngine) -> None:
        self.engine = engine
        self.killed = False

    @property
    def slots(self) -> int:
        return self.engine.slots

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        if not self.killed:
            self.killed = True
            return self.engine.submit(_die, arg)
        return self.engine.submit(fn, arg)

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        return self.engine.wait(timeout)


def test_dask_local_cluster_plans_a_valid_cluster(engine: DaskEngine, small: ProblemData) -> None:
    """Two Dask workers on 127.0.0.1 solve neighbourhoods; the plan is valid and no worse."""
    assert engine.slots == 2
    assert all(a.startswith("tcp://127.0.0.1:") for a in engine.client.nthreads())
    result = plan_cluster(small, engine, time_limit=3.0, params=PARAMS)
    assert result.valid
    assert result.values <= result.start_values
    assert result.iterations > 0


def test_lost_worker_keeps_the_incumbent(engine: DaskEngine, small: ProblemData) -> None:
    """A worker dying mid-run drops its neighbourhood only; the plan stays valid, no worse."""
    # counted work, not a clock: every answer of a batch is awaited, so the loss is seen
    # however slowly the machine restarts the worker
    work = WorkLimit(
        neighbourhoods=4, batch=2, sub_deterministic_time=0.1, dispatch_rounds=2,
        resequence_steps=0, task_timeout=120.0,
    )  # fmt: skip
    result = plan_cluster(small, KillFirst(engine), seed=3, params=PARAMS, work_limit=work)
    assert result.valid
    assert result.values <= result.start_values
    assert result.dropped >= 1


def test_unanswered_address_fails_fast() -> None:
    """A scheduler address nobody answers gives a clear error within seconds."""
    t0 = time.perf_counter()
    with pytest.raises(EngineError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:9"):
        make_engine("dask", address="tcp://127.0.0.1:9", connect_timeout=2)
    assert time.perf_counter() - t0 < 10
