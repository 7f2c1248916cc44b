"""The jobs API: re-optimisation starts a job (202), one at a time (409 naming it), is seen
by the operator and the organisation that started it only, is cancelled without touching the
plan, and a job whose process died is failed so a new one can start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine

from sharefab.jobs.contract import Context
from sharefab.jobs.models import Job, JobState
from sharefab.jobs.runner import Runner
from sharefab.kit.db import unit_of_work
from sharefab.kit.types import utcnow
from sharefab.market import replan
from tests.factories import Tenants, created, problem
from tests.jobs.support import Blocking, movable_plan, plan_rows, wait_for, wait_job

START = "/api/v1/plans/reoptimise"


@pytest.fixture
def op(app_client: TestClient, tenants: Tenants) -> TestClient:
    """The platform operator."""
    return TestClient(app_client.app, headers=tenants["operator"].headers)


@pytest.fixture
def runner(app_client: TestClient) -> Iterator[Runner]:
    """The app's job runner (its functions may be swapped by a test)."""
    r: Runner = app_client.app.state.jobs  # type: ignore[attr-defined]
    original = dict(r.functions)
    yield r
    r.close(timeout=30)
    r.functions = original


def _started(c: TestClient, **params: Any) -> dict[str, Any]:
    r = c.post(START, params=params)
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    return job


class TestStart:
    def test_start_answers_202_with_the_job_and_its_location(self, op: TestClient) -> None:
        """202 at once, the job (queued or running) in the body and at `Location`; it then
        succeeds with the re-optimisation report as its result."""
        r = op.post(START, params={"time_limit": 2})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/api/v1/jobs/{job['id']}"
        assert job["kind"] == "reoptimise"
        assert job["state"] in ("queued", "running")
        assert job["params"] == {"time_limit": 2, "search": False}
        assert job["trigger"] == "api"
        done = wait_job(op, job["id"])
        assert done["state"] == "succeeded"
        assert done["progress"] == 1.0
        assert set(done["result"]) >= {"moved", "promised_dates_changed", "unplaced"}

    def test_the_job_moves_bookings(self, app_client: TestClient, tenants: Tenants) -> None:
        """The job's result lists the booking it moved onto the freed fast machine."""
        plan = movable_plan(app_client.app, tenants)
        op = TestClient(app_client.app, headers=tenants["operator"].headers)
        done = wait_job(op, _started(op, time_limit=5)["id"])
        moved = [(m["from_resource_id"], m["to_resource_id"]) for m in done["result"]["moved"]]
        assert moved == [(plan["slow"]["id"], plan["fast"]["id"])]

    def test_a_second_start_is_409_naming_the_running_job(
        self, op: TestClient, runner: Runner
    ) -> None:
        """While one runs, a start is problem+json 409 naming the job; after it ends (here by
        cancel) the next start is accepted."""
        block = Blocking()
        runner.functions["reoptimise"] = block
        first = _started(op)
        assert block.started.wait(30)
        second = op.post(START)
        body = problem(second, 409)
        assert f"job {first['id']} (reoptimise) is running since" in body["detail"]
        assert body["detail"].endswith("cancel it or wait")
        assert body["job"] == {"id": first["id"], "kind": "reoptimise", "state": "running"}
        assert op.post(f"/api/v1/jobs/{first['id']}/cancel").status_code == 200
        assert wait_job(op, first["id"])["state"] == "cancelled"
        runner.functions["reoptimise"] = lambda ctx: {}
        assert wait_job(op, _started(op)["id"])["state"] == "succeeded"

    def test_a_retried_start_replays_the_same_job(self, op: TestClient) -> None:
        """The same Idempotency-Key gives the first answer (the same job), not a second job."""
        key = {"Idempotency-Key": "reopt-1"}
        first = op.post(START, headers=key)
        again = op.post(START, headers=key)
        assert first.status_code == again.status_code == 202
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        wait_job(op, first.json()["id"])
        assert op.get("/api/v1/jobs", params={"kind": "reoptimise"}).json()["total"] == 1

    def test_bad_time_limits_are_422(self, op: TestClient) -> None:
        """A time limit over the server's cap, or not positive, names query.time_limit."""
        for value in ("61", "inf", "0", "-1"):
            body = problem(op.post(START, params={"time_limit": value}), 422)
            assert body["errors"][0]["field"] == "query.time_limit"


