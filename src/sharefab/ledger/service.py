"""Use cases of the ledger: fund an order's escrow, release it to providers, refund, settle.

Money moves only through these functions; the marketplace calls them inside its own
transaction (they write, they never commit). Every transfer is checked to balance before
anything is written. Amounts are integers in minor units; a float is refused.

Escrow rules:

- `fund_escrow` on accept: the buyer's funds pay the order's whole price into its escrow, once.
- `release_to_provider` on each completed operation: escrow pays the provider its share minus
  the platform fee (`fee = amount × fee_bps / 10 000`, rounded half up); never below zero;
  idempotent per `reference`.
- `refund_escrow` on cancellation or close, by rule: `"full"` returns everything that remains to
  the buyer; `"after_start"` keeps a 10 % cancellation fee (rounded half up) of what remains
  for the platform and returns the rest. The escrow is then resolved (settled).
- `settle_order` at close: whatever remains goes back to the buyer and the escrow is marked
  settled; every escrow resolves exactly once, later calls are no-ops.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from sharefab.identity.principal import Principal
from sharefab.kit.errors import Conflict, InvalidInput, NotFound
from sharefab.kit.types import utcnow
from sharefab.ledger import repository
from sharefab.ledger.models import (
    PLATFORM_KINDS,
    Account,
    AccountKind,
    Entry,
    Transfer,
    TransferKind,
)
from sharefab.ledger.settings import PLATFORM_FEE_BPS

__all__ = [
    "PLATFORM_FEE_BPS",
    "REFUND_RULES",
    "UnbalancedTransfer",
    "balances_for",
    "escrow_balance",
    "fee_for",
    "fund_escrow",
    "refund_escrow",
    "release_to_provider",
    "settle_order",
    "verify_ledger",
]

BPS = 10_000
CANCELLATION_FEE_BPS = 1_000  # "after_start": the platform keeps 10 % of what remains
REFUND_RULES = {"full": 0, "after_start": CANCELLATION_FEE_BPS}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class UnbalancedTransfer(AssertionError):
    """A transfer whose legs do not sum to zero: a bug in the caller, never written."""


# --- checks ---------------------------------------------------------------------------------


def _whole(value: Any, name: str, *, positive: bool = True) -> int:
    """`value` as a whole number of minor units; floats, bools and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"{name} must be a whole number of minor units (an int), not "
            f"{type(value).__name__} {value!r}; convert money to fen/cents before calling"
        )
    if positive and value <= 0:
        raise InvalidInput(f"{name} must be greater than 0, got {value}")
    if value < 0:
        raise InvalidInput(f"{name} must not be negative, got {value}")
    return value


def _currency(value: str) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise InvalidInput(f"currency must be an ISO 4217 code like 'CNY', got {value!r}")
    return value


