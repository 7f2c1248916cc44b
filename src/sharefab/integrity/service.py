"""The integrity checks: what must hold in any committed state of the database.

- no-overlap: two live bookings (tentative, committed, in progress, done) of one resource never
  share a minute.
- all-or-nothing: an order that was accepted holds its whole plan. An order in a booked state
  (scheduled, in production, completed, delivered, closed, disputed) has exactly one live booking
  per operation, exactly one accepted quote, and an escrow funded once with its price; an order
  is never left `accepted` (that state only exists inside the accept transaction); a draft or
  quoted order has no bookings, no accepted quote and no escrow; a cancelled order holds no
  booking that has not started; a completed, delivered or closed order has every operation
  done; a booking names an accepted quote of its own order and an operation of its own order.
- ledger: the double-entry journal balances (`ledger.service.verify_ledger`).
- escrow-once: an escrow is funded at most once and resolved (settled or refunded) at most
  once, nothing moves on it after it was resolved, and a closed or cancelled order's escrow is
  resolved.
- audit-chain: the hash-chained audit log verifies (`audit.service.verify_chain`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from sharefab.audit.service import verify_chain
from sharefab.ledger.models import Account, AccountKind, Entry, Transfer, TransferKind
from sharefab.ledger.service import verify_ledger
from sharefab.market.models import LIVE_BOOKING_STATUSES, Booking, BookingStatus, Quote
from sharefab.orders.models import Operation, Order, OrderStatus

BOOKED_STATES = frozenset(
    {
        OrderStatus.scheduled,
        OrderStatus.in_production,
        OrderStatus.completed,
        OrderStatus.delivered,
        OrderStatus.closed,
        OrderStatus.disputed,
    }
)
UNBOOKED_STATES = frozenset({OrderStatus.draft, OrderStatus.quoted})
FINISHED_STATES = frozenset({OrderStatus.completed, OrderStatus.delivered, OrderStatus.closed})
RESOLVED_STATES = frozenset({OrderStatus.closed, OrderStatus.cancelled})
RESOLVING_KINDS = (TransferKind.settle, TransferKind.refund)
NOT_STARTED = (BookingStatus.tentative, BookingStatus.committed)


@dataclass(frozen=True)
class Violation:
    """One broken promise: which check found it and a one-line message naming the rows."""

    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


@dataclass
class CheckResult:
    """One check's outcome: its name, what it means, and the violations it found."""

    name: str
    description: str
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the check found nothing wrong."""
        return not self.violations


def _no_overlap(session: Session) -> list[str]:
    a, b = aliased(Booking), aliased(Booking)
    stmt = (
        select(a.id, b.id, a.resource_id, a.starts_at, a.ends_at, b.starts_at, b.ends_at)
        .join(
            b,
            and_(
                a.resource_id == b.resource_id,
                a.id < b.id,
                a.starts_at < b.ends_at,
                b.starts_at < a.ends_at,
            ),
        )
        .where(a.status.in_(LIVE_BOOKING_STATUSES), b.status.in_(LIVE_BOOKING_STATUSES))
        .order_by(a.id, b.id)
    )
    return [
        f"bookings {ia} ({sa.isoformat()} to {ea.isoformat()}) and {ib} "
        f"({sb.isoformat()} to {eb.isoformat()}) overlap on resource {rid}"
        for ia, ib, rid, sa, ea, sb, eb in session.execute(stmt)
    ]


def _all_or_nothing(session: Session) -> list[str]:
    orders = {
        oid: (status, price)
        for oid, status, price in session.execute(
            select(Order.id, Order.status, Order.price_minor).order_by(Order.id)
        )
    }
    ops: dict[int, list[tuple[int, int]]] = defaultdict(list)
    op_order: dict[int, int] = {}
    for op_id, order_id, seq in session.execute(
        select(Operation.id, Operation.order_id, Operation.seq).order_by(Operation.seq)
    ):
        ops[order_id].append((op_id, seq))
        op_order[op_id] = order_id
    quotes = {
        qid: (order_id, status)
        for qid, order_id, status in session.execute(select(Quote.id, Quote.order_id, Quote.status))
    }
    accepted: Counter[int] = Counter(
        order_id for order_id, status in quotes.values() if status == "accepted"
    )
    funded: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(Transfer.order_id, func.sum(Entry.amount_minor))
            .join(Entry, Entry.transfer_id == Transfer.id)
            .join(Account, Account.id == Entry.account_id)
            .where(Transfer.kind == TransferKind.fund_escrow, Account.kind == AccountKind.escrow)
            .group_by(Transfer.order_id)
        ).all()
    )
    bookings_by_order: dict[int, list[tuple[int, int, str, int | None]]] = defaultdict(list)
    problems: list[str] = []
    for bid, order_id, op_id, b_status, quote_id in session.execute(
        select(
            Booking.id, Booking.order_id, Booking.operation_id, Booking.status, Booking.quote_id
        ).order_by(Booking.id)
    ):
        bookings_by_order[order_id].append((bid, op_id, b_status, quote_id))
        if op_order.get(op_id) != order_id:
            problems.append(
                f"booking {bid} is for order {order_id} but books operation {op_id} "
                f"of order {op_order.get(op_id)}"
            )
        if quote_id is not None:
            q_order, q_status = quotes.get(quote_id, (None, None))
            if q_order != order_id:
                problems.append(
                    f"booking {bid} of order {order_id} names quote {quote_id} of order {q_order}"
                )
            elif q_status != "accepted" and b_status in LIVE_BOOKING_STATUSES:
                problems.append(
                    f"booking {bid} of order {order_id} is {b_status} but its quote {quote_id} "
                    f"is {q_status}, not accepted"
                )
    for order_id, (status, price) in orders.items():
        mine = bookings_by_order.get(order_id, [])
        live = Counter(op for _, op, st, _ in mine if st in LIVE_BOOKING_STATUSES)
        where = f"order {order_id} ({status})"
        if status == OrderStatus.accepted:
            problems.append(f"{where} was left half-accepted: accepted is never a resting state")
        if status in UNBOOKED_STATES:
            if mine:
                problems.append(f"{where} has {len(mine)} bookings; it was never accepted")
            if accepted[order_id]:
                problems.append(f"{where} has an accepted quote but was never booked")
            if order_id in funded:
                problems.append(f"{where} has a funded escrow but was never booked")
        if status in BOOKED_STATES:
            for op_id, seq in ops.get(order_id, []):
                if live[op_id] != 1:
                    problems.append(
                        f"{where} operation {seq} has {live[op_id]} live bookings, not exactly 1"
                    )
            if accepted[order_id] != 1:
                problems.append(f"{where} has {accepted[order_id]} accepted quotes, not exactly 1")
            if order_id not in funded:
                problems.append(f"{where} is booked but its escrow was never funded")
            elif price is not None and funded[order_id] != price:
                problems.append(
                    f"{where} escrow was funded with {funded[order_id]}, its price is {price}"
                )
        if status in FINISHED_STATES:
            undone = sorted(
                {b for b, _, st, _ in mine if st in LIVE_BOOKING_STATUSES and st != "done"}
            )
            if undone:
                problems.append(f"{where} has bookings not done: {undone}")
        if status == OrderStatus.cancelled:
            waiting = sorted(b for b, _, st, _ in mine if st in NOT_STARTED)
            if waiting:
                problems.append(f"{where} still holds bookings that never started: {waiting}")
    return problems


def _escrow_once(session: Session) -> list[str]:
    problems: list[str] = []
    by_kind: Counter[tuple[int, TransferKind]] = Counter()
    resolving: dict[int, int] = {}
    for tid, order_id, kind in session.execute(
        select(Transfer.id, Transfer.order_id, Transfer.kind)
        .where(Transfer.order_id.is_not(None))
        .order_by(Transfer.id)
    ):
        if order_id is None:
            continue
        by_kind[(order_id, kind)] += 1
        if kind in RESOLVING_KINDS:
            resolving.setdefault(order_id, tid)
    for (order_id, kind), n in sorted(by_kind.items()):
        if kind == TransferKind.fund_escrow and n > 1:
            problems.append(f"escrow of order {order_id} was funded {n} times")
    for order_id in sorted({o for o, _ in by_kind}):
        n = by_kind[(order_id, TransferKind.settle)] + by_kind[(order_id, TransferKind.refund)]
        if n > 1:
            problems.append(f"escrow of order {order_id} was resolved {n} times (settle/refund)")
    escrows = list(session.scalars(select(Account).where(Account.kind == AccountKind.escrow)))
    last_move = dict(
        session.execute(
            select(Entry.account_id, func.max(Entry.transfer_id))
            .join(Account, Account.id == Entry.account_id)
            .where(Account.kind == AccountKind.escrow)
            .group_by(Entry.account_id)
        ).all()
    )
    last_move_at = dict(
        session.execute(
            select(Entry.account_id, func.max(Transfer.created_at))
            .join(Transfer, Transfer.id == Entry.transfer_id)
            .join(Account, Account.id == Entry.account_id)
            .where(Account.kind == AccountKind.escrow)
            .group_by(Entry.account_id)
        ).all()
    )
    status_of = dict(session.execute(select(Order.id, Order.status)).all())
    for escrow in sorted(escrows, key=lambda a: a.id):
        order_id = escrow.order_id
        assert order_id is not None
        first = resolving.get(order_id)
        if first is not None and escrow.settled_at is None:
            problems.append(
                f"escrow of order {order_id} was paid out by transfer {first} "
                "but is not marked settled"
            )
        if first is not None and last_move.get(escrow.id, 0) > first:
            problems.append(
                f"escrow of order {order_id} moved (transfer {last_move[escrow.id]}) after it "
                f"was resolved by transfer {first}"
            )
        moved_at = last_move_at.get(escrow.id)
        if (
            first is None
            and escrow.settled_at is not None
            and moved_at is not None
            and moved_at > escrow.settled_at
        ):
            problems.append(
                f"escrow of order {order_id} moved (transfer {last_move[escrow.id]}) after it "
                f"was settled at {escrow.settled_at.isoformat()}"
            )
        status = status_of.get(order_id)
        if status in RESOLVED_STATES and escrow.settled_at is None:
            problems.append(f"order {order_id} is {status} but its escrow was never settled")
    return problems


def _ledger(session: Session) -> list[str]:
    return verify_ledger(session)


def _audit_chain(session: Session) -> list[str]:
    result = verify_chain(session)
    if result.ok:
        return []
    return [f"broken at seq {result.broken_seq}: {result.reason}"]


CHECKS: list[tuple[str, str, Callable[[Session], list[str]]]] = [
    ("no-overlap", "no two live bookings of one resource overlap", _no_overlap),
    ("all-or-nothing", "every accepted order holds its whole plan, others none", _all_or_nothing),
    ("ledger", "the double-entry ledger balances", _ledger),
    ("escrow-once", "every escrow is funded once and settles at most once", _escrow_once),
    ("audit-chain", "the hash-chained audit log verifies", _audit_chain),
]


def run_checks(session: Session) -> list[CheckResult]:
    """Run every check (read only) and return each one's outcome, in a fixed order."""
    results = []
    for name, description, check in CHECKS:
        found = [Violation(name, message) for message in check(session)]
        results.append(CheckResult(name, description, found))
    return results


def check_database(session: Session) -> list[Violation]:
    """Every violation of the integrity rules in the database (empty when all holds)."""
    return [v for result in run_checks(session) for v in result.violations]
