"""API shapes of jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from sharefab.jobs.models import JobState, JobTrigger
from sharefab.kit.schemas import PublicSchema


class JobPublic(PublicSchema):
    """A job: what it is, where it is, the best it found so far, and how it ended."""

    id: int
    kind: str = Field(description="What the job does, e.g. `reoptimise`")
    state: JobState
    progress: float = Field(ge=0, le=1, description="How far it is, 0..1")
    message: str = Field(description="What it does now, or how it ended")
    best: dict[str, Any] | None = Field(
        description="The best objective so far, as the job reports it "
        "(e.g. promises_broken, weighted_lateness_h)"
    )
    result: dict[str, Any] | None = Field(description="What it did, once it succeeded")
    error: str | None = Field(description="Why it failed")
    params: dict[str, Any]
    trigger: JobTrigger = Field(description="What started it: api, page, cli or schedule")
    organization_id: int | None = Field(description="Who started it (None: the platform)")
    started_by_user_id: int | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime = Field(description="When its process last proved it is alive")
