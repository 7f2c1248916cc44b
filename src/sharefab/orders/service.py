"""Use cases on orders and their routings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from sharefab.capacity import service as capacity
from sharefab.capacity.models import Site
from sharefab.identity.principal import Principal, get_readable, tenant_filters, writable
from sharefab.kit.errors import Conflict, Forbidden, InvalidInput, field_error
from sharefab.orders import lifecycle, repository
from sharefab.orders.models import Operation, Order, OrderStatus
from sharefab.orders.routing import RoutingError, check_routing
from sharefab.orders.schemas import OperationIn, OrderCreate, OrderUpdate

EDITABLE_STATES = frozenset({OrderStatus.draft, OrderStatus.quoted})
DELETABLE_STATES = frozenset({OrderStatus.draft, OrderStatus.quoted, OrderStatus.cancelled})


def build_operations(
    session: Session, steps: list[OperationIn], order_quantity: int, order_material: str
) -> list[Operation]:
    """Operation rows from input steps: seqs default to position, predecessors to the previous
    step; codes must be in the taxonomy and the routing must be acyclic."""
    seqs = [step.seq if step.seq is not None else i + 1 for i, step in enumerate(steps)]
    predecessors: dict[int, list[int]] = {}
    for i, (seq, step) in enumerate(zip(seqs, steps, strict=True)):
        if step.predecessors is None:
            predecessors[seq] = [seqs[i - 1]] if i > 0 else []
        else:
            predecessors[seq] = sorted(set(step.predecessors))
    try:
        check_routing(predecessors, seqs)
    except RoutingError as exc:
        field = f"body.operations[{exc.index}].{exc.field}"
        raise InvalidInput(f"{field}: {exc}", errors=[field_error(field, str(exc))]) from None
    capacity.check_capability_codes(
        session,
        [(s.capability_code, f"body.operations[{i}].capability_code") for i, s in enumerate(steps)],
    )
    return [
        Operation(
            seq=seq,
            name=step.name or step.capability_code,
            capability_code=step.capability_code,
            quantity=step.quantity or order_quantity,
            setup_minutes=step.setup_minutes,
            unit_seconds=step.unit_seconds,
            class_unit_seconds=dict(step.class_unit_seconds),
            predecessors=predecessors[seq],
            material=step.material or order_material,
            certifications=sorted(set(step.certifications)),
            interruptible=step.interruptible,
        )
        for seq, step in zip(seqs, steps, strict=True)
    ]


def create_order(session: Session, principal: Principal, data: OrderCreate) -> Order:
    """Submit an order as a draft for the caller's organisation (a buyer); its routing is
    checked before anything is written."""
    if not principal.is_buyer:
        raise Forbidden(
            "your organisation is not registered as a buyer; ask the operator to enable it"
        )
    organization_id = principal.organization_id
    if repository.reference_taken(session, organization_id, data.reference):
        raise Conflict(
            f"you already have an order with reference '{data.reference}'; use a new reference",
            errors=[field_error("body.reference", "already used by this buyer")],
        )
    _check_delivery_site(session, data.delivery_site_id, organization_id)
    operations = build_operations(session, data.operations, data.quantity, data.material)
    order = Order(
        organization_id=organization_id,
        **data.model_dump(exclude={"operations"}),
        operations=operations,
    )
    session.add(order)
    session.flush()
    return order


def get_order(session: Session, principal: Principal, order_id: int) -> Order:
    """An order the caller may see, with its routing, or 404."""
    return get_readable(session, principal, Order, order_id, "order")


def visible_orders(principal: Principal, **filters: Any) -> Select[Order]:
    """Orders the caller may list: its own, or all for the operator."""
    return repository.list_orders(**tenant_filters(principal, filters))


def update_order(session: Session, principal: Principal, order_id: int, data: OrderUpdate) -> Order:
    """Change a draft or quoted order; a new routing replaces the old one."""
    order = get_order(session, principal, order_id)
    writable(principal, order.organization_id, "order", order_id)
    if order.status not in EDITABLE_STATES:
        raise Conflict(
            f"order {order_id} is {order.status.value} and can no longer be edited; "
            f"only orders in {sorted(s.value for s in EDITABLE_STATES)} can"
        )
    values = data.model_dump(exclude_unset=True, exclude={"operations"})
    for key, value in values.items():
        if value is not None or key in {"budget_minor", "delivery_site_id", "drawing_ref"}:
            setattr(order, key, value)
    if order.due_at <= order.release_at:
        raise InvalidInput(
            "due_at must be after release_at; give the work time to happen",
            errors=[field_error("body.due_at", "must be after release_at")],
        )
    _check_delivery_site(session, order.delivery_site_id, order.organization_id)
    if data.operations is not None:
        operations = build_operations(session, data.operations, order.quantity, order.material)
        repository.delete_operations(session, order)
        order.operations = operations
    if order.status == OrderStatus.quoted:
        order.status = OrderStatus.draft
    session.flush()
    session.refresh(order)
    return order


def delete_order(session: Session, principal: Principal, order_id: int) -> None:
    """Remove an order that has not been accepted."""
    order = get_order(session, principal, order_id)
    writable(principal, order.organization_id, "order", order_id)
    if order.status not in DELETABLE_STATES:
        raise Conflict(
            f"order {order_id} is {order.status.value}; cancel it instead of deleting it"
        )
    session.delete(order)
    session.flush()


def _check_delivery_site(session: Session, site_id: int | None, organization_id: int) -> None:
    if site_id is None:
        return
    site = session.get(Site, site_id)
    if site is None or site.organization_id != organization_id:
        raise InvalidInput(
            f"delivery site {site_id} is not one of the buyer's sites; pick one of your sites",
            errors=[field_error("body.delivery_site_id", "not a site of the buyer")],
        )


def check_transition(order: Order, wanted: OrderStatus) -> None:
    """409 naming the order's state and the states it can reach, unless it may become `wanted`."""
    try:
        lifecycle.check(order.status, wanted)
    except lifecycle.IllegalTransition as exc:
        raise Conflict(
            str(exc), current_state=exc.current.value, allowed_states=exc.allowed
        ) from None


def transition(order: Order, wanted: OrderStatus) -> None:
    """Move an order to `wanted`, or 409 naming its state and the states it can reach."""
    check_transition(order, wanted)
    order.status = wanted


def get_order_for_update(session: Session, order_id: int) -> Order:
    """An order row locked for the rest of the transaction (PostgreSQL; SQLite is serialised)."""
    return repository.lock_order(session, order_id)
