"""Re-optimisation as a job: the function the job runner runs for `POST /plans/reoptimise`,
the operator page, `sharefab plan reoptimise` and the schedule.

Its contract is `jobs.contract`: report progress and the best objective through `ctx`, stop
when `ctx.cancelled()`, write the outcome in `ctx.apply()` (one transaction that also marks
the job succeeded). Today it calls the existing re-optimisation (`replan.reoptimise`), which
reads, solves and writes in one session and reports nothing on the way, so all of it runs
inside `ctx.apply()`: a cancel is honoured when the solve ends (its outcome is then rolled
back), and on SQLite the write lock is held for the solve. The planner that replaces it reads
on a snapshot, reports as it improves, and keeps `ctx.apply()` to its short final write.
"""

from __future__ import annotations

from typing import Any

from sharefab.jobs.contract import Context
from sharefab.kit.settings import get_settings
from sharefab.market import replan

KIND = "reoptimise"


def params(time_limit: float | None = None) -> dict[str, Any]:
    """A re-optimisation job's parameters (the server's default solver time if None)."""
    return {"time_limit": time_limit}


def run(ctx: Context) -> dict[str, Any]:
    """Re-place every booking not yet started; the report (what moved, which promised dates
    changed, what could not be placed) is the job's result."""
    time_limit = float(ctx.params.get("time_limit") or get_settings().reoptimise_seconds)
    ctx.progress(0.0, f"re-optimising the bookings not yet started (up to {time_limit:g} s)")
    ctx.check()
    with ctx.apply() as session:
        report = replan.reoptimise(session, time_limit=time_limit)
    return report.as_dict()
