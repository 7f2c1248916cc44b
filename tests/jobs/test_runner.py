"""The runner: a job runs off the caller's thread, reports progress and its best so far, stops
on cancel from this process or another, and applies its outcome in one transaction that also
marks it succeeded, or not at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from sharefab.identity.models import Organization
from sharefab.jobs import service
from sharefab.jobs.contract import Context
from sharefab.jobs.models import Job, JobState, JobTrigger
from sharefab.jobs.runner import Runner
from sharefab.kit.db import unit_of_work
from sharefab.kit.errors import Conflict
from sharefab.kit.types import utcnow
from tests.jobs.support import Blocking, wait_for


@pytest.fixture
def runners(engine: Engine) -> Iterator[list[Runner]]:
    """Runners made by a test, closed at its end (their threads joined)."""
    made: list[Runner] = []
    yield made
    for r in made:
        r.close(timeout=10)


def _runner(runners: list[Runner], engine: Engine, **functions: Any) -> Runner:
    r = Runner(engine, functions, heartbeat_seconds=0.05, stale_seconds=2.0)
    runners.append(r)
    return r


def _job(engine: Engine, job_id: int) -> Job:
    with unit_of_work(engine, write=False) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _ended(engine: Engine, runner: Runner, job_id: int) -> Job:
    assert runner.wait(job_id, timeout=60), f"job {job_id} did not end"
    return _job(engine, job_id)


def _orgs(engine: Engine, slug: str) -> int:
    with unit_of_work(engine, write=False) as s:
        return int(s.scalar(select(func.count()).where(Organization.slug == slug)) or 0)


def _write_org(ctx: Context, slug: str) -> None:
    with ctx.apply() as s:
        s.add(Organization(name=slug, slug=slug))
        s.flush()


class TestRun:
    def test_progress_best_and_result_are_kept(self, engine: Engine, runners: list[Runner]) -> None:
        """While it runs, the row shows the job's progress, message and best so far; at the end
        it is succeeded with progress 1 and the result the function returned."""
        seen = threading.Event()
        go = threading.Event()

        def fn(ctx: Context) -> dict[str, Any]:
            ctx.progress(0.4, "improving", best={"promises_broken": 0, "weighted_lateness_h": 12.5})
            seen.set()
            go.wait(30)
            return {"moved": [1, 2], "at": utcnow()}

        runner = _runner(runners, engine, probe=fn)
        job_id = runner.start("probe", {"x": 1}, trigger=JobTrigger.cli)
        assert seen.wait(30)
        wait_for(lambda: _job(engine, job_id).progress == 0.4, what="progress in the row")
        during = _job(engine, job_id)
        assert (during.state, during.message) == (JobState.running, "improving")
        assert during.best == {"promises_broken": 0, "weighted_lateness_h": 12.5}
        assert during.trigger == JobTrigger.cli
        go.set()
        done = _ended(engine, runner, job_id)
        assert (done.state, done.progress) == (JobState.succeeded, 1.0)
        assert done.result is not None
        assert done.result["moved"] == [1, 2]
        assert isinstance(done.result["at"], str)  # JSON: times as ISO text
        assert done.started_at is not None
        assert done.finished_at is not None

    def test_start_returns_at_once_and_refuses_a_second(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """`start` hands the job to a thread and returns; a second start is refused naming it."""
        block = Blocking()
        runner = _runner(runners, engine, probe=block)
        job_id = runner.start("probe", {}, trigger=JobTrigger.cli)
        assert block.started.wait(30)
        with pytest.raises(Conflict, match=f"job {job_id} \\(probe\\) is running"):
            runner.start("probe", {}, trigger=JobTrigger.cli)
        block.release.set()
        assert _ended(engine, runner, job_id).state == JobState.succeeded

    def test_an_unknown_kind_fails_with_a_reason(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """A job of a kind this process has no function for fails, naming the kind."""
        runner = _runner(runners, engine)
        job_id = runner.start("nosuch", {}, trigger=JobTrigger.cli)
        job = _ended(engine, runner, job_id)
        assert job.state == JobState.failed
        assert job.error == "this process has no job function for kind 'nosuch'"


class TestCancel:
    def test_a_local_cancel_stops_the_job(self, engine: Engine, runners: list[Runner]) -> None:
        """Cancelled in this process, the job stops at its next check: state cancelled."""
        block = Blocking()
        runner = _runner(runners, engine, probe=block)
        job_id = runner.start("probe", {}, trigger=JobTrigger.cli)
        assert block.started.wait(30)
        runner.cancel(job_id)
        job = _ended(engine, runner, job_id)
        assert job.state == JobState.cancelled
        assert job.message == "cancelled; nothing was changed"
        assert job.result is None

    def test_a_cancel_before_the_thread_claims_the_job_still_stops_it(
        self, engine: Engine, runners: list[Runner], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ctrl-C right after start, before the job's thread has claimed it (a busy machine):
        the cancel is kept and the job ends cancelled instead of running on for ever."""
        cancelled = threading.Event()
        claim = service.claim

        def claims_late(session: Any, job_id: int) -> Job | None:
            assert cancelled.wait(30)
            return claim(session, job_id)

        monkeypatch.setattr(service, "claim", claims_late)
        block = Blocking()
        runner = _runner(runners, engine, probe=block)
        job_id = runner.start("probe", {}, trigger=JobTrigger.cli)
        runner.cancel(job_id)
        cancelled.set()
        job = _ended(engine, runner, job_id)
        assert job.state == JobState.cancelled
        assert job.message == "cancelled; nothing was changed"

    def test_a_cancel_written_by_another_process_arrives_by_heartbeat(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """Only the database flag is set (as `sharefab plan cancel` elsewhere does): the job's
        heartbeat brings it back and the job stops."""
        block = Blocking()
        runner = _runner(runners, engine, probe=block)
        job_id = runner.start("probe", {}, trigger=JobTrigger.cli)
        assert block.started.wait(30)
        with unit_of_work(engine) as s:
            service.request_cancel(s, None, job_id)
        assert _ended(engine, runner, job_id).state == JobState.cancelled


class TestApply:
    def test_outcome_and_success_commit_together(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """What the function writes in `ctx.apply()` is there exactly when the job succeeded."""

        def fn(ctx: Context) -> dict[str, Any]:
            _write_org(ctx, "applied-co")
            return {"wrote": "applied-co"}

        runner = _runner(runners, engine, probe=fn)
        job = _ended(engine, runner, runner.start("probe", {}, trigger=JobTrigger.cli))
        assert (job.state, job.result) == (JobState.succeeded, {"wrote": "applied-co"})
        assert _orgs(engine, "applied-co") == 1

    def test_progress_after_the_final_block_does_not_wait_on_it(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """Progress reported between the final block and the return (the row is held by the
        final transaction then) is not written and does not block: the job succeeds."""

        def fn(ctx: Context) -> dict[str, Any]:
            _write_org(ctx, "then-co")
            ctx.progress(1.0, "applied", best={"moved": 1})
            time.sleep(0.2)  # a few heartbeats fall here too
            return {"ok": True}

        runner = _runner(runners, engine, probe=fn)
        job = _ended(engine, runner, runner.start("probe", {}, trigger=JobTrigger.cli))
        assert (job.state, job.result) == (JobState.succeeded, {"ok": True})
        assert _orgs(engine, "then-co") == 1

    def test_a_cancel_during_the_final_transaction_rolls_it_back(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """A cancel that arrives after the function wrote (not yet committed) leaves nothing:
        the job is cancelled and its write is gone."""
        inside = threading.Event()

        def fn(ctx: Context) -> dict[str, Any]:
            with ctx.apply() as s:
                s.add(Organization(name="x", slug="half-co"))
                s.flush()
                inside.set()
                wait_for(ctx.cancelled, what="the cancel")
            return {}

        runner = _runner(runners, engine, probe=fn)
        job_id = runner.start("probe", {}, trigger=JobTrigger.cli)
        assert inside.wait(30)
        runner.cancel(job_id)
        assert _ended(engine, runner, job_id).state == JobState.cancelled
        assert _orgs(engine, "half-co") == 0

    def test_a_failure_after_writing_rolls_back(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """An error inside the final transaction, or after it before the function returns,
        fails the job with its reason and keeps none of its writes."""

        def inside(ctx: Context) -> dict[str, Any]:
            with ctx.apply() as s:
                s.add(Organization(name="x", slug="inside-co"))
                s.flush()
                raise Conflict("found no valid plan within 5 s; the bookings are unchanged")

        def after(ctx: Context) -> dict[str, Any]:
            _write_org(ctx, "after-co")
            raise RuntimeError("the report could not be built")

        runner = _runner(runners, engine, inside=inside, after=after)
        job = _ended(engine, runner, runner.start("inside", {}, trigger=JobTrigger.cli))
        assert job.state == JobState.failed
        assert job.error == "found no valid plan within 5 s; the bookings are unchanged"
        job = _ended(engine, runner, runner.start("after", {}, trigger=JobTrigger.cli))
        assert job.state == JobState.failed
        assert job.error == "internal error: RuntimeError: the report could not be built"
        assert _orgs(engine, "inside-co") + _orgs(engine, "after-co") == 0

    def test_a_job_declared_dead_stops_and_cannot_apply(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """Another process failed the job (its heartbeat looked stale): the runner notices on
        its next heartbeat, the function stops, nothing is written, the row stays failed."""
        reached = threading.Event()

        def fn(ctx: Context) -> dict[str, Any]:
            reached.set()
            wait_for(ctx.cancelled, what="the job to be lost")
            _write_org(ctx, "late-co")
            return {}

        runner = _runner(runners, engine, probe=fn)
        job_id = runner.start("probe", {}, trigger=JobTrigger.cli)
        assert reached.wait(30)
        with unit_of_work(engine) as s:  # as another process would, seeing an old heartbeat
            s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(heartbeat_at=utcnow() - timedelta(hours=1))
            )
            assert service.fail_stale(s, 60) == [job_id]
        job = _ended(engine, runner, job_id)
        assert job.state == JobState.failed
        assert job.error is not None
        assert "the process running it stopped" in job.error
        assert _orgs(engine, "late-co") == 0


class TestSchedule:
    def test_the_schedule_starts_jobs_one_at_a_time(
        self, engine: Engine, runners: list[Runner]
    ) -> None:
        """Every N minutes (here 0.6 s) a scheduled job starts; a process whose interval has not
        passed since the newest job (by anyone) starts none."""
        calls: list[float] = []

        def fn(ctx: Context) -> dict[str, Any]:
            calls.append(time.monotonic())
            return {"n": len(calls)}

        runner = _runner(runners, engine, probe=fn)
        runner.schedule("probe", 0.01, dict)
        wait_for(lambda: len(calls) >= 2, what="two scheduled runs")
        runner.close()
        with unit_of_work(engine, write=False) as s:
            jobs = list(s.scalars(select(Job).where(Job.kind == "probe")))
        assert {j.trigger for j in jobs} == {JobTrigger.schedule}
        assert all(j.state == JobState.succeeded for j in jobs)
        count = len(jobs)
        slow = _runner(runners, engine, probe=fn)
        slow.schedule("probe", 60, dict)
        time.sleep(1.0)
        with unit_of_work(engine, write=False) as s:
            assert s.scalar(select(func.count()).where(Job.kind == "probe")) == count
