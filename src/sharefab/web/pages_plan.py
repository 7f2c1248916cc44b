"""The plan explorer: the whole plan as a Gantt chart, filtered by site, resource, capability and
order, with the critical orders (late, or with less than a day of slack) highlighted.

The filters are a plain GET form; HTMX re-draws only the chart when a filter changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.execution import service as execution
from sharefab.identity.principal import Principal
from sharefab.kit.api import SessionDep
from sharefab.kit.types import utcnow
from sharefab.orders.models import Order
from sharefab.web import charts
from sharefab.web.i18n import Formatter, negotiate
from sharefab.web.render import PageRoute, ViewerDep, need_role, render, translate

router = APIRouter(prefix="/plan", route_class=PageRoute, include_in_schema=False)

CRITICAL_SLACK = timedelta(hours=6)


def _int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def plan_view(
    db: Session,
    p: Principal,
    request: Request,
    *,
    site: str = "",
    resource: str = "",
    capability: str = "",
    order: str = "",
    critical_only: bool = False,
) -> dict[str, Any]:
    """The bookings that pass the filters as a Gantt spec, and the critical orders."""
    fmt = Formatter(negotiate(request))
    now = utcnow()
    stmt = execution.visible_work_orders(
        p,
        site_id=_int(site),
        resource_id=_int(resource),
        ends_after=now - timedelta(days=1),
    )
    bookings = list(db.scalars(stmt))
    ops = {b.id: execution.operation_of(db, b) for b in bookings}
    orders: dict[int, Order] = {}
    for b in bookings:
        if b.order_id not in orders:
            orders[b.order_id] = execution.order_of(db, b)
    if capability:
        bookings = [b for b in bookings if ops[b.id].capability_code == capability]
    if order.strip():
        wanted = order.strip().lower()
        bookings = [
            b for b in bookings if wanted in (orders[b.order_id].reference.lower(), str(b.order_id))
        ]
    ends: dict[int, Any] = {}
    for b in bookings:
        ends[b.order_id] = max(ends.get(b.order_id, b.ends_at), b.ends_at)
    critical = {oid for oid, end in ends.items() if end > orders[oid].due_at - CRITICAL_SLACK}
    if critical_only:
        bookings = [b for b in bookings if b.order_id in critical]
    resources = {r.id: r for r in db.scalars(capacity.visible_resources(p))}
    sites = {s.id: s for s in db.scalars(capacity.visible_sites(p, None, None))}
    used = sorted({b.resource_id for b in bookings}, key=lambda rid: resources[rid].name)
    row_of = {rid: i for i, rid in enumerate(used)}
    due_word, critical_word = translate(request, "Due"), translate(request, "critical")
    bars = [
        charts.Bar(
            row=row_of[b.resource_id],
            start=b.starts_at,
            end=b.ends_at,
            label=orders[b.order_id].reference,
            group="",
            color_index=b.order_id,
            critical=b.order_id in critical,
            id=b.id,
            tooltip=f"{orders[b.order_id].reference} · {ops[b.id].seq}. {ops[b.id].name}<br>"
            f"<code>{ops[b.id].capability_code}</code> · {resources[b.resource_id].name}<br>"
            f"{fmt.short(b.starts_at)} – {fmt.short(b.ends_at)}<br>"
            f"{due_word}: {fmt.short(orders[b.order_id].due_at)}"
            + (f" · <b>{critical_word}</b>" if b.order_id in critical else ""),
        )
        for b in bookings
    ]
    start = min([b.starts_at for b in bookings] + [now]) - timedelta(hours=2)
    end = max([b.ends_at for b in bookings] + [now + timedelta(days=2)]) + timedelta(hours=2)
    spec = charts.gantt(
        [
            f"{resources[rid].name} · {sites[resources[rid].site_id].city}"
            if resources[rid].site_id in sites
            else resources[rid].name
            for rid in used
        ],
        bars,
        start=start,
        end=end,
        now=now,
        now_label=translate(request, "now"),
        colors={},
        fadeOthers=bool(critical),
    )
    critical_rows = sorted(
        (
            {
                "order": orders[oid],
                "end": ends[oid],
                "late": ends[oid] > orders[oid].due_at,
                "slack_h": (orders[oid].due_at - ends[oid]).total_seconds() / 3600,
            }
            for oid in critical
            if oid in ends
        ),
        key=lambda r: r["slack_h"],
    )
    return {
        "spec": spec,
        "count": len(bookings),
        "orders_count": len({b.order_id for b in bookings}),
        "critical": critical_rows,
        "resources": sorted(resources.values(), key=lambda r: r.name),
        "sites": sorted(sites.values(), key=lambda s: s.name),
        "capabilities": sorted({op.capability_code for op in ops.values()}),
    }


@router.get("", response_class=HTMLResponse)
def plan_explorer(
    request: Request,
    db: SessionDep,
    viewer: ViewerDep,
    site: str = "",
    resource: str = "",
    capability: str = "",
    order: str = "",
    critical: str = "",
) -> Response:
    """The whole plan, filterable; a filter change re-draws only the chart (HTMX)."""
    need_role(viewer, "operator")
    view = plan_view(
        db,
        viewer.principal,
        request,
        site=site,
        resource=resource,
        capability=capability,
        order=order,
        critical_only=bool(critical),
    )
    filters = {
        "site": site,
        "resource": resource,
        "capability": capability,
        "order": order,
        "critical": critical,
    }
    template = "plan/_chart.html" if request.headers.get("hx-request") else "plan/explorer.html"
    return render(request, viewer, template, {**view, "filters": filters})
