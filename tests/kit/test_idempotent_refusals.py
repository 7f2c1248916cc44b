"""A refusal answered under an Idempotency-Key is that key's answer for good (it is replayed)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Tenants, booked_order, created, problem, report


def test_refused_event_is_replayed_not_redone_later(
    app_client: TestClient, tenants: Tenants
) -> None:
    """Starting step 2 before step 1 is done is refused (409); the same key asked again after
    step 1 is done still gets that 409 (replayed) and step 2 stays unstarted; a new key works.
    (Before, the retry ran again and started it: a client that had been told "refused", say by
    a retry that overtook its original in the server's queue, would see the work done anyway.)"""
    w = booked_order(app_client, tenants)
    p, first, second = w["p"], w["first"], w["second"]
    key = {"Idempotency-Key": "start-step-2"}
    path = f"/api/v1/work-orders/{second['id']}/events"
    refused = problem(p.post(path, json={"type": "started"}, headers=key), 409)
    created(report(p, first, type="started"))
    created(report(p, first, type="completed"))
    again = p.post(path, json={"type": "started"}, headers=key)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == refused
    assert p.get(f"/api/v1/work-orders/{second['id']}").json()["status"] == "committed"
    fresh = p.post(path, json={"type": "started"}, headers={"Idempotency-Key": "start-again"})
    assert fresh.status_code == 201, fresh.text
