"""After booking: cancel refunds by rule, disputes are resolved by the operator."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.kit.db import unit_of_work
from sharefab.ledger import service as ledger
from tests.factories import Tenants, booked_order, created, problem, report


def test_cancel_before_start_refunds_everything(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """Cancelling a scheduled order frees its bookings and returns the whole escrow."""
    w = booked_order(app_client, tenants)
    out = w["b"].post(f"/api/v1/orders/{w['order']['id']}/cancel").json()
    assert out["status"] == "cancelled"
    assert all(
        b["status"] == "cancelled"
        for b in w["p"].get("/api/v1/work-orders", params={"status": "cancelled"}).json()["items"]
    )
    with unit_of_work(engine, write=False) as s:
        assert ledger.escrow_balance(s, w["order"]["id"]) == 0
        funds = [
            a for a in ledger.balances_for(s, tenants["buyer2"].org_id) if a.kind == "buyer_funds"
        ]
    assert [a.balance_minor for a in funds] == [0]  # paid in, paid back


def test_dispute_resolved_by_cancel_keeps_fee(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A disputed order cancelled by the operator refunds all but the 10 % cancellation fee."""
    w = booked_order(app_client, tenants)
    created(report(w["p"], w["first"], type="started"))
    order_id = w["order"]["id"]
    assert (
        w["b"]
        .post(f"/api/v1/orders/{order_id}/dispute", json={"reason": "wrong alloy"})
        .json()["status"]
        == "disputed"
    )
    problem(w["b"].post(f"/api/v1/orders/{order_id}/resolve", json={"outcome": "cancel"}), 403)
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    with unit_of_work(engine, write=False) as s:
        held = ledger.escrow_balance(s, order_id)
    assert (
        op.post(f"/api/v1/orders/{order_id}/resolve", json={"outcome": "cancel"}).json()["status"]
        == "cancelled"
    )
    with unit_of_work(engine, write=False) as s:
        assert ledger.escrow_balance(s, order_id) == 0
        funds = [
            a for a in ledger.balances_for(s, tenants["buyer2"].org_id) if a.kind == "buyer_funds"
        ]
        assert ledger.verify_ledger(s) == []
    assert [a.balance_minor for a in funds] == [-ledger.fee_for(held, 1000)]
    credit = (
        TestClient(app_client.app, headers=tenants["provider2"].headers)
        .get("/api/v1/credit/me")
        .json()
    )
    assert credit["provider"]["inputs"]["disputes"] == 1
