"""Early starts never double-book a machine: running work blocks them, finished work frees it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.factories import (
    Tenants,
    book_milling,
    created,
    make_resource,
    make_site,
    open_window,
    problem,
    report,
    violations,
)


def _two_orders_on_one_mill(
    app_client: TestClient, tenants: Tenants
) -> tuple[TestClient, dict[str, Any], dict[str, Any]]:
    """provider2 has one mill; buyer2 books two one-step orders on it, one after the other."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    p = TestClient(app_client.app, headers=tenants["provider2"].headers)
    b = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    mill = make_resource(p, make_site(p)["id"])
    open_window(p, mill["id"], now)
    booked = [book_milling(b, ref, 4, now) for ref in ("A", "B")]
    first, second = sorted(booked, key=lambda x: x["starts_at"])
    assert second["starts_at"] >= first["ends_at"]
    return p, first, second


def test_early_start_while_the_machine_runs_other_work_is_refused(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """Starting the next job early while the mill still runs the first answers 409, no overlap."""
    p, first, second = _two_orders_on_one_mill(app_client, tenants)
    created(report(p, first, type="started"))
    body = problem(report(p, second, type="started"), 409)
    assert f"work order {first['id']} (in_progress)" in body["detail"]
    assert p.get(f"/api/v1/work-orders/{second['id']}").json()["status"] == "committed"
    assert violations(engine) == []


def test_early_start_after_the_machine_finished_frees_and_moves(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A job finished early frees the rest of its span, so the next can start early there."""
    p, first, second = _two_orders_on_one_mill(app_client, tenants)
    created(report(p, first, type="started"))
    created(report(p, first, type="completed"))
    done = p.get(f"/api/v1/work-orders/{first['id']}").json()
    assert done["ends_at"] < first["ends_at"]
    created(report(p, second, type="started"))
    moved = p.get(f"/api/v1/work-orders/{second['id']}").json()
    assert moved["status"] == "in_progress"
    assert moved["starts_at"] < second["starts_at"]
    assert moved["starts_at"] >= done["ends_at"]
    assert violations(engine) == []


def test_early_start_over_work_not_started_moves_that_work(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """Starting the later job first takes the mill now; the job booked there moves after it."""
    p, first, second = _two_orders_on_one_mill(app_client, tenants)
    created(report(p, second, type="started"))
    started = p.get(f"/api/v1/work-orders/{second['id']}").json()
    pushed = p.get(f"/api/v1/work-orders/{first['id']}").json()
    assert started["status"] == "in_progress"
    assert started["starts_at"] < first["ends_at"]
    assert pushed["status"] == "committed"
    assert pushed["starts_at"] >= started["ends_at"]
    assert violations(engine) == []
