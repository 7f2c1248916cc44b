"""The operator dashboard: idle capacity by capability family and region, a utilisation heat
map, on-time rate, orders by state, revenue and fees, bottleneck capabilities, providers by
credit score; and the jobs panel: start a re-optimisation, watch its progress and best
objective so far, cancel it, read its report.

Re-optimisation is a persisted job (jobs/): the button starts it and returns at once; the
panel polls (HTMX, every 2 s while a job is queued or running, every 20 s otherwise), so a
job started elsewhere (the API, the CLI, the schedule) shows up too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.execution import service as execution
from sharefab.identity import service as identity
from sharefab.identity.principal import Principal
from sharefab.jobs import service as jobs
from sharefab.jobs.deps import RunnerDep
from sharefab.jobs.models import Job, JobTrigger
from sharefab.jobs.runner import Runner
from sharefab.kit.api import SessionDep, read_first
from sharefab.kit.db import begin_write
from sharefab.kit.errors import SharefabError
from sharefab.kit.pagination import PageParams
from sharefab.kit.repository import paginate
from sharefab.kit.timespan import Span, clip, minutes
from sharefab.kit.types import utcnow
from sharefab.ledger import service as ledger
from sharefab.ledger.models import AccountKind
from sharefab.market import reoptimise_job
from sharefab.market.models import BookingStatus
from sharefab.orders import service as orders
from sharefab.orders.models import OrderStatus
from sharefab.reputation import service as reputation
from sharefab.web import charts
from sharefab.web.i18n import DISPLAY_TZ, N_, STATUS_LABELS, Formatter, negotiate
from sharefab.web.render import (
    PageRoute,
    PostViewerDep,
    Viewer,
    ViewerDep,
    need_role,
    render,
    templates,
    translate,
)
from sharefab.web.render import context_for as base_context

router = APIRouter(prefix="/operator", route_class=PageRoute, include_in_schema=False)

HORIZON_DAYS = 28
HEATMAP_DAYS = 14
HEATMAP_ROWS = 24
JOBS_SHOWN = 6
REPORT_ROWS = 12
# A job's state: its label and the badge colour of the matching order or booking state.
JOB_STATES = {
    "queued": (N_("Queued"), "open"),
    "running": (N_("Running"), "in_progress"),
    "succeeded": (N_("Succeeded"), "done"),
    "failed": (N_("Failed"), "disputed"),
    "cancelled": (N_("Cancelled"), "cancelled"),
}
JOB_KINDS = {reoptimise_job.KIND: N_("Re-optimisation")}
WAITING = (OrderStatus.draft, OrderStatus.quoted)


@dataclass
class Dashboard:
    """The figures and chart specs of the dashboard."""

    kpis: dict[str, Any]
    charts: dict[str, Any]


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(DISPLAY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard(db: Session, p: Principal, request: Request) -> Dashboard:
    """Every figure of the dashboard from the services' read functions."""
    now = utcnow()
    first = _day_start(now)
    horizon: Span = (first, first + timedelta(days=HORIZON_DAYS))
    fmt = Formatter(negotiate(request))

    taxonomy = capacity.taxonomy(db)
    family_of = {c.code: c.family for c in taxonomy}
    sites = {s.id: s for s in db.scalars(capacity.visible_sites(p, None, None))}
    resources = list(db.scalars(capacity.visible_resources(p)))
    by_id = {r.id: r for r in resources}
    offered: dict[int, list[Span]] = defaultdict(list)
    for w in db.scalars(
        capacity.visible_windows(p, starts_before=horizon[1], ends_after=horizon[0])
    ):
        offered[w.resource_id].append((w.starts_at, w.ends_at))
    booked: dict[int, list[Span]] = defaultdict(list)
    for b in db.scalars(
        execution.visible_work_orders(p, starts_before=horizon[1], ends_after=horizon[0])
    ):
        booked[b.resource_id].append((b.starts_at, b.ends_at))

    # Idle capacity offered over the next weeks, by capability family and region.
    # A cluster inside one province is told apart by city; a national platform by region.
    by_city = len({s.region for s in sites.values()}) <= 1
    groups = {
        r.id: (
            sorted({family_of.get(c.capability_code, "?") for c in r.capabilities}),
            (sites[r.site_id].city if by_city else sites[r.site_id].region)
            if r.site_id in sites
            else "",
        )
        for r in resources
    }
    families, series = charts.idle_hours_by_group(offered, booked, groups, horizon)
    zh = fmt.locale == "zh_Hans"
    family_names = capacity.family_names()
    cap_names = {c.code: (c.name_zh if zh and c.name_zh else c.name) for c in taxonomy}
    idle_total = sum(sum(data) for _, data in series)
    idle_chart = charts.bar(
        [family_names.get(f, (f, f))[1 if zh else 0] for f in families],
        [(region, data) for region, data in series],
        stacked=True,
        horizontal=True,
        unit=translate(request, "hours"),
    )

    # Utilisation heat map: the busiest resources, day by day.
    days = [first + timedelta(days=d) for d in range(HEATMAP_DAYS)]
    window: Span = (first, days[-1] + timedelta(days=1))
    busy = sorted(
        (rid for rid in offered if booked.get(rid)),
        key=lambda rid: -sum(minutes(c) for s in booked[rid] if (c := clip(s, window))),
    )[:HEATMAP_ROWS]
    heat = charts.heatmap(
        [by_id[rid].name for rid in busy],
        [fmt.day(d) for d in days],
        [charts.daily_utilisation(offered[rid], booked[rid], days) for rid in busy],
    )
    offered_min = sum(
        minutes(c) for spans in offered.values() for s in spans if (c := clip(s, horizon))
    )
    booked_min = sum(
        minutes(c) for spans in booked.values() for s in spans if (c := clip(s, horizon))
    )

    # Orders: by state, on-time, revenue and fees.
    all_orders = list(db.scalars(orders.visible_orders(p)))
    states = Counter(o.status.value for o in all_orders)
    state_chart = charts.donut(
        [(translate(request, _label(s)), n) for s, n in states.most_common()]
    )
    done = list(db.scalars(execution.visible_work_orders(p, status=BookingStatus.done)))
    on_time_ops = sum(
        1
        for b in done
        if b.completed_at and (b.promised_end is None or b.completed_at <= b.promised_end)
    )
    promised = [o for o in all_orders if o.promised_at is not None]
    promised_on_time = sum(1 for o in promised if o.promised_at and o.promised_at <= o.due_at)
    revenue = sum(
        o.price_minor or 0 for o in all_orders if o.status not in (OrderStatus.cancelled, *WAITING)
    )
    fees = sum(
        a.balance_minor
        for a in db.scalars(ledger.visible_accounts(p, kind=AccountKind.platform_fees))
    )
    escrow = sum(
        a.balance_minor for a in db.scalars(ledger.visible_accounts(p, kind=AccountKind.escrow))
    )

    # Bottlenecks: booked work plus the work of orders still waiting, against what is offered.
    offered_by_cap: dict[str, float] = defaultdict(float)
    booked_by_cap: dict[str, float] = defaultdict(float)
    for r in resources:
        off = sum(minutes(c) for s in offered.get(r.id, []) if (c := clip(s, horizon))) / 60
        used = sum(minutes(c) for s in booked.get(r.id, []) if (c := clip(s, horizon))) / 60
        for cap in r.capabilities:
            offered_by_cap[cap.capability_code] += off
            booked_by_cap[cap.capability_code] += used
    waiting: dict[str, float] = defaultdict(float)
    for o in all_orders:
        if o.status in WAITING:
            for op in o.operations:
                waiting[op.capability_code] += (
                    op.setup_minutes + op.quantity * op.unit_seconds / 60
                ) / 60
    pressure = {
        code: (booked_by_cap[code] + waiting.get(code, 0.0)) / hours
        for code, hours in offered_by_cap.items()
        if hours > 0
    }
    for code, need in waiting.items():
        if code not in pressure and need > 0:
            pressure[code] = 9.99  # demanded, nothing offered: the worst bottleneck
    top = sorted(pressure.items(), key=lambda kv: -kv[1])[:8]
    bottleneck_chart = charts.bar(
        [cap_names.get(code, code) for code, _ in top],
        [(translate(request, "Demand / offered capacity"), [round(v * 100, 1) for _, v in top])],
        horizontal=True,
        unit="%",
        labels=True,
        colors=["#d1495b"],
    )

    # Providers by credit score.
    providers = [
        (
            org.name_local if fmt.locale == "zh_Hans" and org.name_local else org.name,
            reputation.provider_score(db, org.id).score,
        )
        for org in db.scalars(identity.visible_organizations(p, role="provider"))
    ]
    providers.sort(key=lambda x: -x[1])
    credit_chart = charts.bar(
        [n for n, _ in providers[:15]],
        [(translate(request, "Credit score"), [s for _, s in providers[:15]])],
        horizontal=True,
        labels=True,
        max_value=1000,
        colors=["#2a9d8f"],
    )
    return Dashboard(
        kpis={
            "idle_hours": idle_total,
            "utilisation": booked_min / offered_min if offered_min else None,
            "on_time_ops": on_time_ops / len(done) if done else None,
            "done_ops": len(done),
            "promised_on_time": promised_on_time / len(promised) if promised else None,
            "orders": len(all_orders),
            "revenue": revenue,
            "fees": fees,
            "escrow": escrow,
            "completed": states.get("completed", 0)
            + states.get("delivered", 0)
            + states.get("closed", 0),
        },
        charts={
            "idle": idle_chart,
            "heat": heat,
            "states": state_chart,
            "bottlenecks": bottleneck_chart,
            "credit": credit_chart,
        },
    )


