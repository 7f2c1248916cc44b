"""Crash safety, short run: SIGKILL the real server under load; every promise survives."""

from __future__ import annotations

import os

import pytest
from bench.reliability import crash

POSTGRES_URL = os.environ.get("SHAREFAB_TEST_POSTGRES_URL")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kills_lose_nothing_and_leave_the_database_whole(backend: str) -> None:
    """Two kill points under four clients: every 2xx answer survives and `sharefab check` holds."""
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("SHAREFAB_TEST_POSTGRES_URL not set")
    result = crash.run(
        backend, kills=2, seed=7, buyers=2, min_delay=0.3, max_delay=1.0, postgres=POSTGRES_URL
    )
    assert result.failures == []
    assert result.server_errors == []
    assert result.kill_points == 2
    assert result.checks == 3
    assert result.orders > 0