def fee_for(amount_minor: int, fee_bps: int) -> int:
    """`amount × fee_bps / 10 000`, rounded half up, in integer arithmetic.

    >>> fee_for(10_010, 500)  # 500.5 -> 501
    501
    """
    _whole(amount_minor, "amount_minor", positive=False)
    _whole(fee_bps, "fee_bps", positive=False)
    if fee_bps > BPS:
        raise InvalidInput(f"fee_bps must be at most {BPS} (100 %), got {fee_bps}")
    return (amount_minor * fee_bps + BPS // 2) // BPS


# --- posting --------------------------------------------------------------------------------


def _lock_accounts(session: Session, templates: Sequence[Account]) -> list[Account]:
    """The accounts named by `templates` (created if new), locked in key order."""
    by_key = {t.key: t for t in templates}
    locked = {key: repository.get_or_create_account(session, by_key[key]) for key in sorted(by_key)}
    return [locked[t.key] for t in templates]


def _party_account(kind: AccountKind, organization_id: int, currency: str) -> Account:
    key = repository.account_key(kind, currency, organization_id=organization_id)
    return Account(
        key=key, kind=kind, organization_id=organization_id, currency=currency, balance_minor=0
    )


def _fees_account(currency: str) -> Account:
    key = repository.account_key(AccountKind.platform_fees, currency)
    return Account(key=key, kind=AccountKind.platform_fees, currency=currency, balance_minor=0)


def _post(
    session: Session,
    *,
    kind: TransferKind,
    order_id: int | None,
    reference: str,
    currency: str,
    legs: Sequence[tuple[Account, int]],
    memo: str = "",
) -> Transfer:
    """Write one transfer; its legs (zero legs dropped) must sum to zero, checked first."""
    legs = [(account, amount) for account, amount in legs if amount != 0]
    for account, amount in legs:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise UnbalancedTransfer(f"transfer {reference!r} has a non-integer leg {amount!r}")
        if account.currency != currency:
            raise UnbalancedTransfer(
                f"transfer {reference!r} in {currency} has a leg on {account.key} "
                f"in {account.currency}"
            )
    total = sum(amount for _, amount in legs)
    if len(legs) < 2 or total != 0:
        raise UnbalancedTransfer(
            f"transfer {reference!r} does not balance: legs "
            f"{[(a.key, amt) for a, amt in legs]} sum to {total}"
        )
    transfer = Transfer(
        kind=kind, order_id=order_id, reference=reference, currency=currency, memo=memo
    )
    session.add(transfer)
    session.flush()
    for account, amount in legs:
        account.balance_minor += amount
        session.add(
            Entry(
                transfer_id=transfer.id,
                account_id=account.id,
                amount_minor=amount,
                balance_after_minor=account.balance_minor,
            )
        )
    session.flush()
    return transfer


# --- the marketplace's entry points ---------------------------------------------------------


def fund_escrow(
    session: Session, *, order_id: int, buyer_org_id: int, amount_minor: int, currency: str
) -> Transfer:
    """On accept: the buyer's funds pay `amount_minor` into the order's escrow, once.

    buyer_funds(buyer) -amount, escrow(order) +amount. A second call for the same order
    raises Conflict.
    """
    _whole(order_id, "order_id")
    _whole(buyer_org_id, "buyer_org_id")
    amount = _whole(amount_minor, "amount_minor")
    currency = _currency(currency)
    escrow_key = repository.account_key(AccountKind.escrow, currency, order_id=order_id)
    escrow = repository.get_or_create_account(
        session,
        Account(
            key=escrow_key,
            kind=AccountKind.escrow,
            order_id=order_id,
            buyer_organization_id=buyer_org_id,
            currency=currency,
            balance_minor=0,
        ),
    )
    reference = f"fund_escrow:order:{order_id}"
    existing = repository.transfer_by_reference(session, reference)
    if existing is not None or escrow.settled_at is not None:
        raise Conflict(
            f"the escrow of order {order_id} is already funded"
            + (f" (transfer {existing.id})" if existing else "")
            + "; an order's escrow is funded once, on accept"
        )
    (buyer,) = _lock_accounts(
        session, [_party_account(AccountKind.buyer_funds, buyer_org_id, currency)]
    )
    return _post(
        session,
        kind=TransferKind.fund_escrow,
        order_id=order_id,
        reference=reference,
        currency=currency,
        legs=[(buyer, -amount), (escrow, amount)],
        memo=f"order {order_id} accepted: price held in escrow",
    )


def release_to_provider(
    session: Session,
    *,
    order_id: int,
    provider_org_id: int,
    amount_minor: int,
    currency: str,
    fee_bps: int,
    reference: str,
) -> Transfer:
    """On a completed operation: escrow pays the provider `amount_minor` less the platform fee.

    escrow -amount, provider_earnings +(amount - fee), platform_fees +fee, where
    fee = amount × fee_bps / 10 000 rounded half up. Refused (Conflict) if the escrow would go
    negative, is settled, or was never funded. `reference` (e.g. "booking:123") makes it
    idempotent: a second release with the same reference returns the first transfer.
    """
    _whole(order_id, "order_id")
    _whole(provider_org_id, "provider_org_id")
    amount = _whole(amount_minor, "amount_minor")
    currency = _currency(currency)
    fee = fee_for(amount, fee_bps)
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInput("reference must name what is paid for, e.g. 'booking:123'")
    escrow = repository.escrow_of(session, order_id, lock=True)
    stored_reference = f"release:{reference.strip()}"
    existing = repository.transfer_by_reference(session, stored_reference)
    if existing is not None:
        if existing.order_id != order_id:
            raise Conflict(
                f"reference {reference!r} was already used to release money of order "
                f"{existing.order_id}; use a reference unique to what is paid for"
            )
        return existing
    if escrow is None:
        raise Conflict(
            f"order {order_id} has no escrow; fund it (on accept) before releasing money"
        )
    if escrow.settled_at is not None:
        raise Conflict(f"the escrow of order {order_id} is settled; nothing more can be released")
    if escrow.currency != currency:
        raise Conflict(
            f"the escrow of order {order_id} holds {escrow.currency}, not {currency}; "
            "release in the order's currency"
        )
    if escrow.balance_minor < amount:
        raise Conflict(
            f"releasing {amount} would take the escrow of order {order_id} below zero "
            f"(it holds {escrow.balance_minor}); release at most what remains"
        )
    earnings, fees = _lock_accounts(
        session,
        [
            _party_account(AccountKind.provider_earnings, provider_org_id, currency),
            _fees_account(currency),
        ],
    )
    return _post(
        session,
        kind=TransferKind.release,
        order_id=order_id,
        reference=stored_reference,
        currency=currency,
        legs=[(escrow, -amount), (earnings, amount - fee), (fees, fee)],
        memo=f"{reference.strip()} completed: paid to provider, {fee_bps} bps platform fee",
    )


def refund_escrow(session: Session, *, order_id: int, rule: str) -> Transfer | None:
    """On cancellation or close: give back what remains in the order's escrow, and resolve it.

    Rules: `"full"` returns all that remains to the buyer; `"after_start"` (the work had
    begun) keeps a cancellation fee of 10 % of what remains, rounded half up, for the platform
    and returns the rest. The escrow is marked settled either way. None when the escrow holds
    nothing (or the order was never funded).
    """
    if rule not in REFUND_RULES:
        raise InvalidInput(f"refund rule {rule!r} is unknown; use one of {sorted(REFUND_RULES)}")
    _whole(order_id, "order_id")
    escrow = repository.escrow_of(session, order_id, lock=True)
    if escrow is None:
        return None
    remaining = escrow.balance_minor
    if remaining == 0:
        if escrow.settled_at is None:
            escrow.settled_at = utcnow()
            session.flush()
        return None
    assert escrow.buyer_organization_id is not None
    fee = fee_for(remaining, REFUND_RULES[rule])
    buyer, fees = _lock_accounts(
        session,
        [
            _party_account(AccountKind.buyer_funds, escrow.buyer_organization_id, escrow.currency),
            _fees_account(escrow.currency),
        ],
    )
    transfer = _post(
        session,
        kind=TransferKind.refund,
        order_id=order_id,
        reference=f"refund:order:{order_id}",
        currency=escrow.currency,
        legs=[(escrow, -remaining), (buyer, remaining - fee), (fees, fee)],
        memo=f"order {order_id} refunded by rule '{rule}'",
    )
    escrow.settled_at = utcnow()
    session.flush()
    return transfer


def settle_order(session: Session, *, order_id: int) -> None:
    """At close: any remainder in escrow goes back to the buyer; the escrow is then exactly 0
    and marked settled. A second call (or an order never funded) is a no-op."""
    _whole(order_id, "order_id")
    escrow = repository.escrow_of(session, order_id, lock=True)
    if escrow is None or escrow.settled_at is not None:
        return
    remaining = escrow.balance_minor
    if remaining < 0:
        raise UnbalancedTransfer(f"the escrow of order {order_id} is negative ({remaining})")
    if remaining > 0:
        assert escrow.buyer_organization_id is not None
        (buyer,) = _lock_accounts(
            session,
            [
                _party_account(
                    AccountKind.buyer_funds, escrow.buyer_organization_id, escrow.currency
                )
            ],
        )
        _post(
            session,
            kind=TransferKind.settle,
            order_id=order_id,
            reference=f"settle:order:{order_id}",
            currency=escrow.currency,
            legs=[(escrow, -remaining), (buyer, remaining)],
            memo=f"order {order_id} closed: remainder returned to the buyer",
        )
    escrow.settled_at = utcnow()
    session.flush()


# --- reading --------------------------------------------------------------------------------


def escrow_balance(session: Session, order_id: int) -> int:
    """What the order's escrow holds now (0 if it was never funded)."""
    escrow = repository.escrow_of(session, order_id)
    return 0 if escrow is None else escrow.balance_minor


def balances_for(session: Session, organization_id: int) -> list[Account]:
    """The organisation's own accounts (buyer funds, provider earnings) with their balances."""
    return list(session.scalars(repository.list_accounts(organization_id=organization_id)))


def verify_ledger(session: Session) -> list[str]:
    """Recompute the ledger from its journal; the problems found (empty when all is well).

    Checks: every transfer has two or more legs summing to zero, in its currency; every
    account's cached balance equals the sum of its legs and its newest running balance; no
    escrow is negative; every settled escrow holds exactly zero.
    """
    problems: list[str] = []
    for transfer_id, total, legs in repository.unbalanced_transfers(session):
        problems.append(f"transfer {transfer_id} has {legs} legs summing to {total}, not 0")
    for entry_id, transfer_id in repository.legs_in_wrong_currency(session):
        problems.append(f"entry {entry_id} of transfer {transfer_id} is in another currency")
    for account, journal in repository.journal_balances(session):
        if account.balance_minor != journal:
            problems.append(
                f"account {account.id} ({account.key}) caches {account.balance_minor}, "
                f"its journal sums to {journal}"
            )
        last = repository.last_balance_after(session, account.id)
        if last is not None and last != account.balance_minor:
            problems.append(
                f"account {account.id} ({account.key}) last running balance {last} "
                f"differs from {account.balance_minor}"
            )
        if account.kind == AccountKind.escrow:
            if account.balance_minor < 0:
                problems.append(f"escrow of order {account.order_id} is negative")
            if account.settled_at is not None and account.balance_minor != 0:
                problems.append(
                    f"escrow of order {account.order_id} is settled but holds "
                    f"{account.balance_minor}"
                )
    return problems


# --- what callers may see -------------------------------------------------------------------


def visible_accounts(
    principal: Principal,
    *,
    organization_id: int | None = None,
    kind: AccountKind | None = None,
    currency: str | None = None,
    order_id: int | None = None,
) -> Select[Account]:
    """The caller's own accounts; the operator sees every account, platform ones included."""
    if not principal.is_operator:
        organization_id = principal.organization_id
    return repository.list_accounts(
        organization_id=organization_id, kind=kind, currency=currency, order_id=order_id
    )


def get_account(session: Session, principal: Principal, account_id: int) -> Account:
    """An account of the caller's organisation (any for the operator), or 404."""
    account = session.get(Account, account_id)
    if account is None or not (
        principal.is_operator
        or (account.kind not in PLATFORM_KINDS and principal.owns(account.organization_id or 0))
    ):
        raise NotFound(f"account {account_id} does not exist")
    return account


def account_entries(
    session: Session, principal: Principal, account_id: int
) -> Select[Entry, Transfer]:
    """The legs of an account the caller may see, oldest first."""
    get_account(session, principal, account_id)
    return repository.account_entries(account_id)


def visible_transfers(
    principal: Principal, *, order_id: int | None = None, organization_id: int | None = None
) -> Select[Transfer]:
    """Transfers touching the caller's accounts; the operator sees all (or one organisation's)."""
    if not principal.is_operator:
        organization_id = principal.organization_id
    return repository.list_transfers(organization_id=organization_id, order_id=order_id)


def visible_legs(
    session: Session, principal: Principal, transfers: Sequence[Transfer]
) -> dict[int, list[tuple[Entry, Account]]]:
    """Each transfer's legs the caller may see: its own accounts' legs, or all for the operator."""
    out: dict[int, list[tuple[Entry, Account]]] = {t.id: [] for t in transfers}
    for entry, account in repository.entries_of_transfers(session, [t.id for t in transfers]):
        if principal.is_operator or (
            account.kind not in PLATFORM_KINDS and principal.owns(account.organization_id or 0)
        ):
            out[entry.transfer_id].append((entry, account))
    return out


def get_escrow(session: Session, principal: Principal, order_id: int) -> Account:
    """The escrow of an order for its buyer (or the operator); 404 for anyone else."""
    escrow = repository.escrow_of(session, order_id)
    if escrow is None or not (
        principal.is_operator or principal.owns(escrow.buyer_organization_id or 0)
    ):
        raise NotFound(f"no escrow for order {order_id}")
    return escrow


def escrow_movements(session: Session, escrow: Account) -> dict[str, int]:
    """How much came into the escrow and went out of it, per transfer kind (as positives)."""
    return {
        kind: abs(total) for kind, total in repository.movements_by_kind(session, escrow.id).items()
    }
