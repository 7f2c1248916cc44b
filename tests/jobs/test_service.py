"""Job use cases: one queued or running job per kind, cancel, the jobs of a dead process, and
the final transaction that refuses a cancelled or lost job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sharefab.identity.models import Role
from sharefab.identity.principal import Principal
from sharefab.jobs import service
from sharefab.jobs.contract import JobCancelled, JobLost
from sharefab.jobs.models import Job, JobState
from sharefab.kit.db import unit_of_work
from sharefab.kit.errors import Conflict, NotFound
from sharefab.kit.types import utcnow
from tests.factories import Tenants

STALE = 30.0


def _principal(tenants: Tenants, name: str) -> Principal:
    t = tenants[name]
    return Principal(
        organization_id=t.org_id,
        role=Role.operator if name == "operator" else Role.admin,
        is_operator=name == "operator",
        is_provider=name in ("acme", "rival", "provider2"),
        is_buyer=name in ("acme", "rival", "buyer2"),
        user_id=t.user_id,
    )


def _start(engine: Engine, kind: str = "probe", principal: Principal | None = None) -> int:
    with unit_of_work(engine) as s:
        return service.start_job(s, kind, {"n": 1}, principal=principal, stale_after=STALE).id


def _running(engine: Engine, kind: str = "probe", beat_ago: float = 0.0) -> int:
    job_id = _start(engine, kind)
    with unit_of_work(engine) as s:
        assert service.claim(s, job_id) is not None
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=beat_ago))
        )
    return job_id


def _job(engine: Engine, job_id: int) -> Job:
    with unit_of_work(engine, write=False) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


class TestStart:
    def test_second_start_names_the_running_job(self, engine: Engine) -> None:
        """A second start of a kind while one runs is a Conflict naming it and what to do."""
        first = _running(engine)
        with pytest.raises(Conflict) as refused, unit_of_work(engine) as s:
            service.start_job(s, "probe", {}, stale_after=STALE)
        assert f"job {first} (probe) is running since" in refused.value.detail
        assert refused.value.detail.endswith("; cancel it or wait")
        assert refused.value.extra["job"] == {"id": first, "kind": "probe", "state": "running"}

    def test_a_queued_job_blocks_too_and_other_kinds_do_not(self, engine: Engine) -> None:
        """Queued counts as active; a job of another kind starts beside it."""
        first = _start(engine, "probe")
        with pytest.raises(Conflict, match=f"job {first} \\(probe\\) is queued"):
            _start(engine, "probe")
        assert _start(engine, "other") != first

    def test_a_finished_job_does_not_block(self, engine: Engine) -> None:
        """Once a job ended (any way), the next one of its kind starts."""
        for end in (JobState.succeeded, JobState.failed, JobState.cancelled):
            job_id = _running(engine)
            with unit_of_work(engine) as s:
                assert service.finish(s, job_id, end, message="done")
        assert _job(engine, _start(engine)).state == JobState.queued

    def test_the_database_holds_one_active_job_per_kind(self, engine: Engine) -> None:
        """Two active rows of one kind written past the service: the partial unique index
        refuses the second; ended rows of the kind are not counted."""
        now = utcnow()

        def row(state: JobState) -> Job:
            return Job(kind="raw", state=state, created_at=now, heartbeat_at=now)

        with unit_of_work(engine) as s:
            s.add_all([row(JobState.succeeded), row(JobState.failed), row(JobState.running)])
        with unit_of_work(engine) as s:
            s.add(row(JobState.queued))
            with pytest.raises(IntegrityError):
                s.flush()
            s.rollback()

    def test_a_start_records_who_started_it(self, engine: Engine, tenants: Tenants) -> None:
        """The job keeps the starting user and organisation (None for the platform itself)."""
        op = _principal(tenants, "operator")
        job = _job(engine, _start(engine, principal=op))
        assert (job.organization_id, job.started_by_user_id) == (op.organization_id, op.user_id)
        assert job.params == {"n": 1}
        platform = _job(engine, _start(engine, "cli-kind"))
        assert (platform.organization_id, platform.started_by_user_id) == (None, None)


class TestStale:
    def test_a_dead_running_job_is_failed_and_a_new_one_starts(self, engine: Engine) -> None:
        """A running job whose heartbeat is older than the limit is failed by the next start,
        with a reason, and the new job starts."""
        dead = _running(engine, beat_ago=STALE + 5)
        new = _start(engine)
        old = _job(engine, dead)
        assert old.state == JobState.failed
        assert old.error is not None
        assert "the process running it stopped" in old.error
        assert old.finished_at is not None
        assert _job(engine, new).state == JobState.queued

    def test_a_live_job_is_not_failed(self, engine: Engine) -> None:
        """A fresh heartbeat, or a job the caller's own process runs, is left running."""
        live = _running(engine, beat_ago=STALE - 10)
        mine = _running(engine, "mine", beat_ago=STALE * 10)
        with unit_of_work(engine) as s:
            assert service.fail_stale(s, STALE, spare={mine}) == []
        assert _job(engine, live).state == JobState.running
        assert _job(engine, mine).state == JobState.running

    def test_a_queued_job_nobody_claimed_is_failed(self, engine: Engine) -> None:
        """A job queued by a process that died before running it does not block forever."""
        job_id = _start(engine)
        with unit_of_work(engine) as s:
            s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(heartbeat_at=utcnow() - timedelta(seconds=STALE + 1))
            )
            assert service.fail_stale(s, STALE) == [job_id]

    def test_the_read_check_spares_a_dead_job(self, engine: Engine) -> None:
        """`ensure_free` (the snapshot check before a start) lets a start past a dead job and
        refuses it past a live one."""
        dead = _running(engine, beat_ago=STALE + 5)
        with unit_of_work(engine, write=False) as s:
            service.ensure_free(s, "probe", stale_after=STALE)
            with pytest.raises(Conflict, match=f"job {dead} "):
                service.ensure_free(s, "probe", stale_after=STALE, spare={dead})


