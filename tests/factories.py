"""Helpers that create objects through the HTTP API, the way a client would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

T0 = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 with offset, as clients send it."""
    return moment.isoformat()


def created(response: Any) -> dict[str, Any]:
    """The body of a 201 answer; fails with the problem detail otherwise."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def make_org(
    client: TestClient, name: str = "Kunshan Hengda Precision", **kw: Any
) -> dict[str, Any]:
    """A provider-and-buyer organisation unless told otherwise."""
    body = {"name": name, "is_provider": True, "is_buyer": True, **kw}
    return created(client.post("/api/v1/organizations", json=body))


def make_site(
    client: TestClient, org_id: int, lat: float = 31.38, lon: float = 120.98, **kw: Any
) -> dict[str, Any]:
    """A site of `org_id` at the given coordinates (Kunshan by default)."""
    body = {"organization_id": org_id, "name": "Plant 1", "latitude": lat, "longitude": lon, **kw}
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


def order_body(org_id: int, reference: str = "PO-1001", **kw: Any) -> dict[str, Any]:
    """A valid two-step order (mill then anodise) of 40 housings due in ten days."""
    body: dict[str, Any] = {
        "organization_id": org_id,
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
