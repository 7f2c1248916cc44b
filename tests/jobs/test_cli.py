"""`sharefab plan`: re-optimise as a job with a progress bar (Ctrl-C cancels it), list jobs,
cancel one; every refusal is one line."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from sharefab import platform_cli
from sharefab.cli import app
from sharefab.jobs.contract import Context
from sharefab.jobs.models import Job, JobState, JobTrigger
from sharefab.kit.db import unit_of_work
from sharefab.kit.types import utcnow
from sharefab.market import reoptimise_job

cli = CliRunner()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _jobs(engine: Engine) -> list[Job]:
    with unit_of_work(engine, write=False) as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


def _job_row(engine: Engine, state: JobState, beat_ago: float = 0.0) -> int:
    with unit_of_work(engine) as s:
        job = Job(
            kind="reoptimise",
            state=state,
            created_at=utcnow() - timedelta(seconds=beat_ago),
            heartbeat_at=utcnow() - timedelta(seconds=beat_ago),
        )
        s.add(job)
        s.flush()
        return job.id


def test_reoptimise_runs_a_job_to_its_report(engine: Engine) -> None:
    """`plan reoptimise` runs the job here and prints its report; the job is kept."""
    out = cli.invoke(app, ["plan", "reoptimise", "--database", _url(engine), "--time-limit", "1"])
    assert out.exit_code == 0, out.output
    assert "0 bookings moved" in out.output
    (job,) = _jobs(engine)
    assert (job.kind, job.state, job.trigger) == ("reoptimise", JobState.succeeded, JobTrigger.cli)
    assert job.params == {"time_limit": 1.0, "search": False}


def test_reoptimise_search_is_a_job_parameter(engine: Engine) -> None:
    """`plan reoptimise --search` starts a job that asks for the cluster planner's search."""
    args = ["plan", "reoptimise", "--database", _url(engine), "--time-limit", "1", "--search"]
    out = cli.invoke(app, args)
    assert out.exit_code == 0, out.output
    (job,) = _jobs(engine)
    assert job.state == JobState.succeeded
    assert job.params == {"time_limit": 1.0, "search": True}


def test_a_running_job_is_one_line(engine: Engine) -> None:
    """While a re-optimisation runs elsewhere, the command refuses in one line naming it."""
    running = _job_row(engine, JobState.running)
    out = cli.invoke(app, ["plan", "reoptimise", "--database", _url(engine)])
    assert out.exit_code == 1
    lines = out.output.strip().splitlines()
    assert len(lines) == 1, out.output
    assert f"job {running} (reoptimise) is running since" in lines[0]
    assert lines[0].endswith("cancel it or wait")


def test_ctrl_c_cancels_the_job(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the bar shows: the job is cancelled, nothing changes, exit 1 says so."""

    def waits_for_cancel(ctx: Context) -> dict[str, Any]:
        ctx.progress(0.1, "searching")
        while True:
            ctx.check()
            time.sleep(0.01)

    pressed: list[float] = []

    def ctrl_c_once(seconds: float) -> None:
        if not pressed:
            pressed.append(seconds)
            raise KeyboardInterrupt
        time.sleep(seconds)

    monkeypatch.setattr(reoptimise_job, "run", waits_for_cancel)
    monkeypatch.setattr(platform_cli, "_pause", ctrl_c_once)
    out = cli.invoke(app, ["plan", "reoptimise", "--database", _url(engine)])
    assert out.exit_code == 1
    assert "was cancelled; the plan is unchanged" in out.output
    assert [j.state for j in _jobs(engine)] == [JobState.cancelled]


def test_jobs_lists_and_fails_the_dead(engine: Engine) -> None:
    """`plan jobs` shows jobs newest first; one whose process stopped shows as failed."""
    dead = _job_row(engine, JobState.running, beat_ago=3600)
    done = _job_row(engine, JobState.succeeded)
    out = cli.invoke(app, ["plan", "jobs", "--database", _url(engine)], terminal_width=200)
    assert out.exit_code == 0, out.output
    rows = [line for line in out.output.splitlines() if "reoptimise" in line]
    assert [int(r.split("│")[1]) for r in rows] == [done, dead]
    assert "failed" in rows[1]
    assert [j.state for j in _jobs(engine)] == [JobState.failed, JobState.succeeded]


def test_cancel(engine: Engine) -> None:
    """`plan cancel` ends a queued job; an unknown or finished job is one line."""
    queued = _job_row(engine, JobState.queued)
    out = cli.invoke(app, ["plan", "cancel", str(queued), "--database", _url(engine)])
    assert out.exit_code == 0, out.output
    assert f"job {queued}: cancelled" in out.output
    for job_id, says in (("999", "job 999 does not exist"), (str(queued), None)):
        out = cli.invoke(app, ["plan", "cancel", job_id, "--database", _url(engine)])
        if says:
            assert out.exit_code == 1
            assert says in out.output
            assert len(out.output.strip().splitlines()) == 1
    done = _job_row(engine, JobState.succeeded)
    out = cli.invoke(app, ["plan", "cancel", str(done), "--database", _url(engine)])
    assert out.exit_code == 1
    assert "already succeeded" in out.output