class TestProgress:
    def test_progress_and_best_so_far_are_visible(self, op: TestClient, runner: Runner) -> None:
        """GET shows a running job's progress, message and best objective so far."""
        block = Blocking()
        runner.functions["reoptimise"] = block
        job = _started(op)
        assert block.started.wait(30)

        def shown() -> bool:
            return bool(op.get(f"/api/v1/jobs/{job['id']}").json()["progress"] == 0.25)

        wait_for(shown, what="the progress")
        now = op.get(f"/api/v1/jobs/{job['id']}").json()
        assert now["state"] == "running"
        assert now["message"] == "waiting"
        assert now["best"] == {"promises_broken": 2, "weighted_lateness_h": 12.5}
        block.release.set()
        assert wait_job(op, job["id"])["result"] == {"released": True}


class TestCancel:
    def test_cancel_leaves_every_booking_as_it_was(
        self, app_client: TestClient, tenants: Tenants, engine: Engine, runner: Runner
    ) -> None:
        """The real re-optimisation has moved a booking inside its final transaction when the
        cancel arrives: the job ends cancelled and the bookings are exactly as before."""
        movable_plan(app_client.app, tenants)
        op = TestClient(app_client.app, headers=tenants["operator"].headers)
        before = plan_rows(engine)
        inside = threading.Event()
        moves: list[Any] = []

        def reoptimise_then_wait(ctx: Context) -> dict[str, Any]:
            with ctx.apply() as session:
                report = replan.reoptimise(session, time_limit=5)
                moves.extend(report.moves)
                inside.set()
                wait_for(ctx.cancelled, what="the cancel")
            return report.as_dict()

        runner.functions["reoptimise"] = reoptimise_then_wait
        job = _started(op)
        assert inside.wait(60)
        assert moves  # the planner did move a booking (not yet committed)
        cancel = op.post(f"/api/v1/jobs/{job['id']}/cancel")
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["state"] in ("running", "cancelled")
        done = wait_job(op, job["id"])
        assert done["state"] == "cancelled"
        assert done["result"] is None
        assert plan_rows(engine) == before

    def test_cancel_of_a_finished_job_is_409(self, op: TestClient) -> None:
        """A job that succeeded cannot be cancelled; the answer names its state."""
        job = wait_job(op, _started(op, time_limit=1)["id"])
        body = problem(op.post(f"/api/v1/jobs/{job['id']}/cancel"), 409)
        assert f"job {job['id']} (reoptimise) already succeeded" in body["detail"]


def _dead_job(engine: Engine, org_id: int) -> int:
    """A running re-optimisation whose process was killed an hour ago (no thread runs it)."""
    with unit_of_work(engine) as s:
        dead = Job(
            kind="reoptimise",
            state=JobState.running,
            organization_id=org_id,
            created_at=utcnow() - timedelta(hours=1),
            started_at=utcnow() - timedelta(hours=1),
            heartbeat_at=utcnow() - timedelta(hours=1),
        )
        s.add(dead)
        s.flush()
        return dead.id


class TestDeadProcess:
    def test_listing_fails_a_job_whose_heartbeat_is_stale(
        self, op: TestClient, engine: Engine, tenants: Tenants
    ) -> None:
        """A running job whose process stopped (no heartbeat for longer than the limit) shows
        failed, with the reason, as soon as jobs are listed; a new job then starts."""
        dead = _dead_job(engine, tenants["operator"].org_id)
        listed = op.get("/api/v1/jobs").json()["items"]
        assert [(j["id"], j["state"]) for j in listed] == [(dead, "failed")]
        assert "the process running it stopped" in listed[0]["error"]
        assert wait_job(op, _started(op)["id"])["state"] == "succeeded"

    def test_a_start_fails_the_dead_job_itself(
        self, op: TestClient, engine: Engine, tenants: Tenants
    ) -> None:
        """Without anyone listing jobs first, a start fails the dead job and goes ahead."""
        dead = _dead_job(engine, tenants["operator"].org_id)
        new = _started(op)
        assert op.get(f"/api/v1/jobs/{dead}").json()["state"] == "failed"
        assert wait_job(op, new["id"])["state"] == "succeeded"

    def test_a_live_job_of_this_process_is_never_failed(
        self, op: TestClient, engine: Engine, runner: Runner
    ) -> None:
        """A job this server runs stays running even if its heartbeat row looks old (a busy
        database delayed it): only another process's silence means death."""
        block = Blocking()
        runner.functions["reoptimise"] = block
        job = _started(op)
        assert block.started.wait(30)
        runner.heartbeat_seconds = 3600.0  # no more beats from here on
        with unit_of_work(engine) as s:
            s.execute(
                update(Job)
                .where(Job.id == job["id"])
                .values(heartbeat_at=utcnow() - timedelta(hours=1))
            )
        assert op.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "running"
        problem(op.post(START), 409)
        block.release.set()
        assert wait_job(op, job["id"])["state"] == "succeeded"


