"""Routes: quotes of an order, accepting a quote, the order's bookings."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.market import service
from sharefab.market.schemas import AcceptedPublic, BookingPublic, QuotePublic
from sharefab.orders import service as orders

router = APIRouter(
    tags=["market"], responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("orders"))]
)


@router.post("/orders/{order_id}/quotes", status_code=status.HTTP_201_CREATED)
def request_quotes(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> list[QuotePublic]:
    """Up to three options (fastest, cheapest, balanced) with price, date and explanation."""
    return idem.run(
        lambda: [
            QuotePublic.model_validate(q)
            for q in service.request_quotes(session, principal, order_id)
        ]
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
