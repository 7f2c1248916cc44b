"""Routes: /api/v1/orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate
from sharefab.kit.schemas import AwareDatetime
from sharefab.orders import service
from sharefab.orders.models import OrderStatus
from sharefab.orders.schemas import OrderCreate, OrderPublic, OrderUpdate

router = APIRouter(
    prefix="/orders",
    tags=["orders"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(scoped("orders"))],
)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_order(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: OrderCreate
) -> OrderPublic:
    """Submit an order with its routing (as a draft)."""

    def produce() -> Any:
        return OrderPublic.model_validate(service.create_order(session, principal, body))

    return idem.run(produce)


@router.get("")
def list_orders(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    organization_id: int | None = None,
    status: OrderStatus | None = None,
    due_before: AwareDatetime | None = None,
    due_after: AwareDatetime | None = None,
    capability: Annotated[str | None, Query(max_length=80)] = None,
) -> Page[OrderPublic]:
    """Orders, by buyer, state, due date or needed capability."""
    stmt = service.visible_orders(
        principal,
        organization_id=organization_id,
        status=status,
        due_before=due_before,
        due_after=due_after,
        capability=capability,
    )
    rows, total = paginate(session, stmt, page)
    items = [OrderPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{order_id}")
def get_order(session: SessionDep, principal: CurrentPrincipal, order_id: int) -> OrderPublic:
    """One order with its routing."""
    return OrderPublic.model_validate(service.get_order(session, principal, order_id))


@router.patch("/{order_id}")
def update_order(
    session: SessionDep, principal: CurrentPrincipal, order_id: int, body: OrderUpdate
) -> OrderPublic:
    """Change a draft order; `operations` replaces the routing."""
    return OrderPublic.model_validate(service.update_order(session, principal, order_id, body))


@router.delete("/{order_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_order(session: SessionDep, principal: CurrentPrincipal, order_id: int) -> None:
    """Remove an order that has not been accepted."""
    service.delete_order(session, principal, order_id)
