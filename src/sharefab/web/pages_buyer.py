"""The buyer portal: orders, submitting an order with its routing, quotes side by side,
accepting one, following production on a timeline, payments, rating.

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
from sharefab.capacity.models import Resource
from sharefab.identity import service as identity
from sharefab.kit.api import SessionDep, read_first
from sharefab.kit.db import begin_write
from sharefab.kit.errors import InvalidInput, NotFound, SharefabError
from sharefab.kit.types import utcnow
from sharefab.ledger import service as ledger
from sharefab.market import lifecycle
from sharefab.market import service as market
from sharefab.market.models import Booking, Quote
from sharefab.orders import service as orders
from sharefab.orders.models import OrderStatus
from sharefab.orders.schemas import OrderCreate
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

router = APIRouter(prefix="/buyer", route_class=PageRoute, include_in_schema=False)

# The order's life as the timeline shows it (cancelled and disputed are shown as a badge).
TIMELINE = [
    OrderStatus.draft,
    OrderStatus.quoted,
    OrderStatus.scheduled,
    OrderStatus.in_production,
    OrderStatus.completed,
    OrderStatus.delivered,
    OrderStatus.closed,
]
ROUTING_ROWS = 6


def _buyer(viewer: Viewer) -> None:
    need_role(viewer, "buyer")


@router.get("", response_class=HTMLResponse)
def buyer_home(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """The buyer's orders, spending and payments."""
    _buyer(viewer)
    p = viewer.principal
    rows = list(db.scalars(orders.visible_orders(p)))
    rows.sort(key=lambda o: o.created_at, reverse=True)
    by_state: dict[str, int] = {}
    for o in rows:
        by_state[o.status.value] = by_state.get(o.status.value, 0) + 1
    active = [o for o in rows if o.status in (OrderStatus.scheduled, OrderStatus.in_production)]
    committed = sum(o.price_minor or 0 for o in rows if o.price_minor)
    transfers = list(db.scalars(ledger.visible_transfers(p)))[-12:]
    legs = ledger.visible_legs(db, p, transfers)
    payments = [
        {"transfer": t, "amount": sum(e.amount_minor for e, _ in legs.get(t.id, []))}
        for t in reversed(transfers)
    ]
    _, _, score = reputation.scores_for(db, p, p.organization_id)
    return render(
        request,
        viewer,
        "buyer/home.html",
        {
            "orders": rows,
            "by_state": by_state,
            "active": active,
            "committed": committed,
            "payments": payments,
            "score": score,
        },
    )


