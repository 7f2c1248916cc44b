"""The operator page's jobs panel: start, follow (state, progress, best so far) and cancel a
re-optimisation; a second start shows why it was refused; other roles get no panel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sharefab.jobs.runner import Runner
from tests.factories import Tenants
from tests.jobs.support import Blocking, wait_for
from tests.web.conftest import PageClient, sign_in


@pytest.fixture
def operator(app_client: TestClient, tenants: Tenants) -> PageClient:
    """The operator, signed in to the pages."""
    return sign_in(app_client, tenants["operator"].email)


@pytest.fixture
def block(app_client: TestClient) -> Iterator[Blocking]:
    """Re-optimisation jobs of this app wait (reporting progress) until cancelled."""
    runner: Runner = app_client.app.state.jobs  # type: ignore[attr-defined]
    original = dict(runner.functions)
    b = Blocking()
    runner.functions["reoptimise"] = b
    yield b
    b.release.set()
    runner.close(timeout=30)
    runner.functions = original


def test_the_panel_shows_a_running_job_and_cancels_it(
    operator: PageClient, block: Blocking
) -> None:
    """A started job shows running with its progress bar, message and best objective so far;
    its cancel button ends it (cancelled) and the panel stops polling fast."""
    started = operator.post("/operator/reoptimise")
    assert started.status_code == 200
    assert block.started.wait(30)
    wait_for(lambda: "width: 25.0%" in operator.get("/operator/jobs").text, what="progress")
    panel = operator.get("/operator/jobs").text
    assert 'data-state="running"' in panel
    assert "promises broken <b>2</b> · weighted lateness h <b>12.5</b>" in panel
    assert " disabled>Re-optimise</button>" in panel  # one at a time
    job_id = panel.split('data-job="')[1].split('"')[0]
    cancelled = operator.post(f"/operator/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    wait_for(
        lambda: 'data-state="cancelled"' in operator.get("/operator/jobs").text,
        what="the job to show cancelled",
    )
    assert 'hx-trigger="every 20s"' in operator.get("/operator/jobs").text


def test_a_second_start_says_which_job_runs(operator: PageClient, block: Blocking) -> None:
    """Starting while one runs shows the refusal naming the running job, in the panel."""
    operator.post("/operator/reoptimise")
    assert block.started.wait(30)
    again = operator.post("/operator/reoptimise").text
    assert 'class="flash error"' in again
    assert "(reoptimise) is running since" in again


def test_the_dashboard_includes_the_panel(operator: PageClient) -> None:
    """The dashboard carries the jobs panel with its start button (no job yet)."""
    page = operator.get("/operator").text
    assert 'id="jobs-panel"' in page
    assert "No jobs yet." in page


def test_other_roles_have_no_jobs_panel(app_client: TestClient, tenants: Tenants) -> None:
    """The panel and its actions are the operator's: others get 403 pages."""
    acme = sign_in(app_client, tenants["acme"].email)
    assert acme.get("/operator/jobs").status_code == 403
    assert acme.post("/operator/reoptimise").status_code == 403
    assert acme.post("/operator/jobs/1/cancel").status_code == 403
