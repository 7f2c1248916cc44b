"""Routes: /api/v1/jobs (list, one, cancel). Jobs are started by the routes of the work they do
(`POST /api/v1/plans/reoptimise` starts a `reoptimise` job)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.jobs import service
from sharefab.jobs.deps import RunnerDep
from sharefab.jobs.models import JobState
from sharefab.jobs.runner import Runner
from sharefab.jobs.schemas import JobPublic
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep, read_first
from sharefab.kit.db import begin_write
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate

# Whoever may start the plan's jobs (the market's write scope) may cancel them.
router = APIRouter(
    tags=["jobs"], responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("orders"))]
)


def _reaped(session: Session, runner: Runner) -> None:
    """Fail the jobs of dead processes first, and read what that wrote (a new snapshot)."""
    if runner.reap():
        session.commit()


@router.get("/jobs")
def list_jobs(
    session: SessionDep,
    principal: CurrentPrincipal,
    runner: RunnerDep,
    page: PageDep,
    kind: str | None = None,
    state: JobState | None = None,
) -> Page[JobPublic]:
    """Your organisation's jobs, newest first (the operator sees all), by kind and state."""
    _reaped(session, runner)
    rows, total = paginate(session, service.visible_jobs(principal, kind=kind, state=state), page)
    items = [JobPublic.model_validate(j) for j in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/jobs/{job_id}")
def get_job(
    session: SessionDep, principal: CurrentPrincipal, runner: RunnerDep, job_id: int
) -> JobPublic:
    """One job: state, progress, the best objective so far, result or error."""
    _reaped(session, runner)
    return JobPublic.model_validate(service.get_job(session, principal, job_id))


@router.post("/jobs/{job_id}/cancel")
@read_first
def cancel_job(
    session: SessionDep, principal: CurrentPrincipal, runner: RunnerDep, job_id: int
) -> JobPublic:
    """Cancel: a queued job ends at once; a running one stops at its next check and leaves
    everything as it was (its state turns `cancelled`). A succeeded or failed job is 409."""
    service.get_job(session, principal, job_id)  # 404 unless the caller may see it
    # A job this process runs stops now, even before the flag below can be written (SQLite:
    # the job may hold the write lock until it reaches its final step).
    runner.cancel(job_id)
    begin_write(session)
    return JobPublic.model_validate(service.request_cancel(session, principal, job_id))