def _on_time(completed: datetime | None, promised: datetime | None) -> bool:
    return completed is not None and (promised is None or completed <= promised)


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


@router.get("", response_class=HTMLResponse)
def operator_home(
    request: Request, db: SessionDep, viewer: ViewerDep, runner: RunnerDep
) -> Response:
    """The platform at a glance."""
    need_role(viewer, "operator")
    board = dashboard(db, viewer.principal, request)
    recent = list(db.scalars(orders.visible_orders(viewer.principal)))
    recent.sort(key=lambda o: o.updated_at, reverse=True)
    buyers = {o.organization_id for o in recent[:12]}
    names = {org: identity.organization_name(db, org) for org in buyers}
    return render(
        request,
        viewer,
        "operator/dashboard.html",
        {
            "kpis": board.kpis,
            "charts": board.charts,
            "recent": recent[:12],
            "names": names,
            "horizon_days": HORIZON_DAYS,
            **_jobs_panel(db, viewer, runner),
        },
    )


def _jobs_panel(
    db: Session, viewer: Viewer, runner: Runner, error: str | None = None
) -> dict[str, Any]:
    """What the jobs panel shows: the newest jobs, and the newest re-optimisation's report."""
    if runner.reap():
        db.commit()  # read what the reaping wrote (a new snapshot)
    shown, _ = paginate(
        db, jobs.visible_jobs(viewer.principal), PageParams(limit=JOBS_SHOWN, offset=0)
    )
    latest: Job | None = next((j for j in shown if j.kind == reoptimise_job.KIND), None)
    report = latest.result if latest is not None and latest.state.value == "succeeded" else None
    names: dict[int, str] = {}
    if report is not None and report.get("moved"):
        names = {r.id: r.name for r in db.scalars(capacity.visible_resources(viewer.principal))}
        moved = [
            {**mv, "starts_at": datetime.fromisoformat(mv["starts_at"])} for mv in report["moved"]
        ]
        report = {**report, "moved": moved}
    return {
        "jobs": shown,
        "job_states": JOB_STATES,
        "job_kinds": JOB_KINDS,
        "busy": any(j.active for j in shown),
        "reoptimising": any(j.active and j.kind == reoptimise_job.KIND for j in shown),
        "report_job": latest if report is not None else None,
        "report": report,
        "report_rows": REPORT_ROWS,
        "resource_names": names,
        "jobs_error": error,
    }


