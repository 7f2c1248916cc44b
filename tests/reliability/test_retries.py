"""Idempotency under retries, short run: timed-out clients retrying with the same key never
create anything twice and always get the first answer (or the documented 409 while in flight)."""

from __future__ import annotations

import os

import pytest
from bench.reliability import retries

POSTGRES_URL = os.environ.get("SHAREFAB_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _need(backend: str) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("SHAREFAB_TEST_POSTGRES_URL not set")


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_process_retries_never_duplicate(backend: str) -> None:
    """30 scenarios in-process: one answer per key, no duplicate row, `sharefab check` holds."""
    _need(backend)
    r = retries.run(backend, 30, seed=3, workers=3, postgres=POSTGRES_URL)
    assert r["failures"] == []
    assert r["database_problems"] == []
    assert r["scenarios"] == 30
    assert r["replays"] > 0
    assert r["originals_timed_out_in_flight"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_server_timeouts_never_duplicate(backend: str) -> None:
    """15 scenarios on the real server, with socket timeouts cutting requests off mid-flight."""
    _need(backend)
    r = retries.run(backend, 15, seed=4, target="server", workers=3, postgres=POSTGRES_URL)
    assert r["failures"] == []
    assert r["database_problems"] == []
    assert r["scenarios"] == 15
