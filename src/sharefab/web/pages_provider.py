"""The provider portal: sites and resources, the capacity calendar (publish and withdraw
windows by dragging on the chart or by form), work orders with their shop-floor actions and a
Gantt of booked work per resource, earnings and payouts, the credit score and its inputs.

Every action calls the same services as the API, with the viewer's principal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.capacity.models import Resource, ResourceKind
from sharefab.capacity.schemas import ResourceCreate, SiteCreate, WindowCreate
from sharefab.execution import service as execution
from sharefab.execution.schemas import BreakdownIn, EventIn
from sharefab.kit.api import SessionDep
from sharefab.kit.errors import NotFound, SharefabError
from sharefab.kit.types import utcnow
from sharefab.ledger import service as ledger
from sharefab.ledger.models import AccountKind
from sharefab.market.models import Booking
from sharefab.reputation import formula
from sharefab.reputation import service as reputation
from sharefab.web import charts
from sharefab.web.i18n import DISPLAY_TZ, N_, STATUS_LABELS, Formatter, negotiate
from sharefab.web.render import (
    PageRoute,
    PostViewerDep,
    Viewer,
    ViewerDep,
    failed,
    need_role,
    redirect,
    render,
    translate,
)

router = APIRouter(prefix="/provider", route_class=PageRoute, include_in_schema=False)

CALENDAR_DAYS = 14


def _provider(viewer: Viewer) -> None:
    need_role(viewer, "provider")


def _resources(db: Session, viewer: Viewer) -> list[Resource]:
    return list(db.scalars(capacity.visible_resources(viewer.principal)))


def _day_start(moment: datetime) -> datetime:
    local = moment.astimezone(DISPLAY_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@router.get("", response_class=HTMLResponse)
def provider_home(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """Sites, resources, what is running, earnings and the credit score at a glance."""
    _provider(viewer)
    p = viewer.principal
    sites = list(db.scalars(capacity.visible_sites(p, None, None)))
    resources = _resources(db, viewer)
    now = utcnow()
    work = list(db.scalars(execution.visible_work_orders(p, ends_after=now)))
    running = [b for b in work if b.status.value == "in_progress"]
    earnings = sum(
        a.balance_minor
        for a in ledger.balances_for(db, p.organization_id)
        if a.kind == AccountKind.provider_earnings
    )
    _, score, _ = reputation.scores_for(db, p, p.organization_id)
    by_site: dict[int, list[Resource]] = {}
    for r in resources:
        by_site.setdefault(r.site_id, []).append(r)
    locale = negotiate(request)
    families: dict[str, list[tuple[str, str]]] = {}
    family_names = capacity.family_names()
    for cap in capacity.taxonomy(db):
        name = cap.name_zh if locale == "zh_Hans" and cap.name_zh else cap.name
        family = family_names.get(cap.family, (cap.family, cap.family))
        families.setdefault(family[1 if locale == "zh_Hans" else 0], []).append((cap.code, name))
    return render(
        request,
        viewer,
        "provider/home.html",
        {
            "sites": sites,
            "by_site": by_site,
            "resources": resources,
            "upcoming": work[:8],
            "running": running,
            "work_count": len(work),
            "earnings": earnings,
            "score": score,
            "details": _work_details(db, work[:8]),
            "families": families,
            "kinds": [k.value for k in ResourceKind],
        },
    )


@router.post("/sites")
async def add_site(request: Request, db: SessionDep, viewer: PostViewerDep) -> Response:
    """Register a factory location."""
    _provider(viewer)
    form = await request.form()
    try:
        data = SiteCreate(
            name=str(form.get("name") or "").strip(),
            city=str(form.get("city") or "").strip(),
            region=str(form.get("region") or "").strip(),
            latitude=float(str(form.get("latitude") or "")),
            longitude=float(str(form.get("longitude") or "")),
        )
    except (ValidationError, ValueError):
        message = translate(request, "Give the site a name and its latitude and longitude.")
        return redirect("/provider", message, "error")
    try:
        site = capacity.create_site(db, viewer.principal, data)
    except SharefabError as exc:
        return failed(db, "/provider", exc)
    return redirect("/provider", translate(request, "Site %(name)s added.", name=site.name))


@router.post("/resources")
async def add_resource(request: Request, db: SessionDep, viewer: PostViewerDep) -> Response:
    """Register a machine, line, tool, instrument, vehicle or team with one capability."""
    _provider(viewer)
    form = await request.form()
    try:
        materials = [m.strip() for m in str(form.get("materials") or "").split(",") if m.strip()]
        data = ResourceCreate.model_validate(
            {
                "site_id": int(str(form.get("site_id") or 0)),
                "name": str(form.get("name") or "").strip(),
                "kind": str(form.get("kind") or "machine"),
                "resource_class": str(form.get("resource_class") or "").strip() or "standard",
                "hourly_rate_minor": round(float(str(form.get("hourly_rate") or "")) * 100),
                "capabilities": [
                    {"code": str(form.get("capability") or ""), "materials": materials}
                ],
            }
        )
    except (ValidationError, ValueError):
        message = translate(request, "Give the resource a site, a name, a capability and a rate.")
        return redirect("/provider", message, "error")
    try:
        resource = capacity.create_resource(db, viewer.principal, data)
    except SharefabError as exc:
        return failed(db, "/provider", exc)
    return redirect(
        "/provider",
        translate(
            request, "Resource %(name)s added; publish its capacity next.", name=resource.name
        ),
    )


def _work_details(db: Session, bookings: list[Booking]) -> dict[int, dict[str, Any]]:
    """The operation and order each work order runs (what the API's work-order view shows)."""
    out: dict[int, dict[str, Any]] = {}
    for b in bookings:
        out[b.id] = {
            "op": execution.operation_of(db, b),
            "order": execution.order_of(db, b),
        }
    return out


@router.get("/calendar", response_class=HTMLResponse)
def calendar(request: Request, db: SessionDep, viewer: ViewerDep, start: str = "") -> Response:
    """The capacity calendar: offered windows (green) and booked work per resource."""
    _provider(viewer)
    p = viewer.principal
    fmt = Formatter(negotiate(request))
    resources = _resources(db, viewer)
    try:
        first = _day_start(datetime.fromisoformat(start).replace(tzinfo=DISPLAY_TZ))
    except ValueError:
        first = _day_start(utcnow())
    last = first + timedelta(days=CALENDAR_DAYS)
    windows = list(db.scalars(capacity.visible_windows(p, starts_before=last, ends_after=first)))
    bookings = list(
        db.scalars(execution.visible_work_orders(p, starts_before=last, ends_after=first))
    )
    row_of = {r.id: i for i, r in enumerate(resources)}
    names = {r.id: r.name for r in resources}
    offered_word, work_word = translate(request, "Offered"), translate(request, "Work order")
    bars = [
        charts.Bar(
            row=row_of[w.resource_id],
            start=w.starts_at,
            end=w.ends_at,
            window=True,
            group="window",
            id=w.id,
            tooltip=f"{offered_word} · {names[w.resource_id]}<br>"
            f"{fmt.short(w.starts_at)} – {fmt.short(w.ends_at)}",
        )
        for w in windows
        if w.resource_id in row_of
    ] + [
        charts.Bar(
            row=row_of[b.resource_id],
            start=b.starts_at,
            end=b.ends_at,
            group=b.status.value,
            label=f"#{b.order_id}",
            tooltip=f"{work_word} {b.id} · {names[b.resource_id]}<br>"
            f"{fmt.short(b.starts_at)} – {fmt.short(b.ends_at)}",
        )
        for b in bookings
        if b.resource_id in row_of
    ]
    spec = charts.gantt(
        [r.name for r in resources],
        bars,
        start=first,
        end=last,
        now=utcnow(),
        now_label=translate(request, "now"),
        brush={"form": "publish-form"},
        clickForm="withdraw-form",
        tzOffset=charts.tz_offset_minutes(first),
        resourceIds=[r.id for r in resources],
        brushTitles={
            "rect": translate(request, "Drag to select a span"),
            "clear": translate(request, "Clear"),
        },
    )
    upcoming = [w for w in windows if w.ends_at > utcnow()][:40]
    return render(
        request,
        viewer,
        "provider/calendar.html",
        {
            "spec": spec,
            "resources": resources,
            "names": names,
            "windows": upcoming,
            "first": first,
            "prev": (first - timedelta(days=CALENDAR_DAYS)).strftime("%Y-%m-%d"),
            "next": last.strftime("%Y-%m-%d"),
            "default_start": fmt.input_value(first + timedelta(days=1, hours=8)),
            "default_end": fmt.input_value(first + timedelta(days=1, hours=18)),
        },
    )


def _parse_local(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_TZ)


@router.post("/windows")
async def publish_window(request: Request, db: SessionDep, viewer: PostViewerDep) -> Response:
    """Offer a span of a resource (the form, or a span dragged on the calendar)."""
    _provider(viewer)
    form = await request.form()
    back = "/provider/calendar"
    try:
        data = WindowCreate(
            resource_id=int(str(form.get("resource_id") or 0)),
            starts_at=_parse_local(str(form.get("starts_at") or "")),
            ends_at=_parse_local(str(form.get("ends_at") or "")),
            note=str(form.get("note") or "")[:300],
        )
    except (ValidationError, ValueError):
        return redirect(
            back,
            translate(request, "Choose a resource and a start before the end."),
            kind="error",
        )
    try:
        window = capacity.create_window(db, viewer.principal, data)
    except SharefabError as exc:
        return failed(db, back, exc)
    fmt = Formatter(negotiate(request))
    return redirect(
        f"{back}?start={window.starts_at.astimezone(DISPLAY_TZ):%Y-%m-%d}",
        translate(
            request,
            "Published: %(start)s – %(end)s.",
            start=fmt.short(window.starts_at),
            end=fmt.short(window.ends_at),
        ),
    )


@router.post("/windows/withdraw")
async def withdraw_window(request: Request, db: SessionDep, viewer: PostViewerDep) -> Response:
    """Withdraw one of the provider's windows."""
    _provider(viewer)
    form = await request.form()
    back = "/provider/calendar"
    try:
        window_id = int(str(form.get("window_id") or 0))
        capacity.delete_window(db, viewer.principal, window_id)
    except ValueError:
        return redirect(back, translate(request, "Choose a window to withdraw."), kind="error")
    except SharefabError as exc:
        return failed(db, back, exc)
    return redirect(back, translate(request, "Window withdrawn."))


@router.get("/work-orders", response_class=HTMLResponse)
def work_orders(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """Booked work per resource on a Gantt chart, and the work orders with their actions."""
    _provider(viewer)
    p = viewer.principal
    fmt = Formatter(negotiate(request))
    now = utcnow()
    work = list(db.scalars(execution.visible_work_orders(p, ends_after=now - timedelta(days=2))))
    active = [b for b in work if b.status.value != "done" or b.ends_at > now - timedelta(days=1)]
    resources = _resources(db, viewer)
    used = {b.resource_id for b in active}
    shown = [r for r in resources if r.id in used] or resources[:10]
    row_of = {r.id: i for i, r in enumerate(shown)}
    details = _work_details(db, active)
    bars = [
        charts.Bar(
            row=row_of[b.resource_id],
            start=b.starts_at,
            end=b.ends_at,
            group=b.status.value,
            label=f"{details[b.id]['order'].reference} · {details[b.id]['op'].seq}",
            tooltip=f"{details[b.id]['order'].reference} · {details[b.id]['op'].name}<br>"
            f"{fmt.short(b.starts_at)} – {fmt.short(b.ends_at)}<br>"
            f"{translate(request, STATUS_LABELS[b.status.value])}",
            id=b.id,
        )
        for b in active
        if b.resource_id in row_of
    ]
    start = min([b.starts_at for b in active] + [now]) - timedelta(hours=4)
    end = max([b.ends_at for b in active] + [now + timedelta(days=3)]) + timedelta(hours=4)
    spec = charts.gantt(
        [r.name for r in shown],
        bars,
        start=start,
        end=end,
        now=now,
        now_label=translate(request, "now"),
    )
    return render(
        request,
        viewer,
        "provider/work_orders.html",
        {
            "spec": spec,
            "work": active,
            "details": details,
            "names": {r.id: r.name for r in resources},
            "resources": resources,
            "now": now,
        },
    )


@router.post("/work-orders/{booking_id}/events")
async def report_event(
    request: Request, db: SessionDep, viewer: PostViewerDep, booking_id: int
) -> Response:
    """Start, report progress, complete or scrap: the shop floor's events."""
    _provider(viewer)
    execution.get_work_order(db, viewer.principal, booking_id)  # 404 for another's
    form = await request.form()
    back = "/provider/work-orders"
    kind = str(form.get("type") or "")
    try:
        quantity = str(form.get("quantity") or "").strip()
        rework = str(form.get("rework_minutes") or "").strip()
        data = EventIn.model_validate(
            {
                "type": kind,
                "quantity": int(quantity) if quantity else None,
                "rework_minutes": int(rework) if rework else None,
                "note": str(form.get("note") or "")[:500],
            }
        )
    except (ValidationError, ValueError):
        return redirect(back, translate(request, "Check the quantity and try again."), "error")
    try:
        _, report = execution.report_event(db, viewer.principal, booking_id, data)
    except SharefabError as exc:
        if isinstance(exc, NotFound):
            raise
        return failed(db, back, exc)
    messages = {
        "started": N_("Work order %(id)s started."),
        "progress": N_("Progress of work order %(id)s recorded."),
        "completed": N_("Work order %(id)s completed; its payment is released to you."),
        "scrapped": N_("Scrap on work order %(id)s recorded."),
    }
    message = translate(request, messages[kind], id=booking_id)
    if report and report.get("moved"):
        message += " " + translate(
            request, "%(n)s later bookings were replanned.", n=len(report["moved"])
        )
    return redirect(back, message)


@router.post("/breakdown")
async def report_breakdown(request: Request, db: SessionDep, viewer: PostViewerDep) -> Response:
    """A resource broke down: it is down until the expected repair; its work is replanned."""
    _provider(viewer)
    form = await request.form()
    back = "/provider/work-orders"
    try:
        resource_id = int(str(form.get("resource_id") or 0))
        capacity.get_resource(db, viewer.principal, resource_id)  # 404 for another's
        hours = float(str(form.get("repair_hours") or "0"))
        data = BreakdownIn(
            repair_minutes=max(1, round(hours * 60)), note=str(form.get("note") or "")[:500]
        )
    except (ValidationError, ValueError):
        return redirect(
            back, translate(request, "Give the expected repair time in hours."), "error"
        )
    try:
        _, report = execution.report_breakdown(db, viewer.principal, resource_id, data)
    except SharefabError as exc:
        if isinstance(exc, NotFound):
            raise
        return failed(db, back, exc)
    return redirect(
        back,
        translate(
            request,
            "Breakdown recorded; %(n)s bookings were moved.",
            n=len(report.get("moved", [])),
        ),
    )


@router.get("/earnings", response_class=HTMLResponse)
def earnings(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """Earnings, payouts, and the credit score with the inputs that make it."""
    _provider(viewer)
    p = viewer.principal
    accounts = [
        a
        for a in ledger.balances_for(db, p.organization_id)
        if a.kind == AccountKind.provider_earnings
    ]
    transfers = list(db.scalars(ledger.visible_transfers(p)))
    legs = ledger.visible_legs(db, p, transfers)
    payouts = [
        {"transfer": t, "amount": sum(e.amount_minor for e, _ in legs.get(t.id, []))}
        for t in reversed(transfers)
    ][:50]
    by_day: dict[str, int] = {}
    fmt = Formatter(negotiate(request))
    for t in transfers:
        day = fmt.date(t.created_at)
        by_day[day] = by_day.get(day, 0) + sum(e.amount_minor for e, _ in legs.get(t.id, []))
    earned_chart = charts.bar(
        list(by_day),
        [(translate(request, "Earned"), [v / 100 for v in by_day.values()])],
        unit="CNY",
    )
    _, score, _ = reputation.scores_for(db, p, p.organization_id)
    components: dict[str, float] = reputation.components(score) if score else {}
    weights = {k: float(v) for k, v in formula.PROVIDER_WEIGHTS.items()}
    ratings = [
        r
        for r in db.scalars(reputation.visible_ratings(p))
        if r.ratee_organization_id == p.organization_id
    ][-10:]
    return render(
        request,
        viewer,
        "provider/earnings.html",
        {
            "accounts": accounts,
            "total": sum(a.balance_minor for a in accounts),
            "payouts": payouts,
            "earned_chart": earned_chart,
            "score": score,
            "gauge": charts.gauge(score.score if score else 0, translate(request, "Credit score")),
            "components": components,
            "weights": weights,
            "ratings": ratings,
        },
    )
