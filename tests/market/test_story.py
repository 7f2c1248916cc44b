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

    # 1. Providers publish capacity. provider2: a fast dear mill, a cheap mill free only after
    #    the due date, and an anodising line; rival: a standard mill and a line of its own.
    site = make_site(provider, lat=31.38, lon=120.98, city="Kunshan")
    fast = make_resource(provider, site["id"], rate=40000, resource_class="cnc5-highspeed")
    cheap = make_resource(provider, site["id"], rate=9000, resource_class="cnc5-standard")
    line = make_resource(provider, site["id"], code="coating.anodize", rate=8000, kind="line")
    rival_site = make_site(rival, lat=31.30, lon=120.60, city="Suzhou")
    mill = make_resource(rival, rival_site["id"], rate=12000, resource_class="cnc5-standard")
    rival_line = make_resource(
        rival, rival_site["id"], code="coating.anodize", rate=8000, kind="line"
    )
    for r, c in ((fast, provider), (mill, rival)):
        _window(c, r["id"], now - timedelta(hours=1), now + timedelta(days=4))
    for r, c in ((line, provider), (rival_line, rival)):
        _window(c, r["id"], now - timedelta(hours=1), now + timedelta(days=9))
    _window(provider, cheap["id"], now + timedelta(days=4), now + timedelta(days=8))

    # 2. The buyer submits an order and gets quotes.
    body = order_body(
        "PO-STORY",
        quantity=12,
        release_at=now.isoformat(),
        due_at=(now + timedelta(days=3)).isoformat(),
    )
    body["operations"][0]["class_unit_seconds"] = {"cnc5-highspeed": 300}
    order = created(buyer.post("/api/v1/orders", json=body))
    _raw = created(buyer.post(f"/api/v1/orders/{order['id']}/quotes"))
    quotes = {q["option"]: q for q in _raw}
    assert {"fastest", "cheapest", "balanced"} <= set(quotes)
    milled_on = {k: q["slots"][0]["resource_id"] for k, q in quotes.items() if k != "safest"}
    assert milled_on == {"fastest": fast["id"], "cheapest": cheap["id"], "balanced": mill["id"]}
    assert quotes["cheapest"]["promised_at"] > order["due_at"]  # cheap, but late
    assert quotes["balanced"]["promised_at"] <= order["due_at"]
    assert quotes["balanced"]["total_minor"] < quotes["fastest"]["total_minor"]
    quote = quotes["balanced"]

    # 3. The buyer accepts: the order is scheduled and the price sits in escrow.
    accepted = created(buyer.post(f"/api/v1/quotes/{quote['id']}/accept"))
    assert accepted["order_status"] == "scheduled"
    escrow = buyer.get(f"/api/v1/ledger/escrow/{order['id']}").json()
    assert escrow["balance_minor"] == quote["total_minor"]

    # 4. The rival sees its work orders, starts and completes the milling.
    work = rival.get("/api/v1/work-orders").json()["items"]
    milling = next(w for w in work if w["operation"]["seq"] == 1)
    assert milling["resource_id"] == mill["id"]
    coating = next(
        b
        for b in buyer.get(f"/api/v1/orders/{order['id']}/bookings").json()
        if b["operation_id"] != milling["operation_id"]
    )
    runs = {line["id"]: (provider, rival_line), rival_line["id"]: (rival, line)}
    line_owner, other_line = runs[coating["resource_id"]]
    early = line_owner.post(f"/api/v1/work-orders/{coating['id']}/events", json={"type": "started"})
    assert early.status_code == 409  # the anodising cannot start before the milling is done
    _event(rival, milling["id"], type="started")
    assert buyer.get(f"/api/v1/orders/{order['id']}").json()["status"] == "in_production"
    _event(rival, milling["id"], type="progress", quantity=6)
    _event(rival, milling["id"], type="completed", quantity=12)

    # 5. The anodising line breaks down for two days: the work moves to the other line.
    down = created(
        line_owner.post(
            f"/api/v1/resources/{coating['resource_id']}/breakdown", json={"repair_minutes": 2880}
        )
    )
    moved = down["replan"]["moved"]
    assert [(m["from_resource_id"], m["to_resource_id"]) for m in moved] == [
        (coating["resource_id"], other_line["id"])
    ]
    assert line_owner.get(f"/api/v1/work-orders/{coating['id']}").json()["status"] == "cancelled"
    new_owner = runs[other_line["id"]][0]
    new_coating = next(
        w
        for w in new_owner.get("/api/v1/work-orders").json()["items"]
        if w["operation"]["seq"] == 2 and w["status"] == "committed"
    )
    assert down["replan"]["promised_dates_changed"] == []  # the promise still holds

    # 6. The new line runs the anodising; the order completes, is delivered and closed.
    _event(new_owner, new_coating["id"], type="started")
    _event(new_owner, new_coating["id"], type="scrapped", quantity=1)
    _event(new_owner, new_coating["id"], type="completed")
    assert buyer.get(f"/api/v1/orders/{order['id']}").json()["status"] == "completed"
    assert buyer.post(f"/api/v1/orders/{order['id']}/confirm-delivery").json()["status"] == (
        "delivered"
    )
    assert buyer.post(f"/api/v1/orders/{order['id']}/close").json()["status"] == "closed"

    # 7. Money landed where it should: escrow empty, each provider paid its slots less the fee.
    fee_bps = ledger.PLATFORM_FEE_BPS
    expected: dict[int, int] = {tenants["provider2"].org_id: 0, tenants["rival"].org_id: 0}
    bookings = buyer.get(f"/api/v1/orders/{order['id']}/bookings").json()
    for b in bookings:
        assert b["status"] == "done"
        fee = ledger.fee_for(b["price_minor"], fee_bps)
        expected[b["provider_organization_id"]] += b["price_minor"] - fee
    with unit_of_work(engine, write=False) as s:
        assert ledger.escrow_balance(s, order["id"]) == 0
        assert ledger.verify_ledger(s) == []
        earned = {
            org: sum(
                a.balance_minor
                for a in ledger.balances_for(s, org)
                if a.kind == "provider_earnings"
            )
            for org in expected
        }
    assert earned == expected
    assert all(v > 0 for v in earned.values())  # both providers were paid
    assert sum(b["price_minor"] for b in bookings) == quote["total_minor"]

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
