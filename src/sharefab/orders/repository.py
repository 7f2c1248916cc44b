"""Queries on orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from sharefab.kit.errors import NotFound
from sharefab.orders.models import Operation, Order, OrderStatus


def reference_taken(session: Session, organization_id: int, reference: str) -> bool:
    """Whether the buyer already has an order with this reference."""
    stmt = select(func.count()).where(
        Order.organization_id == organization_id, Order.reference == reference
    )
    return session.scalar(stmt) != 0


def list_orders(
    *,
    organization_id: int | None = None,
    status: OrderStatus | None = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    capability: str | None = None,
) -> Select[Order]:
    """Orders by buyer, state, due date, or a capability their routing needs."""
    stmt = select(Order).order_by(Order.id)
    if organization_id is not None:
        stmt = stmt.where(Order.organization_id == organization_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    if due_before is not None:
        stmt = stmt.where(Order.due_at < due_before)
    if due_after is not None:
        stmt = stmt.where(Order.due_at >= due_after)
    if capability:
        stmt = stmt.where(
            Order.id.in_(select(Operation.order_id).where(Operation.capability_code == capability))
        )
    return stmt


def delete_operations(session: Session, order: Order) -> None:
    """Remove an order's routing before a new one is attached."""
    session.execute(delete(Operation).where(Operation.order_id == order.id))
    session.expire(order, ["operations"])


def lock_order(session: Session, order_id: int) -> Order:
    """The order, its row locked until the transaction ends (FOR UPDATE where supported)."""
    stmt = select(Order).where(Order.id == order_id).with_for_update()
    order = session.scalars(stmt).first()
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order
