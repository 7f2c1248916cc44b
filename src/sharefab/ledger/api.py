"""Routes: /api/v1/ledger. Read-only: money moves only through the marketplace's services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate, paginate_rows
from sharefab.ledger import service
from sharefab.ledger.models import AccountKind, TransferKind
from sharefab.ledger.schemas import (
    AccountPublic,
    EntryPublic,
    EscrowPublic,
    LegPublic,
    TransferPublic,
)

router = APIRouter(
    prefix="/ledger",
    tags=["ledger"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(scoped("ledger"))],
)


@router.get("/accounts")
def list_accounts(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    organization_id: Annotated[int | None, Query(description="Operator only")] = None,
    kind: AccountKind | None = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    order_id: Annotated[int | None, Query(description="Escrow of one order (operator)")] = None,
) -> Page[AccountPublic]:
    """Your organisation's accounts with balances; the operator sees every account."""
    stmt = service.visible_accounts(
        principal, organization_id=organization_id, kind=kind, currency=currency, order_id=order_id
    )
    rows, total = paginate(session, stmt, page)
    items = [AccountPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/accounts/{account_id}")
def get_account(session: SessionDep, principal: CurrentPrincipal, account_id: int) -> AccountPublic:
    """One of your accounts and its balance."""
    return AccountPublic.model_validate(service.get_account(session, principal, account_id))


@router.get("/accounts/{account_id}/entries")
def list_entries(
    session: SessionDep, principal: CurrentPrincipal, account_id: int, page: PageDep
) -> Page[EntryPublic]:
    """The legs on one of your accounts, oldest first, with the balance after each."""
    stmt = service.account_entries(session, principal, account_id)
    rows, total = paginate_rows(session, stmt, page)
    items = [
        EntryPublic(
            id=entry.id,
            transfer_id=entry.transfer_id,
            account_id=entry.account_id,
            amount_minor=entry.amount_minor,
            balance_after_minor=entry.balance_after_minor,
            kind=transfer.kind,
            order_id=transfer.order_id,
            reference=transfer.reference,
            memo=transfer.memo,
            created_at=transfer.created_at,
        )
        for entry, transfer in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/transfers")
def list_transfers(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    order_id: int | None = None,
    organization_id: Annotated[int | None, Query(description="Operator only")] = None,
) -> Page[TransferPublic]:
    """Transfers touching your accounts (only your legs shown); the operator sees all."""
    stmt = service.visible_transfers(principal, order_id=order_id, organization_id=organization_id)
    rows, total = paginate(session, stmt, page)
    legs = service.visible_legs(session, principal, rows)
    items = [
        TransferPublic(
            id=t.id,
            kind=t.kind,
            order_id=t.order_id,
            reference=t.reference,
            currency=t.currency,
            memo=t.memo,
            created_at=t.created_at,
            legs=[
                LegPublic(
                    account_id=a.id,
                    account_kind=a.kind,
                    organization_id=a.organization_id,
                    amount_minor=e.amount_minor,
                )
                for e, a in legs[t.id]
            ],
        )
        for t in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/escrow/{order_id}")
def get_escrow(session: SessionDep, principal: CurrentPrincipal, order_id: int) -> EscrowPublic:
    """The escrow of one of your orders (as its buyer): balance, funded, released, refunded."""
    escrow = service.get_escrow(session, principal, order_id)
    moved = service.escrow_movements(session, escrow)
    return EscrowPublic(
        order_id=order_id,
        currency=escrow.currency,
        balance_minor=escrow.balance_minor,
        funded_minor=moved.get(TransferKind.fund_escrow.value, 0),
        released_minor=moved.get(TransferKind.release.value, 0),
        refunded_minor=moved.get(TransferKind.refund.value, 0)
        + moved.get(TransferKind.settle.value, 0),
        settled=escrow.settled_at is not None,
        settled_at=escrow.settled_at,
    )
