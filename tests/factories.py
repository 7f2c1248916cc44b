"""Helpers that create objects through the HTTP API, the way a client would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.identity.models import Membership, Organization, Role, User
from sharefab.identity.security import hash_password, issue_access_token
from sharefab.kit.db import unit_of_work
from sharefab.kit.types import utcnow
from sharefab.orders.models import Order, OrderStatus

T0 = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Tenant:
    """An organisation with one signed-in user."""

    name: str
    org_id: int
    user_id: int
    email: str
    headers: dict[str, str]


Tenants = dict[str, Tenant]

# name: (is_provider, is_buyer, is_operator, role)
TENANT_KINDS = {
    "operator": (False, False, True, Role.operator),
    "acme": (True, True, False, Role.admin),
    "rival": (True, True, False, Role.admin),
    "buyer2": (False, True, False, Role.admin),
    "provider2": (True, False, False, Role.admin),
}


def add_user(engine: Engine, org_id: int, email: str, role: Role = Role.admin) -> int:
    """A user with the test password in `org_id`; returns the user id."""
    with unit_of_work(engine) as s:
        user = User(
            email=email, full_name=email.split("@")[0], password_hash=hash_password(PASSWORD)
        )
        s.add(user)
        s.flush()
        s.add(Membership(user_id=user.id, organization_id=org_id, role=role))
        return user.id


def make_tenants(engine: Engine) -> Tenants:
    """The platform operator and four organisations, each with an admin and a token."""
    out: Tenants = {}
    for name, (provider, buyer, operator, role) in TENANT_KINDS.items():
        with unit_of_work(engine) as s:
            org = Organization(
                name=f"{name.title()} Co",
                slug=name,
                is_provider=provider,
                is_buyer=buyer,
                is_operator=operator,
            )
            s.add(org)
            s.flush()
            org_id = org.id
        email = f"admin@{name}.example"
        user_id = add_user(engine, org_id, email, role)
        token = issue_access_token(user_id, org_id)
        out[name] = Tenant(name, org_id, user_id, email, {"Authorization": f"Bearer {token}"})
    return out


def iso(moment: datetime) -> str:
    """ISO 8601 with offset, as clients send it."""
    return moment.isoformat()


def created(response: Any) -> Any:
    """The body of a 201 answer (an object, or a list of them); fails with the problem detail
    otherwise."""
    assert response.status_code == 201, response.text
    return response.json()


def make_site(
    client: TestClient, lat: float = 31.38, lon: float = 120.98, **kw: Any
) -> dict[str, Any]:
    """A site of the caller's organisation at the given coordinates (Kunshan by default)."""
    body = {"name": "Plant 1", "latitude": lat, "longitude": lon, **kw}
    return created(client.post("/api/v1/sites", json=body))


def make_resource(
    client: TestClient,
    site_id: int,
    code: str = "milling.cnc.5axis",
    rate: int = 28000,
    materials: list[str] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """A machine at `site_id` offering one capability."""
    body = {
        "site_id": site_id,
        "name": "DMG Mori DMU 50",
        "kind": "machine",
        "hourly_rate_minor": rate,
        "capabilities": [{"code": code, "materials": materials or []}],
        **kw,
    }
    return created(client.post("/api/v1/resources", json=body))


def open_window(
    client: TestClient, resource_id: int, now: datetime, days: int = 5
) -> dict[str, Any]:
    """A window on `resource_id` from an hour before `now` to `days` days after it."""
    body = {
        "resource_id": resource_id,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=days)).isoformat(),
    }
    return created(client.post("/api/v1/capacity-windows", json=body))


def book_milling(
    buyer: TestClient, ref: str, quantity: int, now: datetime, material: str = "AL6061"
) -> dict[str, Any]:
    """A one-step milling order of `quantity` parts (60 min setup + 15 min a part) released
    `now` and due in four days, quoted and its first option accepted: the booking."""
    body = order_body(
        ref,
        quantity=quantity,
        material=material,
        release_at=now.isoformat(),
        due_at=(now + timedelta(days=4)).isoformat(),
        operations=[
            {"capability_code": "milling.cnc.5axis", "setup_minutes": 60, "unit_seconds": 900}
        ],
    )
    order = created(buyer.post("/api/v1/orders", json=body))
    quotes = buyer.post(f"/api/v1/orders/{order['id']}/quotes")
    assert quotes.status_code == 201, quotes.text
    accepted = created(buyer.post(f"/api/v1/quotes/{quotes.json()[0]['id']}/accept"))
    (booking,) = accepted["bookings"]
    return dict(booking)


