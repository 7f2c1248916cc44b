"""The operator's re-optimisation (a job): bookings not yet started move to where they are
cheaper or earlier, and never to a worse plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sharefab.kit.settings import get_settings
from tests.factories import Tenants, created, make_resource, make_site, order_body, problem
from tests.jobs.support import wait_job


def reoptimised(op: TestClient, **params: Any) -> dict[str, Any]:
    """Start a re-optimisation job as the operator and return its result once it succeeded."""
    started = op.post("/api/v1/plans/reoptimise", params=params)
    assert started.status_code == 202, started.text
    job = wait_job(op, started.json()["id"])
    assert job["state"] == "succeeded", job
    result: dict[str, Any] = job["result"]
    return result


def _order(
    c: TestClient, ref: str, now: datetime, due: timedelta = timedelta(days=3)
) -> dict[str, Any]:
    body = order_body(
        ref,
        quantity=10,
        release_at=now.isoformat(),
        due_at=(now + due).isoformat(),
        operations=[
            {
                "capability_code": "milling.cnc.5axis",
                "setup_minutes": 60,
                "unit_seconds": 900,
                "class_unit_seconds": {"cnc5-highspeed": 450},
            }
        ],
    )
    return created(c.post("/api/v1/orders", json=body))


def test_freed_capacity_is_used(app_client: TestClient, tenants: Tenants) -> None:
    """After an order is cancelled, re-optimising moves a late order onto the freed machine,
    where it is on time (210 min of milling on the slow machine, 135 on the fast one)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fast_owner = TestClient(app_client.app, headers=tenants["provider2"].headers)
    slow_owner = TestClient(app_client.app, headers=tenants["rival"].headers)
    fast = make_resource(
        fast_owner, make_site(fast_owner)["id"], rate=20000, resource_class="cnc5-highspeed"
    )
    slow = make_resource(
        slow_owner, make_site(slow_owner)["id"], rate=30000, resource_class="cnc5-standard"
    )
    for owner, r in ((fast_owner, fast), (slow_owner, slow)):
        created(
            owner.post(
                "/api/v1/capacity-windows",
                json={
                    "resource_id": r["id"],
                    "starts_at": (now + timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=3)).isoformat(),
                },
            )
        )
    b2 = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    acme = TestClient(app_client.app, headers=tenants["acme"].headers)
    first = _order(b2, "X", now)
    q1 = created(b2.post(f"/api/v1/orders/{first['id']}/quotes"))
    created(
        b2.post(f"/api/v1/quotes/{next(q for q in q1 if q['option'] == 'fastest')['id']}/accept")
    )
    second = _order(acme, "Y", now, due=timedelta(hours=4))
    q2 = created(acme.post(f"/api/v1/orders/{second['id']}/quotes"))
    fastest = next(q for q in q2 if q["option"] == "fastest")
    assert fastest["slots"][0]["resource_id"] == slow["id"]  # the fast machine is taken by X
    created(acme.post(f"/api/v1/quotes/{fastest['id']}/accept"))
    b2.post(f"/api/v1/orders/{first['id']}/cancel")

    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    problem(acme.post("/api/v1/plans/reoptimise"), 403)
    report = reoptimised(op, time_limit=5)
    assert [(m["from_resource_id"], m["to_resource_id"]) for m in report["moved"]] == [
        (slow["id"], fast["id"])
    ]
    assert report["promised_dates_changed"] == []
    live = acme.get(f"/api/v1/orders/{second['id']}/bookings").json()
    assert [b["resource_id"] for b in live] == [fast["id"]]
    assert live[0]["ends_at"] <= fastest["slots"][0]["ends_at"]


def test_nothing_to_move(app_client: TestClient, tenants: Tenants) -> None:
    """With no bookings waiting, re-optimising moves nothing."""
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    assert reoptimised(op)["moved"] == []


