"""Cancel, confirm delivery, close, dispute and resolve honour Idempotency-Key like creates do."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.integrity import check_database
from sharefab.kit.db import unit_of_work
from sharefab.ledger.models import Transfer
from tests.factories import Tenants, booked_order, created, problem, report


def _transfers(engine: Engine, order_id: int) -> int:
    with unit_of_work(engine, write=False) as s:
        assert check_database(s) == []
        return int(s.scalar(select(func.count()).where(Transfer.order_id == order_id)) or 0)


def test_retried_close_replays_its_answer(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A close retried with its key (say after a timeout) gets the first 200 again, not a 409."""
    w = booked_order(app_client, tenants)
    p, b, order_id = w["p"], w["b"], w["order"]["id"]
    for step in (w["first"], w["second"]):
        created(report(p, step, type="started"))
        created(report(p, step, type="completed"))
    for action in ("confirm-delivery", "close"):
        key = {"Idempotency-Key": f"{action}-1"}
        first = b.post(f"/api/v1/orders/{order_id}/{action}", headers=key)
        again = b.post(f"/api/v1/orders/{order_id}/{action}", headers=key)
        assert first.status_code == again.status_code == 200, again.text
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["status"] == "closed"
    moved = _transfers(engine, order_id)
    problem(b.post(f"/api/v1/orders/{order_id}/close"), 409)  # a new close (no key) is refused
    assert _transfers(engine, order_id) == moved


def test_retried_cancel_refunds_once(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A cancel retried with its key replays the first answer; the escrow is refunded once."""
    w = booked_order(app_client, tenants)
    b, order_id = w["b"], w["order"]["id"]
    key = {"Idempotency-Key": "cancel-1"}
    first = b.post(f"/api/v1/orders/{order_id}/cancel", headers=key)
    again = b.post(f"/api/v1/orders/{order_id}/cancel", headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.json()["status"] == "cancelled"
    assert _transfers(engine, order_id) == 2  # funded on accept, refunded once


def test_retried_dispute_and_resolve_replay_and_free_the_plan(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A dispute and its resolution by cancel, each retried with its key, happen once, and the
    cancelled order's unstarted steps are released like any cancel's."""
    w = booked_order(app_client, tenants)
    created(report(w["p"], w["first"], type="started"))
    order_id = w["order"]["id"]
    body = {"reason": "wrong alloy"}
    key = {"Idempotency-Key": "dispute-1"}
    first = w["b"].post(f"/api/v1/orders/{order_id}/dispute", json=body, headers=key)
    again = w["b"].post(f"/api/v1/orders/{order_id}/dispute", json=body, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    key = {"Idempotency-Key": "resolve-1"}
    out = [
        op.post(f"/api/v1/orders/{order_id}/resolve", json={"outcome": "cancel"}, headers=key)
        for _ in range(2)
    ]
    assert [r.status_code for r in out] == [200, 200]
    assert out[1].json() == out[0].json()
    assert out[1].json()["status"] == "cancelled"
    # the step that never started is released (it used to keep blocking the machine)
    second = w["p"].get(f"/api/v1/work-orders/{w['second']['id']}").json()
    assert second["status"] == "cancelled"
    assert _transfers(engine, order_id) == 2  # funded on accept, refunded once
