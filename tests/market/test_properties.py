"""Property: whatever sequence of accepts, cancels, breakdowns and completions happens, no two
live bookings of a resource overlap, the ledger balances, and every escrow resolves once."""

from __future__ import annotations

import itertools
import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sharefab.app import create_app
from sharefab.kit.db import build_engine, unit_of_work
from sharefab.ledger import service as ledger
from sharefab.ledger.models import Account
from sharefab.market.models import Booking, BookingStatus
from sharefab.orders.models import Order, OrderStatus
from tests.factories import Tenants, make_tenants, order_body

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["accept", "cancel", "breakdown", "start", "complete", "close"]),
        st.integers(0, 5),
        st.integers(30, 3000),
    ),
    min_size=1,
    max_size=10,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _world(app_client: TestClient, tenants: Tenants) -> tuple[dict[str, TestClient], list[int]]:
    """Two providers with two mills and two anodising lines each; six draft orders."""
    now = _now()
    clients = {n: TestClient(app_client.app, headers=tenants[n].headers) for n in tenants}
    resources = []
    for name in ("provider2", "rival"):
        c = clients[name]
        site = c.post(
            "/api/v1/sites", json={"name": "P", "latitude": 31.3, "longitude": 120.7}
        ).json()
        for code in (
            "milling.cnc.5axis",
            "milling.cnc.5axis",
            "coating.anodize",
            "coating.anodize",
        ):
            body = {
                "site_id": site["id"],
                "name": code,
                "kind": "machine",
                "hourly_rate_minor": 10000,
                "capabilities": [{"code": code}],
            }
            r = c.post("/api/v1/resources", json=body).json()
            resources.append(r["id"])
            c.post(
                "/api/v1/capacity-windows",
                json={
                    "resource_id": r["id"],
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=6)).isoformat(),
                },
            )
    buyers = [clients["buyer2"], clients["acme"]]
    for i in range(6):
        buyers[i % 2].post(
            "/api/v1/orders",
            json=order_body(
                f"P-{i}",
                quantity=4,
                release_at=now.isoformat(),
                due_at=(now + timedelta(days=4)).isoformat(),
            ),
        )
    return clients, resources


def _apply(
    clients: dict[str, TestClient], resources: list[int], action: tuple[str, int, int]
) -> None:
    kind, i, minutes = action
    buyer = clients["buyer2"] if i % 2 == 0 else clients["acme"]
    order_id = i + 1
    if kind == "accept":
        quotes = buyer.post(f"/api/v1/orders/{order_id}/quotes")
        if quotes.status_code == 201:
            buyer.post(f"/api/v1/quotes/{quotes.json()[0]['id']}/accept")
    elif kind == "cancel":
        buyer.post(f"/api/v1/orders/{order_id}/cancel")
    elif kind == "breakdown":
        rid = resources[i % len(resources)]
        owner = clients["provider2"] if i % len(resources) < 4 else clients["rival"]
        owner.post(f"/api/v1/resources/{rid}/breakdown", json={"repair_minutes": minutes})
    elif kind in ("start", "complete"):
        for name in ("provider2", "rival"):
            work = clients[name].get("/api/v1/work-orders", params={"limit": 500}).json()["items"]
            for w in work:
                if w["order_id"] == order_id:
                    clients[name].post(
                        f"/api/v1/work-orders/{w['id']}/events",
                        json={"type": "started" if kind == "start" else "completed"},
                    )
    elif kind == "close":
        buyer.post(f"/api/v1/orders/{order_id}/confirm-delivery")
        buyer.post(f"/api/v1/orders/{order_id}/close")


def _check(engine: Any) -> None:
    with unit_of_work(engine, write=False) as s:
        live = s.scalars(select(Booking).where(Booking.status != BookingStatus.cancelled)).all()
        by_resource: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for b in live:
            by_resource[b.resource_id].append((b.starts_at, b.ends_at))
        for spans in by_resource.values():
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                assert end <= start, "two live bookings of one resource overlap"
        assert ledger.verify_ledger(s) == []
        for escrow in s.scalars(select(Account).where(Account.order_id.is_not(None))):
            assert escrow.balance_minor >= 0
            order = s.get(Order, escrow.order_id)
            if order is not None and order.status in (OrderStatus.cancelled, OrderStatus.closed):
                assert escrow.balance_minor == 0, "a finished order left money in escrow"
                assert escrow.settled_at is not None


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS)
def test_invariants_hold(sqlite_template: Path, tmp_path_factory: Any, actions: list) -> None:
    """No overlaps, a balanced ledger and settled escrows after any sequence of actions."""
    path = tmp_path_factory.mktemp("prop") / "db.sqlite"
    shutil.copyfile(sqlite_template, path)
    engine = build_engine(f"sqlite:///{path}")
    tenants = make_tenants(engine)
    with TestClient(create_app(engine), raise_server_exceptions=True) as app_client:
        clients, resources = _world(app_client, tenants)
        for action in actions:
            _apply(clients, resources, action)
            _check(engine)
    engine.dispose()
