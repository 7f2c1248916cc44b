"""The local engine: in process and as a process pool, planning a small cluster."""

from __future__ import annotations

import os

import pytest

from sharefab.engine.base import EngineError, make_engine
from sharefab.engine.local import InProcessEngine, ProcessPoolEngine
from sharefab.gen import ClusterSpec, generate_cluster
from sharefab.gen.instance import cluster_to_problem
from sharefab.optimize.cluster.lns import InlinePool, plan_cluster
from sharefab.optimize.cluster.params import ClusterParams, WorkLimit
from sharefab.optimize.data import ProblemData
from sharefab.optimize.validate import validate

# small neighbourhoods, so that two fit side by side in a 40-order cluster
PARAMS = ClusterParams(initial_size=10, max_modes=3, sub_time_limit=1.0)


@pytest.fixture(scope="module")
def small() -> ProblemData:
    return cluster_to_problem(
        generate_cluster(ClusterSpec(factories=6, resources=40, orders=40), 5)
    )


def _square(x: int) -> int:
    return x * x


def _crash(_: int) -> int:
    os._exit(3)


def test_in_process_engine_plans_a_valid_cluster(small: ProblemData) -> None:
    """The default engine gives a valid plan no worse than its start."""
    with make_engine("local", workers=1) as engine:
        assert isinstance(engine, InProcessEngine)
        result = plan_cluster(small, engine, time_limit=2.0)
    assert result.valid
    assert validate(small, result.schedule) == []
    assert result.values <= result.start_values


def test_process_pool_plans_in_parallel(small: ProblemData) -> None:
    """Two pool workers solve neighbourhoods; the plan is valid and no worse."""
    with make_engine("local", workers=2) as engine:
        assert engine.slots == 2
        result = plan_cluster(small, engine, time_limit=3.0, params=PARAMS)
    assert result.valid
    assert result.values <= result.start_values
    assert result.iterations > 0


def test_deterministic_mode_gives_the_same_plan_on_any_pool(small: ProblemData) -> None:
    """In deterministic mode the plan depends on the inputs and the seed only: in this
    process, on the in-process engine and on a pool of two processes (answers arriving in
    whatever order) it is the identical schedule."""
    work = WorkLimit(neighbourhoods=10, batch=2, sub_deterministic_time=0.2, dispatch_rounds=3)
    inline = plan_cluster(small, InlinePool(), seed=5, params=PARAMS, work_limit=work)
    with make_engine("local", workers=1) as engine:
        in_process = plan_cluster(small, engine, seed=5, params=PARAMS, work_limit=work)
    with make_engine("local", workers=2) as engine:
        pooled = plan_cluster(small, engine, seed=5, params=PARAMS, work_limit=work)
    assert inline.iterations == work.neighbourhoods
    assert in_process.schedule == inline.schedule
    assert pooled.schedule == inline.schedule
    assert pooled.values == inline.values
    assert validate(small, pooled.schedule) == []


def test_crashed_pool_worker_comes_back_as_an_error() -> None:
    """A task whose process dies returns an exception; the engine keeps working afterwards."""
    with ProcessPoolEngine(1) as engine:
        bad = engine.submit(_crash, 0)
        got = engine.gather([bad], timeout=30)
        assert isinstance(got[bad], BaseException)
        good = engine.submit(_square, 7)
        assert engine.gather([good], timeout=30) == {good: 49}


def test_local_engine_refuses_an_address() -> None:
    """--address belongs to the dask engine; the local one says so."""
    with pytest.raises(EngineError, match="dask"):
        make_engine("local", address="tcp://127.0.0.1:8786")