class TestCancel:
    def test_a_queued_job_is_cancelled_at_once(self, engine: Engine) -> None:
        """Cancelling a queued job ends it; a runner then finds nothing to claim."""
        job_id = _start(engine)
        with unit_of_work(engine) as s:
            job = service.request_cancel(s, None, job_id)
            assert job.state == JobState.cancelled
            assert service.claim(s, job_id) is None

    def test_a_running_job_gets_the_flag(self, engine: Engine) -> None:
        """A running job is asked to stop (the flag); its state changes when it stops."""
        job_id = _running(engine)
        with unit_of_work(engine) as s:
            job = service.request_cancel(s, None, job_id)
        assert (job.state, job.cancel_requested) == (JobState.running, True)

    def test_a_finished_job_is_a_conflict(self, engine: Engine) -> None:
        """A succeeded job cannot be cancelled (409 naming its state); a cancelled one stays."""
        job_id = _running(engine)
        with unit_of_work(engine) as s:
            service.finish(s, job_id, JobState.succeeded, message="done")
        with pytest.raises(Conflict, match="already succeeded"), unit_of_work(engine) as s:
            service.request_cancel(s, None, job_id)
        other = _start(engine)
        with unit_of_work(engine) as s:
            service.request_cancel(s, None, other)
        with unit_of_work(engine) as s:
            assert service.request_cancel(s, None, other).state == JobState.cancelled

    def test_another_tenants_job_does_not_exist(self, engine: Engine, tenants: Tenants) -> None:
        """A job of acme is 404 to buyer2 (seen and cancelled alike), visible to the operator."""
        job_id = _start(engine, principal=_principal(tenants, "acme"))
        with unit_of_work(engine) as s:
            for verb in (service.get_job, service.request_cancel):
                with pytest.raises(NotFound, match=f"job {job_id} does not exist"):
                    verb(s, _principal(tenants, "buyer2"), job_id)
            assert service.get_job(s, _principal(tenants, "operator"), job_id).id == job_id
            assert service.get_job(s, _principal(tenants, "acme"), job_id).id == job_id


class TestFinalTransaction:
    def test_a_cancel_requested_in_the_database_refuses_the_apply(self, engine: Engine) -> None:
        """The final transaction re-reads the job: a cancel flag written meanwhile by any
        process makes it roll back."""
        job_id = _running(engine)
        with unit_of_work(engine) as s:
            service.request_cancel(s, None, job_id)
        with pytest.raises(JobCancelled), unit_of_work(engine) as s:
            service.mark_applied(s, job_id)
        assert _job(engine, job_id).state == JobState.running

    def test_a_job_failed_by_another_process_cannot_apply(self, engine: Engine) -> None:
        """A job declared dead (its heartbeat was late) may not apply its outcome after all."""
        job_id = _running(engine, beat_ago=STALE + 1)
        with unit_of_work(engine) as s:
            service.fail_stale(s, STALE)
        with pytest.raises(JobLost, match="is failed"), unit_of_work(engine) as s:
            service.mark_applied(s, job_id)
        with unit_of_work(engine, write=False) as s:
            assert s.scalars(select(Job.state).where(Job.id == job_id)).one() == JobState.failed
