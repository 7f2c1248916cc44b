"""Helpers of the job tests: follow a job over the API, job functions that wait or count."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from sharefab.jobs.contract import Context
from sharefab.kit.db import unit_of_work
from sharefab.market.models import Booking


def wait_job(c: TestClient, job_id: int, timeout: float = 120.0) -> dict[str, Any]:
    """Poll GET /jobs/{id} until the job is no longer queued or running; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}: {job}"
        time.sleep(0.05)


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "the condition") -> None:
    """Wait until `predicate()` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Blocking:
    """A job function that reports progress, then waits until it is cancelled (or released)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, ctx: Context) -> dict[str, Any]:
        ctx.progress(0.25, "waiting", best={"promises_broken": 2, "weighted_lateness_h": 12.5})
        self.started.set()
        deadline = time.monotonic() + 60
        while not self.release.is_set() and time.monotonic() < deadline:
            ctx.check()
            time.sleep(0.01)
        return {"released": True}


def plan_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every booking as it stands (all columns that place it), by id."""
    with unit_of_work(engine, write=False) as s:
        return [
            (b.id, b.order_id, b.operation_id, b.resource_id, b.starts_at, b.ends_at, b.status)
            for b in s.scalars(select(Booking).order_by(Booking.id))
        ]


def movable_plan(app: Any, tenants: Any) -> dict[str, Any]:
    """A plan a re-optimisation improves: order Y sits on a slow machine, late, because X held
    the fast one; X is then cancelled, so re-optimising moves Y onto the fast machine, where
    it is on time."""
    from datetime import UTC, datetime, timedelta

    from tests.factories import created, make_resource, make_site, order_body

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fast_owner = TestClient(app, headers=tenants["provider2"].headers)
    slow_owner = TestClient(app, headers=tenants["rival"].headers)
    fast = make_resource(
        fast_owner, make_site(fast_owner)["id"], rate=20000, resource_class="cnc5-highspeed"
    )
    slow = make_resource(
        slow_owner, make_site(slow_owner)["id"], rate=30000, resource_class="cnc5-standard"
    )
    for owner, r in ((fast_owner, fast), (slow_owner, slow)):
        window = {
            "resource_id": r["id"],
            "starts_at": (now + timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(),
        }
        created(owner.post("/api/v1/capacity-windows", json=window))

    def order(c: TestClient, ref: str, due: timedelta = timedelta(days=3)) -> dict[str, Any]:
        op = {
            "capability_code": "milling.cnc.5axis",
            "setup_minutes": 60,
            "unit_seconds": 900,
            "class_unit_seconds": {"cnc5-highspeed": 450},
        }
        body = order_body(
            ref,
            quantity=10,
            release_at=now.isoformat(),
            due_at=(now + due).isoformat(),
            operations=[op],
        )
        made = created(c.post("/api/v1/orders", json=body))
        quotes = created(c.post(f"/api/v1/orders/{made['id']}/quotes"))
        fastest = next(q for q in quotes if q["option"] == "fastest")
        created(c.post(f"/api/v1/quotes/{fastest['id']}/accept"))
        return made

    b2 = TestClient(app, headers=tenants["buyer2"].headers)
    acme = TestClient(app, headers=tenants["acme"].headers)
    first = order(b2, "X")
    second = order(acme, "Y", due=timedelta(hours=4))  # late on the slow machine
    b2.post(f"/api/v1/orders/{first['id']}/cancel")
    return {"fast": fast, "slow": slow, "order": second}