def _panel(
    request: Request, db: Session, viewer: Viewer, runner: Runner, error: str | None = None
) -> Response:
    full = {**base_context(request, viewer), **_jobs_panel(db, viewer, runner, error)}
    return templates.TemplateResponse(request, "operator/_jobs.html", full)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_panel(request: Request, db: SessionDep, viewer: ViewerDep, runner: RunnerDep) -> Response:
    """The jobs panel alone (HTMX polls it)."""
    need_role(viewer, "operator")
    return _panel(request, db, viewer, runner)


@router.post("/reoptimise", response_class=HTMLResponse)
@read_first
def reoptimise(
    request: Request,
    db: SessionDep,
    viewer: PostViewerDep,
    runner: RunnerDep,
    background: BackgroundTasks,
    search: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """Start a re-optimisation job (HTMX swaps in the jobs panel, which then follows it);
    the `search` box asks for the cluster planner's search after the passes."""
    need_role(viewer, "operator")
    try:
        # refused at once on the snapshot if one runs; started in a short write transaction
        jobs.ensure_free(
            db, reoptimise_job.KIND, stale_after=runner.stale_seconds, spare=runner.local_ids()
        )
        begin_write(db)
        job = jobs.start_job(
            db,
            reoptimise_job.KIND,
            reoptimise_job.params(search=bool(search)),
            principal=viewer.principal,
            trigger=JobTrigger.page,
            stale_after=runner.stale_seconds,
            spare=runner.local_ids(),
        )
    except SharefabError as exc:
        db.rollback()
        return _panel(request, db, viewer, runner, exc.detail)
    db.commit()  # the job exists before its thread looks for it
    background.add_task(runner.submit, job.id)
    return _panel(request, db, viewer, runner)


@router.post("/jobs/{job_id}/cancel", response_class=HTMLResponse)
@read_first
def cancel_job(
    request: Request, db: SessionDep, viewer: PostViewerDep, runner: RunnerDep, job_id: int
) -> Response:
    """Cancel a job (HTMX swaps in the jobs panel)."""
    need_role(viewer, "operator")
    try:
        jobs.get_job(db, viewer.principal, job_id)
        runner.cancel(job_id)  # this process runs it: it stops now (see the API's cancel)
        begin_write(db)
        jobs.request_cancel(db, viewer.principal, job_id)
    except SharefabError as exc:
        db.rollback()
        return _panel(request, db, viewer, runner, exc.detail)
    db.commit()
    return _panel(request, db, viewer, runner)