def test_short_and_long_steps_share_a_machine(app_client: TestClient, tenants: Tenants) -> None:
    """A machine with a short and a long window keeps both bookings valid when re-optimised:
    the solver sees all of a machine's free time, not only spans long enough for one step."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    owner = TestClient(app_client.app, headers=tenants["provider2"].headers)
    mill = make_resource(owner, make_site(owner)["id"], rate=20000)
    for start_h, end_h in ((2, 3), (5, 15)):
        created(
            owner.post(
                "/api/v1/capacity-windows",
                json={
                    "resource_id": mill["id"],
                    "starts_at": (now + timedelta(hours=start_h)).isoformat(),
                    "ends_at": (now + timedelta(hours=end_h)).isoformat(),
                },
            )
        )
    acme = TestClient(app_client.app, headers=tenants["acme"].headers)
    for ref, units in (("LONG", 20), ("SHORT", 1)):
        body = order_body(
            ref,
            quantity=units,
            release_at=now.isoformat(),
            due_at=(now + timedelta(days=2)).isoformat(),
            operations=[
                {"capability_code": "milling.cnc.5axis", "setup_minutes": 10, "unit_seconds": 900}
            ],
        )
        order = created(acme.post("/api/v1/orders", json=body))
        quote = created(acme.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
        created(acme.post(f"/api/v1/quotes/{quote['id']}/accept"))
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    report = reoptimised(op, time_limit=5)
    assert report["unplaced"] == []
    assert report["promised_dates_changed"] == []


def test_absurd_time_limit_is_refused(app_client: TestClient, tenants: Tenants) -> None:
    """time_limit=1e12 (or inf) is 422 naming query.time_limit, not a silently clamped solve."""
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    for value in ("1e12", "inf", "61"):
        body = problem(op.post(f"/api/v1/plans/reoptimise?time_limit={value}"), 422)
        assert body["errors"] == [{"field": "query.time_limit", "message": "at most 60"}]
    assert reoptimised(op, time_limit=1)["moved"] == []


def _busy_market(
    app_client: TestClient, tenants: Tenants, due_hours: int = 10
) -> list[dict[str, Any]]:
    """Two mills and a line, six two-step orders booked on them (the fastest quote each),
    the last due in `due_hours`, each earlier one 3 h later: later orders wait behind earlier
    ones; the bookings of every order."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    owner = TestClient(app_client.app, headers=tenants["provider2"].headers)
    site = make_site(owner)
    mills = [make_resource(owner, site["id"], name=f"mill {k}") for k in range(2)]
    line = make_resource(owner, site["id"], code="coating.anodize", kind="line")
    for r in [*mills, line]:
        created(
            owner.post(
                "/api/v1/capacity-windows",
                json={
                    "resource_id": r["id"],
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=4)).isoformat(),
                },
            )
        )
    acme = TestClient(app_client.app, headers=tenants["acme"].headers)
    booked = []
    for k in range(6):
        body = order_body(
            f"BUSY-{k}",
            quantity=8,
            release_at=now.isoformat(),
            due_at=(now + timedelta(hours=due_hours + 3 * (5 - k))).isoformat(),
        )
        order = created(acme.post("/api/v1/orders", json=body))
        quotes = created(acme.post(f"/api/v1/orders/{order['id']}/quotes"))
        fastest = next(q for q in quotes if q["option"] == "fastest")
        booked.append(created(acme.post(f"/api/v1/quotes/{fastest['id']}/accept")))
    return booked


def test_a_started_step_never_moves_and_the_plan_never_gets_worse(
    app_client: TestClient, tenants: Tenants
) -> None:
    """With one step running, re-optimising leaves its work order exactly as it was, moves only
    steps not started, and its objective (orders late, promises broken, lateness) is never
    worse than the plan as it stood."""
    booked = _busy_market(app_client, tenants)
    owner = TestClient(app_client.app, headers=tenants["provider2"].headers)
    running = min(booked[0]["bookings"], key=lambda b: b["starts_at"])
    created(owner.post(f"/api/v1/work-orders/{running['id']}/events", json={"type": "started"}))
    before = owner.get(f"/api/v1/work-orders/{running['id']}").json()
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    report = reoptimised(op)
    assert running["id"] not in {m["old_booking_id"] for m in report["moved"]}
    after = owner.get(f"/api/v1/work-orders/{running['id']}").json()
    assert {k: after[k] for k in ("resource_id", "starts_at", "ends_at", "status")} == {
        k: before[k] for k in ("resource_id", "starts_at", "ends_at", "status")
    }
    order = ("weighted_orders_late", "weighted_promises_broken", "weighted_lateness_h")
    objective = report["objective"]
    assert (
        tuple(objective["after"][k] for k in order) <= tuple(objective["before"][k] for k in order)
        or not objective["applied"]
    )


