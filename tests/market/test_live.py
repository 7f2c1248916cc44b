"""The live plan: a cache of free capacity that follows every commit, its own and others'."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.kit.db import build_engine, session_factory, unit_of_work
from sharefab.market.live import live_plan, minute_down, minute_up
from tests.factories import (
    T0,
    Tenants,
    created,
    make_resource,
    make_site,
    make_window,
    order_body,
)


def _add_window_elsewhere(url: str, resource_id: int, org_id: int) -> None:
    """In another process: a provider's window written straight through the ORM."""
    from sharefab.capacity.models import CapacityWindow
    from sharefab.models import import_all_models

    import_all_models()
    engine = build_engine(url)
    with unit_of_work(engine) as session:
        session.add(
            CapacityWindow(
                organization_id=org_id,
                resource_id=resource_id,
                starts_at=T0 + timedelta(days=2, hours=8),
                ends_at=T0 + timedelta(days=2, hours=16),
            )
        )
    engine.dispose()


def _free(engine: Engine, resource_id: int) -> list[tuple[int, int]]:
    with session_factory(engine)() as session:
        live = live_plan(session)
        k = live.index[resource_id]
        return list(zip(live.timelines[k].starts, live.timelines[k].ends, strict=True))


def test_the_cache_reloads_after_another_process_writes(
    engine: Engine, client: TestClient, tenants: Tenants
) -> None:
    """A window another process commits shows in this process's live plan at the next use,
    and only the resource it touched is read again."""
    site = make_site(client)
    mill = make_resource(client, site["id"])
    lathe = make_resource(client, site["id"], code="turning.cnc")
    make_window(client, mill["id"], 8, 16)
    make_window(client, lathe["id"], 8, 16)
    day1 = (minute_up(T0 + timedelta(hours=8)), minute_down(T0 + timedelta(hours=16)))
    assert _free(engine, mill["id"]) == [day1]
    with session_factory(engine)() as session:
        reloads = live_plan(session).reloads
    url = engine.url.render_as_string(hide_password=False)
    child = multiprocessing.get_context("spawn").Process(
        target=_add_window_elsewhere, args=(url, mill["id"], tenants["acme"].org_id)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    day3 = (
        minute_up(T0 + timedelta(days=2, hours=8)),
        minute_down(T0 + timedelta(days=2, hours=16)),
    )
    assert _free(engine, mill["id"]) == [day1, day3]
    with session_factory(engine)() as session:
        assert live_plan(session).reloads == reloads + 1  # the mill only


def test_a_booking_takes_its_time_out_of_the_live_plan(
    engine: Engine, client: TestClient, tenants: Tenants
) -> None:
    """Accepting a quote removes the booked span from the resource's free time at the next
    use; cancelling the order gives it back."""
    site = make_site(client)
    mill = make_resource(client, site["id"])
    line = make_resource(client, site["id"], code="coating.anodize", kind="line")
    make_window(client, mill["id"], 8, 20)
    make_window(client, line["id"], 8, 20)
    empty = _free(engine, mill["id"])
    order = created(client.post("/api/v1/orders", json=order_body(quantity=4)))
    quote = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    booked = created(client.post(f"/api/v1/quotes/{quote['id']}/accept"))["bookings"]
    milling = next(b for b in booked if b["resource_id"] == mill["id"])
    free = _free(engine, mill["id"])
    total = sum(e - s for s, e in free)
    assert total == sum(e - s for s, e in empty) - (
        minute_up(datetime.fromisoformat(milling["ends_at"]))
        - minute_down(datetime.fromisoformat(milling["starts_at"]))
    )
    assert client.post(f"/api/v1/orders/{order['id']}/cancel").status_code == 200
    assert _free(engine, mill["id"]) == empty


def test_a_resource_taken_out_of_service_is_no_longer_offered_for_a_step(
    engine: Engine, client: TestClient, tenants: Tenants
) -> None:
    """The qualified resources the live plan remembers per step are forgotten when a resource's
    details change: a mill made inactive stops being a place for the milling step."""
    from sharefab.orders.models import Order

    site = make_site(client)
    mill = make_resource(client, site["id"])
    make_window(client, mill["id"], 8, 16)
    order = created(client.post("/api/v1/orders", json=order_body(quantity=4)))

    def places() -> tuple[list[int], list[str]]:
        with session_factory(engine)() as session:
            row = session.get(Order, order["id"])
            assert row is not None
            milling = min(row.operations, key=lambda op: op.seq)
            live = live_plan(session)
            modes, reasons = live.modes(milling)
            return [live.resources[k].id for k, _ in modes], reasons  # type: ignore[union-attr]

    assert places() == ([mill["id"]], [])
    assert places() == ([mill["id"]], [])  # remembered, the same answer
    patched = client.patch(f"/api/v1/resources/{mill['id']}", json={"is_active": False})
    assert patched.status_code == 200, patched.text
    assert places() == ([], ["inactive"])


def test_a_booking_changes_only_its_resources_time_a_window_their_calendar(
    engine: Engine, client: TestClient, tenants: Tenants
) -> None:
    """The plan clock tells booking changes (only what takes the time: a live plan reloads
    just those) from window changes (the calendar: everything about the resource is read)."""
    from sharefab.market.changes import changes_since, plan_version

    site = make_site(client)
    mill = make_resource(client, site["id"])
    line = make_resource(client, site["id"], code="coating.anodize", kind="line")
    make_window(client, mill["id"], 8, 20)
    make_window(client, line["id"], 8, 20)
    with session_factory(engine)() as session:
        before = plan_version(session)
    order = created(client.post("/api/v1/orders", json=order_body(quantity=4)))
    quote = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    assert client.post(f"/api/v1/quotes/{quote['id']}/accept").status_code == 201
    with session_factory(engine)() as session:
        _, booked = changes_since(session, before)
        after_accept = plan_version(session)
    assert booked == {mill["id"]: False, line["id"]: False}
    make_window(client, mill["id"], 56, 64)  # day 3
    with session_factory(engine)() as session:
        _, windowed = changes_since(session, after_accept)
    assert windowed == {mill["id"]: True}
    day3 = (minute_up(T0 + timedelta(hours=56)), minute_down(T0 + timedelta(hours=64)))
    assert _free(engine, mill["id"])[-1] == day3
