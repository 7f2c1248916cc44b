"""Promises of late orders allow for how far recent late plans slipped (`market/promises.py`)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sharefab.kit.types import utcnow
from sharefab.market import promises
from sharefab.orders.models import Order, OrderStatus
from tests.factories import Tenants, created, make_resource, make_site, make_window, order_body


def _history(
    session: Session,
    org_id: int,
    slips: list[float],
    *,
    late: bool = True,
    done: bool = True,
    lead_days: float = 4,
    ended_days_ago: float = 1,
) -> None:
    """Orders quoted late (promised after due) whose plans ran `lead_days` from acceptance
    and ended `ended_days_ago`; each slipped the given fraction of its lead time (finished
    that much later, or, when not `done`, still open)."""
    now = utcnow()
    lead = timedelta(days=lead_days)
    for k, slip in enumerate(slips):
        end = now - timedelta(days=ended_days_ago)
        due = end - timedelta(hours=1) if late else end + timedelta(days=1)
        session.add(
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
    session.commit()


def test_slip_is_the_quantile_of_recent_late_plans(session: Session, tenants: Tenants) -> None:
    """With 40 late orders that slipped 0.00, 0.01, ..., 0.39 of their lead, the 95 % quantile
    is 0.37 (the 38th of 40) and the 50 % one 0.19 (the 20th)."""
    _history(session, tenants["acme"].org_id, [k / 100 for k in range(40)], ended_days_ago=10)
    now = utcnow()
    assert math.isclose(promises.slip_fraction(session, now, 0.95), 0.37, abs_tol=1e-6)
    assert math.isclose(promises.slip_fraction(session, now, 0.5), 0.19, abs_tol=1e-6)


def test_no_allowance_until_enough_late_plans_ended(session: Session, tenants: Tenants) -> None:
    """Fewer than MINIMUM ended late plans give no allowance; orders promised their due date
    and plans that have not ended yet do not count."""
    org = tenants["acme"].org_id
    _history(session, org, [0.5] * (promises.MINIMUM - 1))
    _history(session, org, [0.9] * 40, late=False)  # promised the due date
    _history(session, org, [0.9] * 40, ended_days_ago=-1)  # planned to end tomorrow
    assert promises.slip_fraction(session, utcnow(), 0.95) == 0.0
    _history(session, org, [0.5])
    assert math.isclose(promises.slip_fraction(session, utcnow(), 0.95), 0.5, abs_tol=1e-6)


def test_open_orders_count_their_slip_so_far(session: Session, tenants: Tenants) -> None:
    """A late plan that ended three days ago (lead 4 days) and is still not done has slipped
    at least 0.75 of its lead: unfinished work is not left out of the sample."""
    _history(session, tenants["acme"].org_id, [0.0] * 30, done=False, ended_days_ago=3)
    assert math.isclose(promises.slip_fraction(session, utcnow(), 0.95), 0.75, abs_tol=1e-3)


def test_late_quote_promises_plan_plus_allowance(
    client: TestClient, tenants: Tenants, session: Session
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
    _history(session, tenants["rival"].org_id, [0.5] * 40)
    second = balanced("PO-LATE-2")
    assert second["breakdown"]["planned_delivery_at"] == planned  # the same plan
    release = order_body()["release_at"]
    lead = (datetime.fromisoformat(planned) - datetime.fromisoformat(release)).total_seconds()
    allowance = math.ceil(0.5 * lead / 60)
    assert allowance > buffer
    assert second["breakdown"]["promise_allowance_minutes"] == allowance
    promised = datetime.fromisoformat(second["promised_at"])
    assert promised == datetime.fromisoformat(planned) + timedelta(minutes=allowance)