class TestWhoSeesWhat:
    def test_only_the_operator_starts_a_reoptimisation(
        self, app_client: TestClient, tenants: Tenants
    ) -> None:
        """Every other organisation gets 403; an anonymous caller 401."""
        for name in ("acme", "buyer2", "provider2"):
            c = TestClient(app_client.app, headers=tenants[name].headers)
            assert "operator" in problem(c.post(START), 403)["detail"]
        problem(TestClient(app_client.app).post(START), 401)

    def test_jobs_are_seen_by_their_organisation_and_the_operator(
        self, app_client: TestClient, tenants: Tenants, op: TestClient, engine: Engine
    ) -> None:
        """acme's job: acme and the operator see it; buyer2 gets 404 on it (read and cancel)
        and an empty list; the operator's own job is not in acme's list."""
        with unit_of_work(engine) as s:
            mine = Job(kind="import", organization_id=tenants["acme"].org_id, message="acme's")
            s.add(mine)
            s.flush()
            acme_job = mine.id
        op_job = _started(op)["id"]
        acme = TestClient(app_client.app, headers=tenants["acme"].headers)
        other = TestClient(app_client.app, headers=tenants["buyer2"].headers)
        assert [j["id"] for j in acme.get("/api/v1/jobs").json()["items"]] == [acme_job]
        assert acme.get(f"/api/v1/jobs/{acme_job}").json()["message"] == "acme's"
        problem(acme.get(f"/api/v1/jobs/{op_job}"), 404)
        assert other.get("/api/v1/jobs").json() == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
        }
        for call in (other.get, other.post):
            suffix = "" if call == other.get else "/cancel"
            body = problem(call(f"/api/v1/jobs/{acme_job}{suffix}"), 404)
            assert "acme" not in body["detail"]
        ids = {j["id"] for j in op.get("/api/v1/jobs").json()["items"]}
        assert {acme_job, op_job} <= ids
        assert acme.post(f"/api/v1/jobs/{acme_job}/cancel").json()["state"] == "cancelled"
        wait_job(op, op_job)

    def test_a_read_only_api_key_cannot_cancel(self, client: TestClient, engine: Engine) -> None:
        """An API key with only `read` lists jobs but may not cancel them (403)."""
        key = created(client.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["read"]}))
        ro = TestClient(client.app, headers={"X-API-Key": key["key"]})
        me = client.get("/api/v1/me").json()["organization"]["id"]
        with unit_of_work(engine) as s:
            job = Job(kind="import", organization_id=me)
            s.add(job)
            s.flush()
            job_id = job.id
        assert ro.get("/api/v1/jobs").json()["total"] == 1
        assert "scope" in problem(ro.post(f"/api/v1/jobs/{job_id}/cancel"), 403)["detail"]

    def test_filters(self, op: TestClient, engine: Engine) -> None:
        """Lists filter by kind and state, newest first."""
        with unit_of_work(engine) as s:
            for kind, state in (("a", JobState.failed), ("b", JobState.succeeded)):
                s.add(Job(kind=kind, state=state))
        assert [j["kind"] for j in op.get("/api/v1/jobs").json()["items"]] == ["b", "a"]
        assert [j["kind"] for j in op.get("/api/v1/jobs?state=failed").json()["items"]] == ["a"]
        assert op.get("/api/v1/jobs?kind=b").json()["total"] == 1
        problem(op.get("/api/v1/jobs?state=sleeping"), 422)
