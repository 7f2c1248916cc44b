"""Use cases of jobs: start one (at most one queued or running per kind), see them, request a
cancel, declare the jobs of a dead process failed, and the state changes the runner makes.

Services never commit: the request, the CLI command or the runner owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.identity.principal import Principal
from sharefab.jobs import repository
from sharefab.jobs.contract import JobCancelled, JobLost
from sharefab.jobs.models import Job, JobState, JobTrigger
from sharefab.kit.errors import Conflict, NotFound
from sharefab.kit.types import utcnow

DEAD = "the process running it stopped (no heartbeat for {s:g} s); nothing of it was applied"


def visible_jobs(
    principal: Principal, *, kind: str | None = None, state: JobState | None = None
) -> Select[Job]:
    """The caller's organisation's jobs, newest first; the operator sees all of them."""
    owner = None if principal.is_operator else principal.organization_id
    return repository.list_jobs(organization_id=owner, kind=kind, state=state)


def get_job(session: Session, principal: Principal | None, job_id: int) -> Job:
    """A job the caller may see (another organisation's job does not exist for it), or 404.

    `principal` None: the platform itself (the CLI), which sees every job.
    """
    job = session.get(Job, job_id)
    if job is None or not _may_see(principal, job):
        raise NotFound(f"job {job_id} does not exist; list jobs with GET /api/v1/jobs")
    return job


def _may_see(principal: Principal | None, job: Job) -> bool:
    return (
        principal is None
        or principal.is_operator
        or (job.organization_id is not None and principal.owns(job.organization_id))
    )


def busy(job: Job) -> Conflict:
    """The refusal of a second start while `job` is queued or running, naming it."""
    since = job.started_at or job.created_at
    return Conflict(
        f"job {job.id} ({job.kind}) is {job.state.value} since "
        f"{since:%Y-%m-%d %H:%M:%S} UTC; cancel it or wait",
        job={"id": job.id, "kind": job.kind, "state": job.state.value},
    )


def ensure_free(
    session: Session, kind: str, *, stale_after: float, spare: Collection[int] = ()
) -> None:
    """Conflict naming the queued or running job of `kind`, unless there is none or its process
    is dead (its heartbeat older than `stale_after`; `start_job` fails it). Only reads: a start
    checks this on a snapshot first, so a second start is refused at once even while the
    running job holds the database's write lock (SQLite)."""
    running = repository.active_of_kind(session, kind)
    if running is None:
        return
    dead = running.heartbeat_at < utcnow() - timedelta(seconds=stale_after)
    if running.id in spare or not dead:
        raise busy(running)


def start_job(
    session: Session,
    kind: str,
    params: Mapping[str, Any],
    *,
    principal: Principal | None = None,
    trigger: JobTrigger = JobTrigger.api,
    stale_after: float,
    spare: Collection[int] = (),
) -> Job:
    """A new queued job of `kind`, or Conflict naming the one already queued or running.

    Jobs of a process that died are failed first (so they do not block a new one); `spare`
    are the jobs this process runs itself, alive whatever their heartbeat says.
    """
    fail_stale(session, stale_after, spare)
    running = repository.active_of_kind(session, kind)
    if running is not None:
        raise busy(running)
    now = utcnow()
    job = Job(
        kind=kind,
        state=JobState.queued,
        params=dict(params),
        trigger=trigger,
        organization_id=principal.organization_id if principal else None,
        started_by_user_id=principal.user_id if principal else None,
        message="waiting to start",
        created_at=now,
        heartbeat_at=now,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # another start won the race (the partial unique index)
        winner = repository.active_of_kind(session, kind)
        if winner is not None:
            raise busy(winner) from None
        raise Conflict(f"another {kind} job was started at the same moment; retry") from None
    return job


def request_cancel(session: Session, principal: Principal | None, job_id: int) -> Job:
    """Cancel a queued job at once; ask a running one to stop (its function polls the flag and
    leaves everything as it was). A cancelled job stays so; a succeeded or failed one is a
    Conflict."""
    get_job(session, principal, job_id)
    job = repository.locked(session, job_id)
    assert job is not None
    if job.state == JobState.queued:
        job.state = JobState.cancelled
        job.cancel_requested = True
        job.finished_at = utcnow()
        job.message = "cancelled before it started"
    elif job.state == JobState.running:
        if not job.cancel_requested:
            job.cancel_requested = True
            job.message = "cancel requested; stopping"
    elif job.state == JobState.cancelled:
        return job
    else:
        raise Conflict(
            f"job {job.id} ({job.kind}) already {job.state.value}"
            + (f" at {job.finished_at:%Y-%m-%d %H:%M:%S} UTC" if job.finished_at else "")
            + "; there is nothing to cancel"
        )
    session.flush()
    return job


def fail_stale(session: Session, stale_after: float, spare: Collection[int] = ()) -> list[int]:
    """Mark failed every queued or running job whose heartbeat is older than `stale_after`
    seconds (its process stopped), except `spare`; returns their ids."""
    now = utcnow()
    failed = []
    for job_id in repository.stale_ids(session, now - timedelta(seconds=stale_after), spare):
        job = repository.locked(session, job_id)
        cutoff = now - timedelta(seconds=stale_after)
        if job is None or not job.active or job.heartbeat_at >= cutoff:
            continue  # it moved on meanwhile
        job.state = JobState.failed
        job.finished_at = now
        job.error = DEAD.format(s=stale_after)
        job.message = "failed: the process running it stopped"
        failed.append(job_id)
    session.flush()
    return failed


def claim(session: Session, job_id: int) -> Job | None:
    """Move a queued job to running (this process runs it), or None if it is not queued."""
    job = repository.locked(session, job_id)
    if job is None or job.state != JobState.queued:
        return None
    now = utcnow()
    job.state = JobState.running
    job.started_at = now
    job.heartbeat_at = now
    job.message = "started"
    session.flush()
    return job


def mark_applied(session: Session, job_id: int, message: str = "applied") -> Job:
    """In the job's final transaction: mark it succeeded, or raise if it may no longer apply
    (a cancel was requested: JobCancelled; it is not running any more: JobLost)."""
    job = repository.locked(session, job_id)
    if job is None or job.state != JobState.running:
        state = job.state.value if job is not None else "gone"
        raise JobLost(f"job {job_id} is {state}; its outcome was not applied")
    if job.cancel_requested:
        raise JobCancelled(f"job {job_id} was cancelled before its outcome was applied")
    now = utcnow()
    job.state = JobState.succeeded
    job.progress = 1.0
    job.finished_at = now
    job.heartbeat_at = now
    job.message = message
    session.flush()
    return job


def finish(
    session: Session,
    job_id: int,
    state: JobState,
    *,
    message: str,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """End a running job in `state`; False if it was not running any more (left as it is)."""
    job = repository.locked(session, job_id)
    if job is None or job.state != JobState.running:
        return False
    now = utcnow()
    job.state = state
    job.finished_at = now
    job.heartbeat_at = now
    job.message = message[:500]
    job.error = error
    if result is not None:
        job.result = result
    if state == JobState.succeeded:
        job.progress = 1.0
    session.flush()
    return True
