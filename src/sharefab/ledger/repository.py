"""Queries on accounts, transfers and entries."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.ledger.models import Account, AccountKind, Entry, Transfer


def account_key(
    kind: AccountKind,
    currency: str,
    *,
    organization_id: int | None = None,
    order_id: int | None = None,
) -> str:
    """The unique name of an account: `buyer_funds:org:3:CNY`, `escrow:order:12`, ..."""
    if kind == AccountKind.escrow:
        return f"escrow:order:{order_id}"
    if kind == AccountKind.platform_fees:
        return f"platform_fees:{currency}"
    return f"{kind.value}:org:{organization_id}:{currency}"


def account_by_key(session: Session, key: str, *, lock: bool = False) -> Account | None:
    """The account named `key`; with `lock`, its row is locked until the transaction ends."""
    stmt = select(Account).where(Account.key == key)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def get_or_create_account(session: Session, template: Account, *, lock: bool = True) -> Account:
    """The account with `template.key`, created from `template` if new, locked for update.

    A concurrent creator of the same key loses the race inside a savepoint and reads the
    winner's row instead.
    """
    found = account_by_key(session, template.key, lock=lock)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(template)
            session.flush()
    except IntegrityError:
        found = account_by_key(session, template.key, lock=lock)
        if found is None:
            raise
        return found
    return template


def escrow_of(session: Session, order_id: int, *, lock: bool = False) -> Account | None:
    """The escrow account of an order, if it was ever funded."""
    return account_by_key(
        session, account_key(AccountKind.escrow, "", order_id=order_id), lock=lock
    )


def transfer_by_reference(session: Session, reference: str) -> Transfer | None:
    """The transfer recorded under `reference`, if any."""
    return session.scalars(select(Transfer).where(Transfer.reference == reference)).one_or_none()


def entries_of_transfer(session: Session, transfer_id: int) -> list[Entry]:
    """A transfer's legs in the order they were written."""
    stmt = select(Entry).where(Entry.transfer_id == transfer_id).order_by(Entry.id)
    return list(session.scalars(stmt))


def entries_of_transfers(session: Session, transfer_ids: list[int]) -> list[tuple[Entry, Account]]:
    """The legs of several transfers with their accounts."""
    if not transfer_ids:
        return []
    stmt = (
        select(Entry, Account)
        .join(Account, Account.id == Entry.account_id)
        .where(Entry.transfer_id.in_(transfer_ids))
        .order_by(Entry.transfer_id, Entry.id)
    )
    return [(e, a) for e, a in session.execute(stmt).all()]


def list_accounts(
    *,
    organization_id: int | None = None,
    kind: AccountKind | None = None,
    currency: str | None = None,
    order_id: int | None = None,
) -> Select[Account]:
    """Accounts by owner, kind, currency or order, oldest first."""
    stmt = select(Account).order_by(Account.id)
    if organization_id is not None:
        stmt = stmt.where(Account.organization_id == organization_id)
    if kind is not None:
        stmt = stmt.where(Account.kind == kind)
    if currency is not None:
        stmt = stmt.where(Account.currency == currency)
    if order_id is not None:
        stmt = stmt.where(Account.order_id == order_id)
    return stmt


def account_entries(account_id: int) -> Select[Entry, Transfer]:
    """An account's legs with their transfers, oldest first."""
    return (
        select(Entry, Transfer)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .where(Entry.account_id == account_id)
        .order_by(Entry.id)
    )


def list_transfers(
    *, organization_id: int | None = None, order_id: int | None = None
) -> Select[Transfer]:
    """Transfers with a leg on an account of `organization_id` (all when None), newest last."""
    stmt = select(Transfer).order_by(Transfer.id)
    if organization_id is not None:
        touching = (
            select(Entry.transfer_id)
            .join(Account, Account.id == Entry.account_id)
            .where(Account.organization_id == organization_id)
        )
        stmt = stmt.where(Transfer.id.in_(touching))
    if order_id is not None:
        stmt = stmt.where(Transfer.order_id == order_id)
    return stmt


def unbalanced_transfers(session: Session) -> list[tuple[int, int, int]]:
    """(transfer id, sum of legs, number of legs) for every transfer that is not balanced."""
    legs = (
        select(
            Transfer.id,
            func.coalesce(func.sum(Entry.amount_minor), 0),
            func.count(Entry.id),
        )
        .select_from(Transfer)
        .outerjoin(Entry, Entry.transfer_id == Transfer.id)
        .group_by(Transfer.id)
    )
    return [
        (int(tid), int(total), int(n))
        for tid, total, n in session.execute(legs).all()
        if int(total) != 0 or int(n) < 2
    ]


def journal_balances(session: Session) -> list[tuple[Account, int]]:
    """Every account with the sum of its legs (the journal's balance)."""
    journal = (
        select(Entry.account_id, func.sum(Entry.amount_minor).label("total"))
        .group_by(Entry.account_id)
        .subquery()
    )
    stmt = (
        select(Account, func.coalesce(journal.c.total, 0))
        .outerjoin(journal, journal.c.account_id == Account.id)
        .order_by(Account.id)
    )
    return [(a, int(total)) for a, total in session.execute(stmt).all()]


def last_balance_after(session: Session, account_id: int) -> int | None:
    """The running balance written on the account's newest leg."""
    stmt = (
        select(Entry.balance_after_minor)
        .where(Entry.account_id == account_id)
        .order_by(Entry.id.desc())
        .limit(1)
    )
    value = session.scalar(stmt)
    return None if value is None else int(value)


def movements_by_kind(session: Session, account_id: int) -> dict[str, int]:
    """The sum of an account's legs per transfer kind (e.g. funded, released, refunded)."""
    stmt = (
        select(Transfer.kind, func.sum(Entry.amount_minor))
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .where(Entry.account_id == account_id)
        .group_by(Transfer.kind)
    )
    return {str(kind): int(total) for kind, total in session.execute(stmt).all()}


def legs_in_wrong_currency(session: Session) -> list[tuple[int, int]]:
    """(entry id, transfer id) of legs on an account whose currency differs from the transfer's."""
    stmt = (
        select(Entry.id, Entry.transfer_id)
        .join(Account, Account.id == Entry.account_id)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .where(Account.currency != Transfer.currency)
    )
    return [(int(e), int(t)) for e, t in session.execute(stmt).all()]
