"""The whole story through the HTTP API: publish capacity, order, quote, accept, produce,
break down and recover, deliver, settle, rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.kit.db import unit_of_work
from sharefab.ledger import service as ledger
from tests.factories import Tenants, created, make_resource, make_site, order_body


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _window(c: TestClient, resource_id: int, start: datetime, end: datetime) -> None:
    created(
        c.post(
            "/api/v1/capacity-windows",
            json={
                "resource_id": resource_id,
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
            },
        )
    )


def _event(c: TestClient, booking_id: int, **body: Any) -> dict[str, Any]:
    return created(c.post(f"/api/v1/work-orders/{booking_id}/events", json=body))


def test_order_to_cash(app_client: TestClient, tenants: Tenants, engine: Engine) -> None:
    """A buyer's order goes from capacity to cash; a breakdown moves work and money adds up."""
    provider = TestClient(app_client.app, headers=tenants["provider2"].headers)
    rival = TestClient(app_client.app, headers=tenants["rival"].headers)
    buyer = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    operator = TestClient(app_client.app, headers=tenants["operator"].headers)
    now = _now()

    # 1. Providers publish capacity: provider2 mills and anodises, rival anodises too.
    site = make_site(provider, lat=31.38, lon=120.98, city="Kunshan")
    mill = make_resource(provider, site["id"], rate=20000, name="Mill A")
    line = make_resource(provider, site["id"], code="coating.anodize", rate=8000, kind="line")
    rival_site = make_site(rival, lat=31.30, lon=120.60, city="Suzhou")
    rival_line = make_resource(
        rival, rival_site["id"], code="coating.anodize", rate=12000, kind="line"
    )
    for r, c in ((mill, provider), (line, provider), (rival_line, rival)):
        _window(c, r["id"], now - timedelta(hours=1), now + timedelta(days=4))

    # 2. The buyer submits an order and gets quotes.
    order = created(
        buyer.post(
            "/api/v1/orders",
            json=order_body(
                "PO-STORY",
                quantity=12,
                release_at=now.isoformat(),
                due_at=(now + timedelta(days=3)).isoformat(),
            ),
        )
    )
    quotes = created(buyer.post(f"/api/v1/orders/{order['id']}/quotes"))
    assert quotes
    quote = min(quotes, key=lambda q: q["total_minor"])
    assert quote["provider_ids"] == [tenants["provider2"].org_id]

    # 3. The buyer accepts: the order is scheduled and the price sits in escrow.
    accepted = created(buyer.post(f"/api/v1/quotes/{quote['id']}/accept"))
    assert accepted["order_status"] == "scheduled"
    escrow = buyer.get(f"/api/v1/ledger/escrow/{order['id']}").json()
    assert escrow["balance_minor"] == quote["total_minor"]

    # 4. The provider sees its work orders, starts and completes the milling.
    work = provider.get("/api/v1/work-orders").json()["items"]
    assert {w["operation"]["seq"] for w in work} == {1, 2}
    milling = next(w for w in work if w["operation"]["seq"] == 1)
    coating = next(w for w in work if w["operation"]["seq"] == 2)
    assert coating["resource_id"] == line["id"]
    early = provider.post(f"/api/v1/work-orders/{coating['id']}/events", json={"type": "started"})
    assert early.status_code == 409  # the anodising cannot start before the milling is done
    _event(provider, milling["id"], type="started")
    assert buyer.get(f"/api/v1/orders/{order['id']}").json()["status"] == "in_production"
    _event(provider, milling["id"], type="progress", quantity=6)
    _event(provider, milling["id"], type="completed", quantity=12)

    # 5. The anodising line breaks down for two days: the work moves to the rival's line.
    down = created(
        provider.post(f"/api/v1/resources/{line['id']}/breakdown", json={"repair_minutes": 2880})
    )
    moved = down["replan"]["moved"]
    assert len(moved) == 1
    assert moved[0]["from_resource_id"] == line["id"]
    assert moved[0]["to_resource_id"] == rival_line["id"]
    assert moved[0]["other_provider"] is True
    assert provider.get(f"/api/v1/work-orders/{coating['id']}").json()["status"] == "cancelled"
    rival_work = rival.get("/api/v1/work-orders").json()["items"]
    assert [w["operation"]["seq"] for w in rival_work] == [2]
    new_coating = rival_work[0]

    # 6. The rival runs the anodising; the order completes, is delivered and closed.
    _event(rival, new_coating["id"], type="started")
    _event(rival, new_coating["id"], type="scrapped", quantity=1)
    _event(rival, new_coating["id"], type="completed")
    assert buyer.get(f"/api/v1/orders/{order['id']}").json()["status"] == "completed"
    assert buyer.post(f"/api/v1/orders/{order['id']}/confirm-delivery").json()["status"] == (
        "delivered"
    )
    assert buyer.post(f"/api/v1/orders/{order['id']}/close").json()["status"] == "closed"

    # 7. Money landed where it should: escrow empty, each provider paid its slot less the fee.
    with unit_of_work(engine, write=False) as s:
        assert ledger.escrow_balance(s, order["id"]) == 0
        assert ledger.verify_ledger(s) == []
        earned = {
            org: sum(
                a.balance_minor
                for a in ledger.balances_for(s, org)
                if a.kind == "provider_earnings"
            )
            for org in (tenants["provider2"].org_id, tenants["rival"].org_id)
        }
    prices = {b["operation_id"]: b["price_minor"] for b in accepted["bookings"]}
    mill_price = prices[milling["operation_id"]]
    coat_price = prices[coating["operation_id"]]
    fee_bps = ledger.PLATFORM_FEE_BPS
    assert earned[tenants["provider2"].org_id] == mill_price - ledger.fee_for(mill_price, fee_bps)
    assert earned[tenants["rival"].org_id] == coat_price - ledger.fee_for(coat_price, fee_bps)

    # 8. Both sides rate.
    created(
        buyer.post(
            "/api/v1/ratings",
            json={
                "order_id": order["id"],
                "ratee_organization_id": tenants["rival"].org_id,
                "score": 5,
            },
        )
    )
    created(
        rival.post(
            "/api/v1/ratings",
            json={
                "order_id": order["id"],
                "ratee_organization_id": tenants["buyer2"].org_id,
                "score": 4,
            },
        )
    )
    credit = rival.get("/api/v1/credit/me").json()
    assert credit
    assert operator.get(f"/api/v1/orders/{order['id']}").json()["status"] == "closed"
