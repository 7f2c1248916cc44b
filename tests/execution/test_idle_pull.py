"""Idle pull: a machine that falls free early takes ready work waiting for a later slot on
another machine, unless its own next work is ready; a finished step's next step comes forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    order_body,
    report,
    violations,
)


def _two_mills(
    app_client: TestClient, tenants: Tenants, mill_1_materials: list[str] | None = None
) -> tuple[TestClient, TestClient, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """provider2 has two mills; C (3 h) takes mill 1 now, D (11 h) mill 2 now, and F (2 h)
    waits on mill 1 behind C (it ends sooner there than behind D)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    p = TestClient(app_client.app, headers=tenants["provider2"].headers)
    b = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    site = make_site(p)["id"]
    mills = [
        make_resource(p, site, name="mill 1", materials=mill_1_materials),
        make_resource(p, site, name="mill 2"),
    ]
    for mill in mills:
        open_window(p, mill["id"], now)
    c, d, f = (book_milling(b, ref, n, now) for ref, n in (("C", 8), ("D", 40), ("F", 4)))
    assert c["resource_id"] != d["resource_id"]
    assert f["resource_id"] == c["resource_id"]
    assert f["starts_at"] >= c["ends_at"]
    return p, b, c, d, f


def test_a_machine_free_early_takes_work_waiting_on_another(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """D finishes at once: mill 2 is free, so F (booked on mill 1 after C) moves there, starts
    now instead of in three hours, and its work order says where it came from and why."""
    p, _, c, d, f = _two_mills(app_client, tenants)
    created(report(p, c, type="started"))
    created(report(p, d, type="started"))
    done = created(report(p, d, type="completed", quantity=40))
    moved = p.get(f"/api/v1/work-orders/{f['id']}").json()
    assert moved["resource_id"] == d["resource_id"]
    assert moved["starts_at"] < f["starts_at"]
    assert moved["moved_from_resource_id"] == f["resource_id"]
    assert "fell free" in moved["moved_reason"]
    assert [m["old_booking_id"] for m in done["replan"]["moved"]] == [f["id"]]
    assert violations(engine) == []


def test_a_machine_with_its_own_ready_work_pulls_nothing(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """G (titanium, which only mill 2 takes) waits on mill 2 behind D, its inputs ready: when D
    finishes early mill 2 starts G early instead, so F stays where it is and nothing moves."""
    p, b, c, d, f = _two_mills(app_client, tenants, mill_1_materials=["AL6061"])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    g = book_milling(b, "G", 4, now, material="TI6AL4V")
    assert g["resource_id"] == d["resource_id"]
    created(report(p, c, type="started"))
    created(report(p, d, type="started"))
    done = created(report(p, d, type="completed", quantity=40))
    assert done["replan"] is None
    for before in (f, g):
        after = p.get(f"/api/v1/work-orders/{before['id']}").json()
        assert (after["resource_id"], after["starts_at"]) == (
            before["resource_id"],
            before["starts_at"],
        )
    assert violations(engine) == []


def test_the_next_step_comes_forward_when_its_input_finishes_early(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A two-step order: the first step finishes at once, so the second (booked to wait three
    hours for it) moves up to now; nothing else moves."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    p = TestClient(app_client.app, headers=tenants["provider2"].headers)
    b = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    mill = make_resource(p, make_site(p)["id"])
    open_window(p, mill["id"], now)
    step = {"capability_code": "milling.cnc.5axis", "setup_minutes": 60, "unit_seconds": 900}
    body = order_body(
        "H",
        quantity=8,
        release_at=now.isoformat(),
        due_at=(now + timedelta(days=4)).isoformat(),
        operations=[step, {**step, "predecessors": [1]}],
    )
    order = created(b.post("/api/v1/orders", json=body))
    quote = created(b.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    first, second = sorted(
        created(b.post(f"/api/v1/quotes/{quote['id']}/accept"))["bookings"],
        key=lambda x: x["starts_at"],
    )
    assert second["starts_at"] >= first["ends_at"]
    created(report(p, first, type="started"))
    created(report(p, first, type="completed", quantity=8))
    moved = p.get(f"/api/v1/work-orders/{second['id']}").json()
    assert moved["starts_at"] < second["starts_at"]
    assert moved["status"] == "committed"
    assert violations(engine) == []


def test_a_machine_repaired_early_takes_work_waiting_on_another(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """Mill 2 broke down for ten hours, so C and then F were booked on mill 1; mill 2 is
    repaired at once: F moves onto it and starts now instead of after C."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    p = TestClient(app_client.app, headers=tenants["provider2"].headers)
    b = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    site = make_site(p)["id"]
    mill_1 = make_resource(p, site, name="mill 1")
    mill_2 = make_resource(p, site, name="mill 2")
    for mill in (mill_1, mill_2):
        open_window(p, mill["id"], now)
    created(p.post(f"/api/v1/resources/{mill_2['id']}/breakdown", json={"repair_minutes": 600}))
    c, f = (book_milling(b, ref, n, now) for ref, n in (("C", 8), ("F", 4)))
    assert c["resource_id"] == f["resource_id"] == mill_1["id"]
    assert f["starts_at"] >= c["ends_at"]
    created(report(p, c, type="started"))
    created(p.post(f"/api/v1/resources/{mill_2['id']}/resume"))
    moved = p.get(f"/api/v1/work-orders/{f['id']}").json()
    assert moved["resource_id"] == mill_2["id"]
    assert moved["starts_at"] < f["starts_at"]
    assert "fell free" in moved["moved_reason"]
    assert violations(engine) == []
