"""Kill safety of jobs, short run: SIGKILL the server during re-optimisation jobs; each killed
job ends failed with the plan as it was (or succeeded, with its result), and a new one starts."""

from __future__ import annotations

import os

import pytest
from bench.reliability import crash_jobs

POSTGRES_URL = os.environ.get("SHAREFAB_TEST_POSTGRES_URL")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_killed_job_leaves_the_plan_and_lets_a_new_one_start(backend: str) -> None:
    """Three kill points during re-optimisation jobs, then one undisturbed job: no check
    fails (plan unchanged unless the job succeeded, `sharefab check` holds, new jobs start)."""
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("SHAREFAB_TEST_POSTGRES_URL not set")
    result = crash_jobs.run(
        backend, kills=3, seed=5, orders=8, time_limit=1.0, postgres=POSTGRES_URL
    )
    assert result.failures == []
    assert result.kill_points == 3
    assert result.checks == 4
    assert sum(result.after.values()) == 4
