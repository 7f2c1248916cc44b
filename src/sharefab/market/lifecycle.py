"""Use cases that move an order through its life after booking: cancel, confirm delivery,
close and settle, dispute and resolve, rate.

Each checks the state machine (409 naming the allowed states), moves the money by rule, and
records what the credit scores need.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sharefab.identity.principal import Principal, writable
from sharefab.kit.errors import Forbidden, NotFound
from sharefab.ledger import service as ledger
from sharefab.market import repository
from sharefab.market.models import BookingStatus, QuoteStatus
from sharefab.orders import service as orders
from sharefab.orders.models import Order, OrderStatus
from sharefab.reputation import service as reputation
from sharefab.reputation.models import Rating

STARTED = frozenset({OrderStatus.in_production})


def _buyer_order(session: Session, principal: Principal, order_id: int) -> Order:
    order = orders.get_order_for_update(session, order_id)
    if not principal.can_read(order.organization_id):
        raise NotFound(f"order {order_id} does not exist")
    writable(principal, order.organization_id, "order", order_id)
    if not principal.may("orders:write"):
        raise Forbidden("this API key lacks the scope 'orders:write'")
    return order


def cancel(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer cancels: bookings not started are released and the escrow refunded by rule
    (in full before production, less a 10 % cancellation fee once work has started)."""
    order = _buyer_order(session, principal, order_id)
    started = order.status in STARTED
    orders.transition(order, OrderStatus.cancelled)
    _release(session, order)
    ledger.refund_escrow(session, order_id=order.id, rule="after_start" if started else "full")
    reputation.record_order_cancelled(session, buyer_org_id=order.organization_id)
    session.flush()
    return order


def _release(session: Session, order: Order) -> None:
    """A cancelled order frees the bookings that never started and closes its open quotes."""
    for b in repository.bookings_of_order(session, order.id):
        if b.status in (BookingStatus.committed, BookingStatus.tentative):
            b.status = BookingStatus.cancelled
    for q in repository.quotes_of(session, order.id):
        if q.status == QuoteStatus.open:
            q.status = QuoteStatus.superseded


def confirm_delivery(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer confirms the parts arrived: completed -> delivered."""
    order = _buyer_order(session, principal, order_id)
    orders.transition(order, OrderStatus.delivered)
    reputation.record_payment(session, buyer_org_id=order.organization_id, on_time=True)
    session.flush()
    return order


def close(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer (or the operator) closes a delivered order; the escrow is settled, once."""
    order = orders.get_order_for_update(session, order_id)
    if not principal.can_read(order.organization_id):
        raise NotFound(f"order {order_id} does not exist")
    if not (principal.owns(order.organization_id) or principal.is_operator):
        raise Forbidden("only the buyer or the operator closes an order")
    orders.transition(order, OrderStatus.closed)
    ledger.settle_order(session, order_id=order.id)
    session.flush()
    return order


def dispute(session: Session, principal: Principal, order_id: int, reason: str) -> Order:
    """The buyer disputes the work; the providers' credit records the dispute."""
    order = _buyer_order(session, principal, order_id)
    orders.transition(order, OrderStatus.disputed)
    order.notes = (order.notes + f"\n[dispute] {reason}").strip()
    for provider in providers_of(session, order.id):
        reputation.record_dispute(
            session, provider_org_id=provider, buyer_org_id=order.organization_id
        )
    session.flush()
    return order


def resolve(session: Session, principal: Principal, order_id: int, outcome: str) -> Order:
    """The operator resolves a dispute: `close` settles as agreed, `cancel` refunds by rule."""
    order = orders.get_order_for_update(session, order_id)
    if not principal.can_read(order.organization_id):
        raise NotFound(f"order {order_id} does not exist")
    if not principal.is_operator:
        raise Forbidden("only the platform operator resolves disputes")
    if outcome == "close":
        orders.transition(order, OrderStatus.closed)
        ledger.settle_order(session, order_id=order.id)
    else:
        orders.transition(order, OrderStatus.cancelled)
        _release(session, order)
        ledger.refund_escrow(session, order_id=order.id, rule="after_start")
    session.flush()
    return order


def providers_of(session: Session, order_id: int) -> set[int]:
    """The providers holding live bookings of an order."""
    return {b.provider_organization_id for b in repository.bookings_of_order(session, order_id)}


def rate(
    session: Session,
    principal: Principal,
    order_id: int,
    ratee_org_id: int,
    score: int,
    comment: str,
) -> Rating:
    """A party of a finished order rates the other side (buyer -> provider, provider -> buyer)."""
    order = orders.get_order_for_update(session, order_id)
    providers = providers_of(session, order.id)
    party = principal.owns(order.organization_id) or principal.organization_id in providers
    if not party:
        raise NotFound(f"order {order_id} does not exist")
    return reputation.rate(
        session,
        principal,
        order_id=order.id,
        order_status=order.status.value,
        buyer_org_id=order.organization_id,
        provider_org_ids=providers,
        ratee_org_id=ratee_org_id,
        score=score,
        comment=comment,
    )
