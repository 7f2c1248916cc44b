"""Promises of late orders allow for how far recent late plans slipped (`market/promises.py`)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.kit.db import unit_of_work
from sharefab.kit.types import utcnow
from sharefab.market import promises
from tests.factories import (
    Tenants,
    created,
    make_resource,
    make_site,
    make_window,
    order_body,
    slipped_orders,
)


def _slip(engine: Engine, now: datetime, level: float) -> float:
    with unit_of_work(engine, write=False) as session:
        return promises.slip_fraction(session, now, level)


def test_slip_is_the_quantile_of_recent_late_plans(engine: Engine, tenants: Tenants) -> None:
    """With 40 late orders that slipped 0.00, 0.01, ..., 0.39 of their lead, the 95 % quantile
    is 0.37 (the 38th of 40) and the 50 % one 0.19 (the 20th)."""
    slipped_orders(engine, tenants["acme"].org_id, [k / 100 for k in range(40)], ended_days_ago=10)
    now = utcnow()
    assert math.isclose(_slip(engine, now, 0.95), 0.37, abs_tol=1e-6)
    assert math.isclose(_slip(engine, now, 0.5), 0.19, abs_tol=1e-6)


def test_no_allowance_until_enough_late_plans_ended(engine: Engine, tenants: Tenants) -> None:
    """Fewer than MINIMUM ended late plans give no allowance; orders promised their due date
    and plans that have not ended yet do not count."""
    org = tenants["acme"].org_id
    slipped_orders(engine, org, [0.5] * (promises.MINIMUM - 1))
    slipped_orders(engine, org, [0.9] * 40, late=False)  # promised the due date
    slipped_orders(engine, org, [0.9] * 40, ended_days_ago=-1)  # planned to end tomorrow
    assert _slip(engine, utcnow(), 0.95) == 0.0
    slipped_orders(engine, org, [0.5])
    assert math.isclose(_slip(engine, utcnow(), 0.95), 0.5, abs_tol=1e-6)


def test_open_orders_count_their_slip_so_far(engine: Engine, tenants: Tenants) -> None:
    """A late plan that ended three days ago (lead 4 days) and is still not done has slipped
    at least 0.75 of its lead: unfinished work is not left out of the sample."""
    slipped_orders(engine, tenants["acme"].org_id, [0.0] * 30, done=False, ended_days_ago=3)
    assert math.isclose(_slip(engine, utcnow(), 0.95), 0.75, abs_tol=1e-3)


def test_late_quote_promises_plan_plus_allowance(
    client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A quote that cannot meet the due date promises its planned delivery plus its buffer;
    once 40 late plans have slipped half their lead time, the same order is promised its
    planned delivery plus half its lead time, and the quote says how much it allowed."""
    site = make_site(client)
    mill = make_resource(client, site["id"])
    line = make_resource(client, site["id"], code="coating.anodize", kind="line", name="line")
    for day in range(10):
        make_window(client, mill["id"], 24 * day + 8, 24 * day + 20)
        make_window(client, line["id"], 24 * day + 8, 24 * day + 20)

    def balanced(reference: str) -> dict[str, Any]:
        body = order_body(reference, quantity=40)
        body["due_at"] = body["release_at"].replace("T00:00", "T10:00")  # ten hours: late
        order = created(client.post("/api/v1/orders", json=body))
        quotes = created(client.post(f"/api/v1/orders/{order['id']}/quotes"))
        return next(
            q
            for q in quotes
            if "balanced" in [q["option"], *q["breakdown"].get("also_best_for", [])]
        )

    first = balanced("PO-LATE-1")
    planned = first["breakdown"]["planned_delivery_at"]
    buffer = first["breakdown"]["buffer_minutes"]
    assert first["breakdown"]["promise_allowance_minutes"] == buffer
    slipped_orders(engine, tenants["rival"].org_id, [0.5] * 40)
    second = balanced("PO-LATE-2")
    assert second["breakdown"]["planned_delivery_at"] == planned  # the same plan
    release = order_body()["release_at"]
    lead = (datetime.fromisoformat(planned) - datetime.fromisoformat(release)).total_seconds()
    allowance = math.ceil(0.5 * lead / 60)
    assert allowance > buffer
    assert second["breakdown"]["promise_allowance_minutes"] == allowance
    promised = datetime.fromisoformat(second["promised_at"])
    assert promised == datetime.fromisoformat(planned) + timedelta(minutes=allowance)
