"""Shop-floor events are checked against the plan; rework and late starts replan."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from sharefab.kit.db import session_factory
from tests.factories import Tenants, booked_order, created, order_body, problem, report


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def test_cannot_complete_what_never_started(app_client: TestClient, tenants: Tenants) -> None:
    """Completing a work order that never started is 409 naming its state."""
    w = booked_order(app_client, tenants)
    err = problem(report(w["p"], w["first"], type="completed"), 409)
    assert "committed" in err["detail"]
    assert "in_progress" in err["detail"]


def test_progress_and_scrap_are_checked(app_client: TestClient, tenants: Tenants) -> None:
    """Progress cannot go back, and more scrap than parts is refused."""
    w = booked_order(app_client, tenants)
    created(report(w["p"], w["first"], type="started"))
    created(report(w["p"], w["first"], type="progress", quantity=3))
    problem(report(w["p"], w["first"], type="progress", quantity=2), 422)
    problem(report(w["p"], w["first"], type="scrapped", quantity=5), 422)
    problem(report(w["p"], w["first"], type="progress"), 422)  # progress needs a quantity


def test_future_event_refused(app_client: TestClient, tenants: Tenants) -> None:
    """An event dated in the future is refused."""
    w = booked_order(app_client, tenants)
    later = (_now() + timedelta(hours=2)).isoformat()
    assert "future" in problem(report(w["p"], w["first"], type="started", at=later), 422)["detail"]


def test_rework_moves_the_next_step(app_client: TestClient, tenants: Tenants) -> None:
    """Scrap needing 2 days of rework pushes the next step (the work order says why); the
    promised date (the due date, 4 days out) still holds, and a promise only moves when the
    delivery passes it."""
    w = booked_order(app_client, tenants)
    created(report(w["p"], w["first"], type="started"))
    out = created(report(w["p"], w["first"], type="scrapped", quantity=1, rework_minutes=2880))
    moved = out["replan"]["moved"]
    assert [m["old_booking_id"] for m in moved] == [w["second"]["id"]]
    first_now = w["p"].get(f"/api/v1/work-orders/{w['first']['id']}").json()
    assert moved[0]["starts_at"] >= first_now["ends_at"]
    second = w["p"].get(f"/api/v1/work-orders/{w['second']['id']}").json()
    assert "rework" in second["moved_reason"]
    assert out["replan"]["promised_dates_changed"] == []
    order = w["b"].get(f"/api/v1/orders/{w['order']['id']}").json()
    assert order["promised_at"] == order["due_at"]
    out = created(report(w["p"], w["first"], type="scrapped", quantity=1, rework_minutes=2880))
    changed = out["replan"]["promised_dates_changed"]
    assert [c["order_id"] for c in changed] == [w["order"]["id"]]
    assert "rework" in changed[0]["reason"]


def test_late_start_replans_successor(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A start two hours late moves the next step, which would now collide with it."""
    w = booked_order(app_client, tenants, quantity=1)
    with engine.begin() as conn:  # two hours pass before the shop floor reports anything
        conn.execute(
            text("UPDATE bookings SET starts_at = :a, ends_at = :b WHERE id = :i"),
            _shifted(w["first"], -2, engine),
        )
        conn.execute(
            text("UPDATE bookings SET starts_at = :a, ends_at = :b WHERE id = :i"),
            _shifted(w["second"], -2, engine),
        )
    out = created(report(w["p"], w["first"], type="started"))
    moved = out["replan"]["moved"]
    assert [m["old_booking_id"] for m in moved] == [w["second"]["id"]]
    first_now = w["p"].get(f"/api/v1/work-orders/{w['first']['id']}").json()
    assert moved[0]["starts_at"] >= first_now["ends_at"]
    assert "started late" in out["replan"]["reason"]


def _shifted(booking: dict[str, Any], hours: int, engine: Engine) -> dict[str, Any]:
    """Bind values for moving a booking by `hours` (naive UTC text on SQLite, as stored)."""

    def move(v: str) -> datetime:
        moved = datetime.fromisoformat(v).astimezone(UTC) + timedelta(hours=hours)
        return moved.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moved

    return {"a": move(booking["starts_at"]), "b": move(booking["ends_at"]), "i": booking["id"]}


def test_work_order_filters(app_client: TestClient, tenants: Tenants) -> None:
    """Work orders filter by resource and by date."""
    w = booked_order(app_client, tenants)
    mine = w["p"].get("/api/v1/work-orders", params={"resource_id": w["first"]["resource_id"]})
    assert [x["id"] for x in mine.json()["items"]] == [w["first"]["id"]]
    later = (_now() + timedelta(days=30)).isoformat()
    assert w["p"].get("/api/v1/work-orders", params={"ends_after": later}).json()["total"] == 0


def test_illegal_transition_names_allowed_states(app_client: TestClient, tenants: Tenants) -> None:
    """Closing an order in production is 409 naming its state and where it can go."""
    w = booked_order(app_client, tenants)
    created(report(w["p"], w["first"], type="started"))
    err = problem(w["b"].post(f"/api/v1/orders/{w['order']['id']}/close"), 409)
    assert err["current_state"] == "in_production"
    assert set(err["allowed_states"]) == {"completed", "cancelled", "disputed"}


def test_retry_while_running_is_409(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """On PostgreSQL a retry with a key whose first request is still running gets 409."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the retry waits and then replays")
    scope = f"org:{tenants['buyer2'].org_id}"
    lock = int.from_bytes(
        hashlib.sha256(f"{scope}|slow-1".encode()).digest()[:8], "big", signed=True
    )
    holder = session_factory(engine)()
    try:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
        b = TestClient(app_client.app, headers=tenants["buyer2"].headers)
        resp = b.post(
            "/api/v1/orders", json=order_body("SLOW"), headers={"Idempotency-Key": "slow-1"}
        )
        assert "still being processed" in problem(resp, 409)["detail"]
    finally:
        holder.rollback()
        holder.close()