def violations(engine: Engine) -> list[str]:
    """What the integrity checks find in the database (empty when it is sound)."""
    from sharefab.integrity import check_database

    with unit_of_work(engine, write=False) as s:
        return [str(v) for v in check_database(s)]


def make_window(
    client: TestClient, resource_id: int, start_h: float = 8, end_h: float = 16
) -> dict[str, Any]:
    """A window on `resource_id` from T0 + start_h hours to T0 + end_h hours."""
    body = {
        "resource_id": resource_id,
        "starts_at": iso(T0 + timedelta(hours=start_h)),
        "ends_at": iso(T0 + timedelta(hours=end_h)),
    }
    return created(client.post("/api/v1/capacity-windows", json=body))


def order_body(reference: str = "PO-1001", **kw: Any) -> dict[str, Any]:
    """A valid two-step order (mill then anodise) of 40 housings due in ten days."""
    body: dict[str, Any] = {
        "reference": reference,
        "title": "Gearbox housing",
        "material": "AL6061",
        "quantity": 40,
        "release_at": iso(T0),
        "due_at": iso(T0 + timedelta(days=10)),
        "operations": [
            {"capability_code": "milling.cnc.5axis", "setup_minutes": 60, "unit_seconds": 900},
            {"capability_code": "coating.anodize", "setup_minutes": 30, "unit_seconds": 60},
        ],
    }
    body.update(kw)
    return body


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


def booked_order(app_client: TestClient, tenants: Tenants, quantity: int = 4) -> dict[str, Any]:
    """provider2 has two mills and a line; buyer2 orders, quotes and accepts the fastest."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    p = TestClient(app_client.app, headers=tenants["provider2"].headers)
    b = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    site = make_site(p)
    mills = [make_resource(p, site["id"], name=f"mill {i}") for i in range(2)]
    line = make_resource(p, site["id"], code="coating.anodize", kind="line")
    for r in [*mills, line]:
        created(
            p.post(
                "/api/v1/capacity-windows",
                json={
                    "resource_id": r["id"],
                    "starts_at": (now - timedelta(hours=2)).isoformat(),
                    "ends_at": (now + timedelta(days=5)).isoformat(),
                },
            )
        )
    order = created(
        b.post(
            "/api/v1/orders",
            json=order_body(
                f"E-{quantity}",
                quantity=quantity,
                release_at=now.isoformat(),
                due_at=(now + timedelta(days=4)).isoformat(),
            ),
        )
    )
    quote = created(b.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    bookings = created(b.post(f"/api/v1/quotes/{quote['id']}/accept"))["bookings"]
    first, second = sorted(bookings, key=lambda x: x["starts_at"])
    return {"p": p, "b": b, "order": order, "first": first, "second": second, "mills": mills}


def report(c: TestClient, booking: dict[str, Any], **body: Any) -> Any:
    return c.post(f"/api/v1/work-orders/{booking['id']}/events", json=body)


def slipped_orders(
    engine: Engine,
    org_id: int,
    slips: list[float],
    *,
    late: bool = True,
    done: bool = True,
    lead_days: float = 4,
    ended_days_ago: float = 1,
) -> None:
    """Past orders whose accepted plans ran `lead_days` and ended `ended_days_ago`, quoted
    late (promised after the due date) or, with `late` False, promised their due date; each
    slipped the given fraction of its lead time (finished that much later, or, when not
    `done`, still open)."""
    now = utcnow()
    rows = []
    lead = timedelta(days=lead_days)
    for k, slip in enumerate(slips):
        end = now - timedelta(days=ended_days_ago)
        due = end - timedelta(hours=1) if late else end + timedelta(days=1)
        rows.append(
            Order(
                organization_id=org_id,
                reference=f"H-{late}-{done}-{k}-{len(slips)}",
                title="past order",
                quantity=1,
                release_at=end - lead - timedelta(hours=1),
                due_at=due,
                promised_at=end + timedelta(hours=2) if late else due,
                status=OrderStatus.completed if done else OrderStatus.in_production,
                accepted_at=end - lead,
                planned_end_at=end,
                completed_at=end + slip * lead if done else None,
            )
        )
    with unit_of_work(engine) as session:
        session.add_all(rows)
