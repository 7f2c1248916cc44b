"""What a job function sees: its context (parameters, progress, cancel, the final apply) and
the exceptions that end it. A job function is `fn(ctx) -> dict` (the dict is kept as the job's
result); `runner.py` runs it.

The rules a job function keeps, so that a killed or cancelled job leaves no partial effect:

- it computes on its own reads (a snapshot; nothing it writes before the end is visible) and
  calls `ctx.progress(fraction, message, best)` as it goes (cheap: written at most twice a
  second, in short transactions of the runner's own);
- it polls `ctx.cancelled()` (or `ctx.check()`, which raises `JobCancelled`) between steps and
  stops when asked;
- it writes its outcome inside `with ctx.apply() as session:` and returns right after: one
  transaction that also marks the job succeeded and holds its result, committed when the
  function returns, and only if the job is still running and no cancel was requested. So the
  outcome, "succeeded" and the result are stored together, or none of them is.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy.orm import Session


class JobCancelled(Exception):
    """The job stopped because a cancel was requested; nothing of it was applied."""


class JobLost(Exception):
    """The job is no longer this runner's to finish (another process declared it dead)."""


class Context(Protocol):
    """The job's view of itself while it runs."""

    @property
    def job_id(self) -> int:
        """The job's id."""
        ...

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters the job was started with."""
        ...

    def progress(
        self, fraction: float, message: str = "", best: Mapping[str, Any] | None = None
    ) -> None:
        """Report how far the job is (0..1), what it does, and the best objective so far."""
        ...

    def cancelled(self) -> bool:
        """Whether the job should stop now (a cancel was requested, or the job was lost)."""
        ...

    def check(self) -> None:
        """Raise `JobCancelled` if the job should stop."""
        ...

    def read(self) -> AbstractContextManager[Session]:
        """A read snapshot to compute on (no write lock; nothing written there is kept)."""
        ...

    def apply(self) -> AbstractContextManager[Session]:
        """The job's final, short write transaction; it also marks the job succeeded and
        commits with the function's result when the function returns."""
        ...


class JobFunction(Protocol):
    """A kind of job: runs with a context and returns its result (JSON-ready values)."""

    def __call__(self, ctx: Context) -> dict[str, Any]: ...