def test_reoptimising_twice_moves_no_work_the_second_time(
    app_client: TestClient, tenants: Tenants
) -> None:
    """Re-optimising, then once more, finds nothing more to change the second time: the
    planner counts its work (no clock), so the plan it made is its own fixed point."""
    _busy_market(app_client, tenants)
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    reoptimised(op)
    again = reoptimised(op)
    assert [m for m in again["moved"] if m["from_resource_id"] != m["to_resource_id"]] == []


@pytest.fixture
def plan_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set `SHAREFAB_<NAME>` settings for one test (the cached settings are read again)."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"SHAREFAB_{name.upper()}", value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_job_searches_on_a_process_pool(
    app_client: TestClient, tenants: Tenants, plan_settings: Any
) -> None:
    """A job asked to search, with orders late whatever the plan and the planner's pool set
    to two processes, runs the search, keeps one booking per step and never makes the plan
    worse."""
    plan_settings(plan_workers="2")
    booked = _busy_market(app_client, tenants, due_hours=1)
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    report = reoptimised(op, time_limit=5, search=True)
    assert report["objective"]["search"]["ran"]
    objective = report["objective"]
    order = ("weighted_orders_late", "weighted_promises_broken", "weighted_lateness_h")
    assert tuple(objective["after"][k] for k in order) <= tuple(
        objective["before"][k] for k in order
    )
    acme = TestClient(app_client.app, headers=tenants["acme"].headers)
    for b in booked:
        live = acme.get(f"/api/v1/orders/{b['quote']['order_id']}/bookings").json()
        steps = [x["operation_id"] for x in live if x["status"] == "committed"]
        assert len(steps) == len(set(steps)) == len(b["bookings"])


def test_an_unreachable_dask_scheduler_fails_the_job_saying_so(
    app_client: TestClient, tenants: Tenants, plan_settings: Any
) -> None:
    """The planner's pool set to a Dask scheduler nobody runs: the job fails with a message
    naming the setting and the address, and no booking moves."""
    plan_settings(plan_engine="dask", plan_address="tcp://127.0.0.1:9")
    booked = _busy_market(app_client, tenants, due_hours=1)
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    started = op.post("/api/v1/plans/reoptimise", params={"time_limit": 5, "search": True})
    assert started.status_code == 202, started.text
    job = wait_job(op, started.json()["id"])
    assert job["state"] == "failed"
    assert "SHAREFAB_PLAN_ENGINE=dask" in job["error"]
    assert "tcp://127.0.0.1:9" in job["error"]
    acme = TestClient(app_client.app, headers=tenants["acme"].headers)
    for b in booked:
        live = acme.get(f"/api/v1/orders/{b['quote']['order_id']}/bookings").json()
        assert sorted(x["id"] for x in live if x["status"] == "committed") == sorted(
            x["id"] for x in b["bookings"]
        )


def test_the_search_runs_only_when_asked_for(app_client: TestClient, tenants: Tenants) -> None:
    """With orders late whatever the plan, a job started without `search` reports that the
    cluster planner's search did not run (the server's setting leaves it off)."""
    _busy_market(app_client, tenants, due_hours=1)
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    report = reoptimised(op, time_limit=5)
    assert report["objective"]["before"]["weighted_orders_late"] > 0
    assert report["objective"]["search"] == {"ran": False, "taken": False}
