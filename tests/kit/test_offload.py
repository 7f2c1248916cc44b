"""Solver runs in worker processes: same answers, a dead worker costs one request only."""

from __future__ import annotations

import importlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.app import create_app
from sharefab.kit import offload
from sharefab.kit.errors import ServiceUnavailable
from tests.factories import Tenants, created, make_resource, make_site, make_window, order_body


@pytest.fixture
def pool() -> Iterator[None]:
    """One solver worker process for the test, stopped after it."""
    offload.start(1)
    yield
    offload.stop()


def test_without_a_pool_the_call_runs_here() -> None:
    """With no pool started, `run` calls the function in the caller's own process."""
    assert not offload.active()
    assert offload.run(os.getpid) == os.getpid()


def test_pool_runs_in_another_process_at_lower_priority(pool: None) -> None:
    """With a pool, the call runs in a worker process that yields the CPU to the web process."""
    assert offload.active()
    assert offload.run(os.getpid) not in (os.getpid(), None)
    here = os.getpriority(os.PRIO_PROCESS, 0)
    assert offload.run(os.getpriority, os.PRIO_PROCESS, 0) > here
    offload.stop()
    assert not offload.active()
    assert offload.run(os.getpid) == os.getpid()


def test_a_killed_worker_costs_one_request_and_the_pool_comes_back(pool: None) -> None:
    """A worker killed mid-solve: that call gets 503 with Retry-After, the next one works."""
    [victim] = offload.worker_pids()
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    with pytest.raises(ServiceUnavailable) as refused:
        offload.run(os.getpid)
    assert refused.value.retry_after >= 1
    assert "ask again" in str(refused.value)
    pid = offload.run(os.getpid)
    assert pid != victim
    assert offload.worker_pids() == [pid]


def _quotes(client: TestClient, tenants: Tenants) -> list[dict[str, Any]]:
    provider = TestClient(client.app, headers=tenants["provider2"].headers)
    site = make_site(provider, lat=31.38, lon=120.98, city="Kunshan")
    mill = make_resource(provider, site["id"], rate=20000, name="mill")
    line = make_resource(provider, site["id"], code="coating.anodize", kind="line", name="line")
    for day in range(5):
        make_window(provider, mill["id"], 24 * day + 8, 24 * day + 20)
        make_window(provider, line["id"], 24 * day + 8, 24 * day + 20)
    order = created(client.post("/api/v1/orders", json=order_body(quantity=10)))
    quotes: list[dict[str, object]] = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))
    return quotes


def test_served_quotes_are_solved_in_the_worker_and_still_valid(
    engine: Engine, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app started with a solver process quotes through it: priced, bookable options."""

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved in the web process")

    # only this process's solver is broken: the worker imported its own, intact copy
    monkeypatch.setattr(importlib.import_module("sharefab.optimize.solve"), "solve", not_here)
    app = create_app(engine, solver_processes=1)
    with TestClient(app, headers=tenants["acme"].headers) as client:
        assert offload.active()
        [worker] = offload.worker_pids()
        quotes = _quotes(client, tenants)
        assert offload.worker_pids() == [worker]
        assert quotes
        assert all(q["total_minor"] > 0 for q in quotes)
        accepted = created(client.post(f"/api/v1/quotes/{quotes[0]['id']}/accept"))
        assert len(accepted["bookings"]) == 2
    assert not offload.active()
