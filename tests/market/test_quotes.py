"""Quotes and acceptance through the API: three options, explained, booked all-or-nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.market.models import Booking, Quote
from tests.factories import (
    Tenants,
    created,
    make_resource,
    make_site,
    make_window,
    order_body,
    problem,
)


def _provider(
    client: TestClient, tenants: Tenants, name: str, lat: float, lon: float, rate: int, cls: str
) -> TestClient:
    """A provider with a 5-axis mill and an anodising line, each open 08:00–20:00 for 5 days."""
    c = TestClient(client.app, headers=tenants[name].headers)
    site = make_site(c, lat=lat, lon=lon, city=name)
    mill = make_resource(c, site["id"], rate=rate, name=f"{name} mill", resource_class=cls)
    line = make_resource(
        c, site["id"], code="coating.anodize", rate=rate // 2, kind="line", name=f"{name} line"
    )
    for day in range(5):
        make_window(c, mill["id"], 24 * day + 8, 24 * day + 20)
        make_window(c, line["id"], 24 * day + 8, 24 * day + 20)
    return c


def _market(client: TestClient, tenants: Tenants) -> dict[str, Any]:
    _provider(client, tenants, "rival", 31.30, 120.60, 30000, "cnc5-highspeed")
    _provider(client, tenants, "provider2", 31.38, 120.98, 20000, "cnc5-standard")
    return created(client.post("/api/v1/orders", json=_fast_on_highspeed(order_body(quantity=10))))


def _fast_on_highspeed(body: dict[str, Any]) -> dict[str, Any]:
    """Milling takes half the time on a high-speed machine."""
    body["operations"][0]["class_unit_seconds"] = {"cnc5-highspeed": 450}
    return body


def test_three_explained_options(client: TestClient, tenants: Tenants) -> None:
    """A quote request gives priced options with breakdown, promised date and explanation."""
    order = _market(client, tenants)
    quotes = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))
    options = {q["option"] for q in quotes}
    assert "fastest" in options
    assert "cheapest" in options
    for q in quotes:
        b = q["breakdown"]
        machine = sum(m["amount_minor"] for m in b["machine_time"])
        assert q["total_minor"] == machine + b["setup_minor"] + b["transport_minor"]
        assert q["total_minor"] == sum(s["price_minor"] for s in q["slots"])
        assert 0 < b["platform_fee_minor"] < q["total_minor"] // 10
        assert len(q["slots"]) == 2
        assert q["promised_at"] >= q["slots"][-1]["ends_at"]
        first, second = sorted(q["slots"], key=lambda s: s["starts_at"])
        assert first["ends_at"] <= second["starts_at"]
        for step in q["explanation"]:
            assert step["eligible"] == 2
            assert step["not_chosen"][0]["reasons"]
            assert "resource_id" not in step["not_chosen"][0]
    cheapest = next(q for q in quotes if q["option"] == "cheapest")
    assert cheapest["provider_ids"] == [tenants["provider2"].org_id]
    assert client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "quoted"


def test_accept_books_everything(client: TestClient, tenants: Tenants, session: Session) -> None:
    """Accepting books every slot, schedules the order and supersedes the other quotes."""
    order = _market(client, tenants)
    quotes = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))
    chosen = quotes[0]
    accepted = created(client.post(f"/api/v1/quotes/{chosen['id']}/accept"))
    assert accepted["order_status"] == "scheduled"
    assert len(accepted["bookings"]) == 2
    after = client.get(f"/api/v1/orders/{order['id']}/quotes").json()
    assert {q["id"]: q["status"] for q in after}[chosen["id"]] == "accepted"
    assert all(q["status"] == "superseded" for q in after if q["id"] != chosen["id"])
    again = client.post(f"/api/v1/quotes/{chosen['id']}/accept")
    assert "accepted" in problem(again, 409)["detail"]
    assert session.scalar(select(func.count()).select_from(Booking)) == 2


def test_taken_slot_is_409_and_nothing_booked(
    client: TestClient, tenants: Tenants, session: Session
) -> None:
    """If another order takes a quoted slot first, accepting fails naming the slot; no booking."""
    _market(client, tenants)
    as_b2 = TestClient(client.app, headers=tenants["buyer2"].headers)
    mine = created(
        client.post("/api/v1/orders", json=_fast_on_highspeed(order_body("PO-A", quantity=10)))
    )
    theirs = created(
        as_b2.post("/api/v1/orders", json=_fast_on_highspeed(order_body("PO-B", quantity=10)))
    )
    my_quotes = created(client.post(f"/api/v1/orders/{mine['id']}/quotes"))
    their_quotes = created(as_b2.post(f"/api/v1/orders/{theirs['id']}/quotes"))
    same = next(
        (m, t)
        for m in my_quotes
        for t in their_quotes
        if m["slots"][0]["resource_id"] == t["slots"][0]["resource_id"]
        and m["slots"][0]["starts_at"] == t["slots"][0]["starts_at"]
    )
    created(as_b2.post(f"/api/v1/quotes/{same[1]['id']}/accept"))
    before = session.scalar(select(func.count()).select_from(Booking))
    err = problem(client.post(f"/api/v1/quotes/{same[0]['id']}/accept"), 409)
    assert "operation 1" in err["detail"]
    assert "booked by someone else" in err["detail"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Booking)) == before
    assert client.get(f"/api/v1/orders/{mine['id']}").json()["status"] == "quoted"


def test_quote_needs_capacity(client: TestClient, tenants: Tenants) -> None:
    """An order whose capability nobody offers gets 422 naming the operation and the reason."""
    ops = [{"capability_code": "inspection.xray", "unit_seconds": 60}]
    order = created(client.post("/api/v1/orders", json=order_body(operations=ops)))
    err = problem(client.post(f"/api/v1/orders/{order['id']}/quotes"), 422)
    assert "operation 1" in err["detail"]
    assert "inspection.xray" in err["detail"]


def test_idempotent_accept(client: TestClient, tenants: Tenants, session: Session) -> None:
    """Retrying an accept with the same key replays the first answer and books nothing more."""
    order = _market(client, tenants)
    quotes = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))
    headers = {"Idempotency-Key": "accept-1"}
    first = client.post(f"/api/v1/quotes/{quotes[0]['id']}/accept", headers=headers)
    second = client.post(f"/api/v1/quotes/{quotes[0]['id']}/accept", headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    other = client.post(f"/api/v1/quotes/{quotes[1]['id']}/accept", headers=headers)
    assert "different request" in problem(other, 422)["detail"]
    assert session.scalar(select(func.count()).select_from(Booking)) == 2


def test_idempotent_create_order(client: TestClient, session: Session) -> None:
    """A retried order submission with the same key creates one order."""
    from sharefab.orders.models import Order

    h = {"Idempotency-Key": "po-7"}
    a = client.post("/api/v1/orders", json=order_body("PO-7"), headers=h)
    b = client.post("/api/v1/orders", json=order_body("PO-7"), headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_foreign_quote_is_hidden(client: TestClient, tenants: Tenants) -> None:
    """Another buyer can neither see nor accept my quote."""
    order = _market(client, tenants)
    quote = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    as_b2 = TestClient(client.app, headers=tenants["buyer2"].headers)
    problem(as_b2.get(f"/api/v1/quotes/{quote['id']}"), 404)
    problem(as_b2.post(f"/api/v1/quotes/{quote['id']}/accept"), 404)


def test_expired_quote_refused(client: TestClient, tenants: Tenants, engine: Engine) -> None:
    """A quote past its expiry shows as expired and cannot be accepted."""
    order = _market(client, tenants)
    quote = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    with engine.begin() as conn:
        conn.execute(
            update(Quote).where(Quote.id == quote["id"]).values(expires_at=datetime.now(UTC))
        )
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "expired"
    err = problem(client.post(f"/api/v1/quotes/{quote['id']}/accept"), 409)
    assert "expired" in err["detail"]
    assert "new quotes" in err["detail"]
