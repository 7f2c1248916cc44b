"""Re-optimisation as a job: the function the job runner runs for `POST /plans/reoptimise`,
the operator page, `sharefab plan reoptimise` and the schedule.

Its contract is `jobs.contract`: it reads and plans on a read snapshot (`ctx.read()`, no write
lock), reports progress and the objective, stops when cancelled, and writes in `ctx.apply()`:
one short transaction that re-checks every booking it moves (a step that started meanwhile, or
a booking another change moved, makes it write nothing and fail: start it again) and marks the
job succeeded with it. A job killed at any point before that commit leaves the plan as it was.
`time_limit` bounds the planner's give-up rounds and its search in seconds (the first pass
always runs). The search (asked for by the job, or `reoptimise_search` > 0) runs on the
solver's worker pool (`sharefab.engine`, from the settings `plan_engine`, `plan_workers`,
`plan_address`: this process by default, a process pool or Dask).
"""

from __future__ import annotations

import contextlib
from typing import Any

from sharefab.engine.base import Engine, EngineError, make_engine
from sharefab.jobs.contract import Context
from sharefab.kit.errors import ServiceUnavailable
from sharefab.kit.settings import get_settings
from sharefab.market import replan

KIND = "reoptimise"


def params(time_limit: float | None = None, search: bool = False) -> dict[str, Any]:
    """A re-optimisation job's parameters (the server's default solver time if None; `search`:
    the cluster planner's search after the passes even when the setting leaves it off)."""
    return {"time_limit": time_limit, "search": search}


def run(ctx: Context) -> dict[str, Any]:
    """Re-place every booking not yet started; the report (what moved, which promised dates
    changed, what could not be placed, the objective before and after) is the job's result."""
    settings = get_settings()
    time_limit = float(ctx.params.get("time_limit") or settings.reoptimise_seconds)
    ctx.progress(0.0, "reading the bookings not yet started")

    def progress(fraction: float, message: str, best: dict[str, Any] | None) -> None:
        ctx.check()  # a cancel stops the job here, before anything is written
        ctx.progress(fraction, message, best)

    searching = bool(ctx.params.get("search")) or settings.reoptimise_search > 0
    with _pool() if searching else contextlib.nullcontext() as pool, ctx.read() as session:
        report = replan.reoptimise(
            session,
            apply_in=ctx.apply,
            progress=progress,
            time_limit=time_limit,
            pool=pool,
            search=searching,
        )
    return report.as_dict()


def _pool() -> Engine:
    """The solver's worker pool the search runs on (the settings `plan_engine`, `plan_workers`,
    `plan_address`); one that cannot start fails the job saying what to check."""
    settings = get_settings()
    try:
        return make_engine(
            settings.plan_engine, workers=settings.plan_workers, address=settings.plan_address
        )
    except EngineError as exc:
        raise ServiceUnavailable(
            f"the planner's worker pool (SHAREFAB_PLAN_ENGINE={settings.plan_engine}) cannot "
            f"start: {exc}",
            retry_after=60,
        ) from exc
