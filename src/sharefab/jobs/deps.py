"""The runner of the serving process, as a dependency of routes and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sharefab.jobs.runner import Runner


def get_runner(request: Request) -> Runner:
    """The app's job runner (made in `create_app`)."""
    runner: Runner = request.app.state.jobs
    return runner


RunnerDep = Annotated[Runner, Depends(get_runner)]
