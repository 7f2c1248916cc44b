"""Routes: quotes of an order, accepting a quote, the order's bookings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep, read_first
from sharefab.kit.errors import Forbidden, InvalidInput, field_error
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.kit.settings import get_settings
from sharefab.market import lifecycle, replan, service
from sharefab.market.schemas import (
    AcceptedPublic,
    BookingPublic,
    DisputeIn,
    OrderStatePublic,
    QuotePublic,
    ResolveIn,
)
from sharefab.orders import service as orders
from sharefab.reputation.schemas import RatingCreate, RatingPublic

router = APIRouter(
    tags=["market"], responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("orders"))]
)


@router.post("/orders/{order_id}/quotes", status_code=status.HTTP_201_CREATED)
@read_first
def request_quotes(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> list[QuotePublic]:
    """Up to three options (fastest, cheapest, balanced) with price, date and explanation."""
    # The solve reads a snapshot without the write lock; the quotes are stored after it.
    return idem.run_read_first(
        lambda: service.plan_quotes(session, principal, order_id),
        lambda plan: [
            QuotePublic.model_validate(q) for q in service.record_quotes(session, principal, plan)
        ],
    )


@router.get("/orders/{order_id}/quotes")
def list_quotes(
    session: SessionDep, principal: CurrentPrincipal, order_id: int
) -> list[QuotePublic]:
    """An order's quotes, newest first."""
    return [
        QuotePublic.model_validate(q) for q in service.list_quotes(session, principal, order_id)
    ]


@router.get("/quotes/{quote_id}")
def get_quote(session: SessionDep, principal: CurrentPrincipal, quote_id: int) -> QuotePublic:
    """One quote."""
    return QuotePublic.model_validate(service.get_quote(session, principal, quote_id))


@router.post("/quotes/{quote_id}/accept", status_code=status.HTTP_201_CREATED)
def accept_quote(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, quote_id: int
) -> AcceptedPublic:
    """Book every slot of the quote at once (or none), fund the escrow, schedule the order."""

    def accept() -> AcceptedPublic:
        quote, bookings = service.accept_quote(session, principal, quote_id)
        order = orders.get_order(session, principal, quote.order_id)
        return AcceptedPublic(
            quote=QuotePublic.model_validate(quote),
            order_status=order.status.value,
            bookings=[BookingPublic.model_validate(b) for b in bookings],
        )

    return idem.run(accept)


@router.get("/orders/{order_id}/bookings")
def order_bookings(
    session: SessionDep, principal: CurrentPrincipal, order_id: int
) -> list[BookingPublic]:
    """The order's bookings (its tentative plan made real), by start."""
    order = orders.get_order(session, principal, order_id)
    return [BookingPublic.model_validate(b) for b in service.order_bookings(session, order.id)]


@router.post("/orders/{order_id}/cancel")
def cancel_order(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> OrderStatePublic:
    """Cancel: bookings not started are released; the escrow is refunded by rule."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(lifecycle.cancel(session, principal, order_id)),
        status_code=200,
    )


@router.post("/orders/{order_id}/confirm-delivery")
def confirm_delivery(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> OrderStatePublic:
    """The buyer confirms the parts arrived."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(
            lifecycle.confirm_delivery(session, principal, order_id)
        ),
        status_code=200,
    )


@router.post("/orders/{order_id}/close")
def close_order(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> OrderStatePublic:
    """Close a delivered order and settle its escrow (once)."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(lifecycle.close(session, principal, order_id)),
        status_code=200,
    )


@router.post("/orders/{order_id}/dispute")
def dispute_order(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    order_id: int,
    body: DisputeIn,
) -> OrderStatePublic:
    """The buyer disputes the work; the operator resolves it."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(
            lifecycle.dispute(session, principal, order_id, body.reason)
        ),
        status_code=200,
    )


@router.post("/orders/{order_id}/resolve")
def resolve_dispute(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    order_id: int,
    body: ResolveIn,
) -> OrderStatePublic:
    """The operator resolves a dispute: close and settle, or cancel and refund."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(
            lifecycle.resolve(session, principal, order_id, body.outcome)
        ),
        status_code=200,
    )


@router.post("/ratings", status_code=status.HTTP_201_CREATED)
def rate(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: RatingCreate
) -> RatingPublic:
    """Rate the other side of a finished order (buyer -> provider, provider -> buyer)."""

    def produce() -> Any:
        rating = lifecycle.rate(
            session, principal, body.order_id, body.ratee_organization_id, body.score, body.comment
        )
        return RatingPublic.model_validate(rating)

    return idem.run(produce)


@router.post("/plans/reoptimise")
def reoptimise(
    session: SessionDep,
    principal: CurrentPrincipal,
    time_limit: Annotated[
        float,
        Query(
            gt=0,
            description="Solver seconds (at most the server's max_solver_seconds)",
            json_schema_extra={"maximum": get_settings().max_solver_seconds},
        ),
    ] = 20.0,
) -> dict[str, Any]:
    """Operator: re-place every booking not yet started to cut lateness and cost while keeping
    promised dates; reports what moved and which promised dates changed."""
    if not principal.is_operator:
        raise Forbidden("only the platform operator re-optimises the plan")
    cap = get_settings().max_solver_seconds
    if not time_limit <= cap:  # also refuses inf
        raise InvalidInput(
            f"time_limit {time_limit} s is more solver time than one request may use ({cap:g} s); "
            "ask for less",
            errors=[field_error("query.time_limit", f"at most {cap:g}")],
        )
    return replan.reoptimise(session, time_limit=time_limit).as_dict()