@router.get("/orders/new", response_class=HTMLResponse)
def new_order(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """The order form: what to make, how many, by when, and its routing."""
    _buyer(viewer)
    return _order_form(request, db, viewer, {})


def _order_form(
    request: Request,
    db: Session,
    viewer: Viewer,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    locale = negotiate(request)
    families: dict[str, list[tuple[str, str]]] = {}
    family_names = capacity.family_names()
    for cap in capacity.taxonomy(db):
        name = cap.name_zh if locale == "zh_Hans" and cap.name_zh else cap.name
        family = family_names.get(cap.family, (cap.family, cap.family))
        families.setdefault(family[1 if locale == "zh_Hans" else 0], []).append((cap.code, name))
    now = utcnow()
    defaults = {
        "reference": f"PO-{now.astimezone(DISPLAY_TZ):%y%m%d-%H%M%S}",
        "quantity": 50,
        "due_at": (now.astimezone(DISPLAY_TZ) + timedelta(days=14))
        .replace(hour=18, minute=0, second=0, microsecond=0)
        .strftime("%Y-%m-%dT%H:%M"),
        "steps": [{} for _ in range(ROUTING_ROWS)],
    }
    merged = {**defaults, **values}
    steps = list(merged["steps"]) + [{} for _ in range(ROUTING_ROWS - len(merged["steps"]))]
    merged["steps"] = steps
    return render(
        request,
        viewer,
        "buyer/order_new.html",
        {"families": families, "form": merged, "error": error},
        status_code=status_code,
    )


def _parse_local(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=DISPLAY_TZ)
    return moment


def _int(value: Any, default: int | None = None) -> int | None:
    text = str(value or "").strip()
    if not text:
        return default
    return int(float(text))


@router.post("/orders")
async def create_order(request: Request, db: SessionDep, viewer: PostViewerDep) -> Response:
    """Submit the order form: the same checks as the API, then the order page."""
    _buyer(viewer)
    form = await request.form()
    codes = form.getlist("op_capability")
    setups = form.getlist("op_setup_minutes")
    units = form.getlist("op_unit_seconds")
    quantities = form.getlist("op_quantity")
    values: dict[str, Any] = {
        k: form.get(k, "")
        for k in ("reference", "title", "material", "quantity", "due_at", "budget", "notes")
    }
    steps_in = []
    for i, code in enumerate(codes):
        steps_in.append(
            {
                "capability_code": str(code),
                "setup_minutes": setups[i] if i < len(setups) else "",
                "unit_seconds": units[i] if i < len(units) else "",
                "quantity": quantities[i] if i < len(quantities) else "",
            }
        )
    values["steps"] = steps_in
    try:
        operations = [
            {
                "capability_code": s["capability_code"],
                "setup_minutes": _int(s["setup_minutes"], 0),
                "unit_seconds": _int(s["unit_seconds"], 60),
                **({"quantity": q} if (q := _int(s["quantity"])) else {}),
            }
            for s in steps_in
            if s["capability_code"]
        ]
        budget = str(values["budget"] or "").strip()
        data = OrderCreate.model_validate(
            {
                "reference": str(values["reference"]).strip(),
                "title": str(values["title"]).strip(),
                "material": str(values["material"]).strip(),
                "quantity": _int(values["quantity"]),
                "release_at": utcnow(),
                "due_at": _parse_local(str(values["due_at"])),
                "budget_minor": round(float(budget) * 100) if budget else None,
                "notes": str(values["notes"]),
                "operations": operations,
            }
        )
    except (ValidationError, ValueError) as exc:
        message = _validation_message(request, exc)
        return _order_form(request, db, viewer, values, message, status_code=422)
    try:
        order = orders.create_order(db, viewer.principal, data)
    except SharefabError as exc:
        db.rollback()
        return _order_form(request, db, viewer, values, exc.detail, status_code=exc.status)
    return redirect(
        f"/buyer/orders/{order.id}",
        translate(request, "Order %(ref)s submitted. Ask for quotes next.", ref=order.reference),
    )


def _validation_message(request: Request, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        if where.startswith("operations"):
            return translate(request, "Check the routing: %(msg)s", msg=first["msg"])
        return translate(request, "Check %(field)s: %(msg)s", field=where, msg=first["msg"])
    return translate(request, "Check the numbers and dates in the form.")


def _names(db: Session, bookings: list[Booking], quotes: list[Quote]) -> dict[str, Any]:
    """Display names of the resources and providers an order's buyer is entitled to see."""
    resource_ids = {b.resource_id for b in bookings} | {
        s.resource_id for q in quotes for s in q.slots
    }
    resources = {rid: r.name for rid in resource_ids if (r := db.get(Resource, rid))}
    provider_ids = {b.provider_organization_id for b in bookings} | {
        pid for q in quotes for pid in q.provider_ids
    }
    providers = {pid: identity.organization_name(db, pid) for pid in provider_ids}
    return {"resources": resources, "providers": providers}


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, db: SessionDep, viewer: ViewerDep, order_id: int) -> Response:
    """One order: routing, quotes side by side, progress timeline and Gantt, payments, rating."""
    _buyer(viewer)
    p = viewer.principal
    order = orders.get_order(db, p, order_id)
    quotes = market.list_quotes(db, p, order.id)
    bookings = market.order_bookings(db, order.id)
    names = _names(db, bookings, quotes)
    fmt = Formatter(negotiate(request))
    ops = {op.id: op for op in order.operations}
    gantt = None
    if bookings:
        start = min(b.starts_at for b in bookings) - timedelta(hours=6)
        end = max(max(b.ends_at for b in bookings), order.due_at) + timedelta(hours=6)
        rows = [f"{op.seq}. {op.name}" for op in order.operations]
        row_of = {op.id: i for i, op in enumerate(order.operations)}
        bars = [
            charts.Bar(
                row=row_of[b.operation_id],
                start=b.starts_at,
                end=b.ends_at,
                label=names["resources"].get(b.resource_id, ""),
                group=b.status.value,
                tooltip=f"{names['resources'].get(b.resource_id, '')} · "
                f"{names['providers'].get(b.provider_organization_id, '')}<br>"
                f"{fmt.short(b.starts_at)} – {fmt.short(b.ends_at)}<br>"
                f"{translate(request, STATUS_LABELS[b.status.value])}",
                id=b.id,
            )
            for b in bookings
        ]
        gantt = charts.gantt(
            rows,
            bars,
            start=start,
            end=end,
            now=utcnow(),
            now_label=translate(request, "now"),
            due=charts.ms(order.due_at),
            dueLabel=translate(request, "Due"),
        )
    escrow = None
    movements: dict[str, int] = {}
    try:
        escrow = ledger.get_escrow(db, p, order.id)
        movements = ledger.escrow_movements(db, escrow)
    except NotFound:
        pass
    transfers = list(db.scalars(ledger.visible_transfers(p, order_id=order.id)))
    legs = ledger.visible_legs(db, p, transfers)
    payments = [
        {"transfer": t, "amount": sum(e.amount_minor for e, _ in legs.get(t.id, []))}
        for t in transfers
    ]
    rated = {
        r.ratee_organization_id
        for r in db.scalars(reputation.visible_ratings(p, order_id=order.id))
        if r.rater_organization_id == p.organization_id
    }
    reached = TIMELINE.index(order.status) if order.status in TIMELINE else -1
    return render(
        request,
        viewer,
        "buyer/order.html",
        {
            "order": order,
            "ops": ops,
            "quotes": quotes,
            "open_quotes": [q for q in quotes if q.status.value == "open"],
            "bookings": bookings,
            "names": names,
            "gantt": gantt,
            "escrow": escrow,
            "movements": movements,
            "payments": payments,
            "timeline": TIMELINE,
            "reached": reached,
            "rated": rated,
            "now": utcnow(),
        },
    )


@router.post("/orders/{order_id}/quotes")
@read_first
def request_quotes(
    request: Request, db: SessionDep, viewer: PostViewerDep, order_id: int
) -> Response:
    """Ask the platform for quotes (takes a few seconds: the solver prices three options)."""
    _buyer(viewer)
    back = f"/buyer/orders/{order_id}"
    try:
        # solve from a read snapshot (no write lock held), then store in a short write
        plan = market.plan_quotes(db, viewer.principal, order_id)
        begin_write(db)
        quotes = market.record_quotes(db, viewer.principal, plan)
    except SharefabError as exc:
        if isinstance(exc, NotFound):
            raise
        return failed(db, back, exc)
    return redirect(
        back + "#quotes",
        translate(request, "%(n)s quotes ready: compare them below.", n=len(quotes)),
    )


@router.post("/quotes/{quote_id}/accept")
def accept_quote(
    request: Request, db: SessionDep, viewer: PostViewerDep, quote_id: int
) -> Response:
    """Accept one quote: its slots are booked and the price goes into escrow."""
    _buyer(viewer)
    quote = market.get_quote(db, viewer.principal, quote_id)
    back = f"/buyer/orders/{quote.order_id}"
    try:
        market.accept_quote(db, viewer.principal, quote_id)
    except SharefabError as exc:
        return failed(db, back, exc)
    return redirect(
        back, translate(request, "Quote accepted: the work is booked and paid into escrow.")
    )


_ACTIONS = {
    "cancel": (lifecycle.cancel, N_("Order cancelled; the escrow is refunded by rule.")),
    "confirm-delivery": (lifecycle.confirm_delivery, N_("Delivery confirmed.")),
    "close": (lifecycle.close, N_("Order closed and settled.")),
}


@router.post("/orders/{order_id}/{action}")
async def order_action(
    request: Request, db: SessionDep, viewer: PostViewerDep, order_id: int, action: str
) -> Response:
    """Cancel, confirm delivery, close, or rate a provider of the order."""
    _buyer(viewer)
    orders.get_order(db, viewer.principal, order_id)  # 404 for another buyer's order
    back = f"/buyer/orders/{order_id}"
    try:
        if action == "rate":
            form = await request.form()
            lifecycle.rate(
                db,
                viewer.principal,
                order_id,
                int(str(form.get("ratee_organization_id") or 0)),
                int(str(form.get("score") or 0)),
                str(form.get("comment") or "")[:2000],
            )
            return redirect(back, translate(request, "Thank you: your rating is recorded."))
        if action not in _ACTIONS:
            raise NotFound(f"no action {action!r} on orders")
        run, message = _ACTIONS[action]
        run(db, viewer.principal, order_id)
    except ValueError:
        return failed(db, back, InvalidInput("choose a provider and a score from 1 to 5"))
    except SharefabError as exc:
        if isinstance(exc, NotFound):
            raise
        return failed(db, back, exc)
    return redirect(back, translate(request, message))
