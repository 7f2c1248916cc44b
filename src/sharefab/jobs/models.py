"""Tables: jobs (work that runs off the request, with state, progress and cancel).

At most one job of a kind is queued or running at a time: a partial unique index over `kind`
where the state is `queued` or `running` (on SQLite and PostgreSQL alike), so two starts racing
each other cannot both win.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class JobState(enum.StrEnum):
    """queued -> running -> succeeded | failed | cancelled (queued may also be cancelled or
    failed: its process stopped before it ran)."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


ACTIVE_STATES = (JobState.queued, JobState.running)
# The partial index's condition, written once for both dialects.
ACTIVE_CONDITION = "state IN ('queued', 'running')"


class JobTrigger(enum.StrEnum):
    """What started a job."""

    api = "api"
    page = "page"
    cli = "cli"
    schedule = "schedule"


class Job(Base):
    """One run of a job function: its parameters, where it is, what it found and how it ended."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "uq_jobs_one_active_per_kind",
            "kind",
            unique=True,
            sqlite_where=text(ACTIVE_CONDITION),
            postgresql_where=text(ACTIVE_CONDITION),
        ),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_is_a_fraction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=20), default=JobState.queued, index=True
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(500), default="")
    best: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[JobTrigger] = mapped_column(
        Enum(JobTrigger, native_enum=False, length=20), default=JobTrigger.api
    )
    # None: a job of the platform itself (the schedule, the CLI); only the operator sees it.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    started_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The process running (or about to run) the job proves it is alive by moving this on.
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE_STATES
