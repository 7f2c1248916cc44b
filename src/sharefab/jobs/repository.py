"""Queries on jobs. Heartbeats and progress are plain updates (not state changes, so they are
not written to the audit log); state changes go through the rows, so the audit log sees them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from sharefab.jobs.models import ACTIVE_STATES, Job, JobState


def list_jobs(
    *,
    organization_id: int | None = None,
    kind: str | None = None,
    state: JobState | None = None,
) -> Select[Job]:
    """Jobs, newest first, by owner, kind and state."""
    stmt = select(Job).order_by(Job.id.desc())
    if organization_id is not None:
        stmt = stmt.where(Job.organization_id == organization_id)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    if state is not None:
        stmt = stmt.where(Job.state == state)
    return stmt


def locked(session: Session, job_id: int) -> Job | None:
    """The job, read afresh and locked for this transaction (PostgreSQL: FOR UPDATE; SQLite
    writers are serialised already)."""
    return session.get(Job, job_id, with_for_update=True, populate_existing=True)


def active_of_kind(session: Session, kind: str) -> Job | None:
    """The queued or running job of `kind`, if any (there is at most one)."""
    stmt = select(Job).where(Job.kind == kind, Job.state.in_(ACTIVE_STATES))
    return session.scalars(stmt).first()


def latest_of_kind(session: Session, kind: str) -> Job | None:
    """The newest job of `kind`, whatever its state."""
    return session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc())).first()


def stale_ids(session: Session, before: datetime, spare: Collection[int] = ()) -> list[int]:
    """Queued or running jobs whose heartbeat is older than `before`, except `spare`."""
    stmt = select(Job.id).where(Job.state.in_(ACTIVE_STATES), Job.heartbeat_at < before)
    if spare:
        stmt = stmt.where(Job.id.not_in(list(spare)))
    return list(session.scalars(stmt))


def beat(session: Session, job_id: int, at: datetime, **values: Any) -> bool | None:
    """Move a running job's heartbeat on (and set `values`: progress, message, best).

    Returns whether a cancel was requested, or None when the job is no longer running (it
    was cancelled or declared dead by another process: its runner must stop).
    """
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.running)
        .values(heartbeat_at=at, **values)
        .returning(Job.cancel_requested)
        .execution_options(synchronize_session=False)
    ).first()
    return None if row is None else bool(row[0])
