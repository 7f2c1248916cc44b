"""API shapes of the ledger. Money is integer minor units everywhere (floats are refused)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, StrictInt

from sharefab.kit.schemas import Currency, MinorUnits, PublicSchema, Schema
from sharefab.ledger.models import AccountKind, TransferKind


class EscrowFunding(Schema):
    """What the marketplace pays into an order's escrow on accept (for its own request bodies)."""

    amount_minor: MinorUnits = Field(gt=0)
    currency: Currency = "CNY"


class Release(Schema):
    """A release of escrow to a provider, as the marketplace may accept it from a request."""

    amount_minor: MinorUnits = Field(gt=0)
    currency: Currency = "CNY"
    fee_bps: StrictInt = Field(default=500, ge=0, le=10_000)
    reference: str = Field(min_length=1, max_length=180)


class AccountPublic(PublicSchema):
    """An account and its balance (negative buyer funds: money paid in)."""

    id: int
    kind: AccountKind
    organization_id: int | None
    order_id: int | None
    currency: str
    balance_minor: int
    settled_at: datetime | None
    created_at: datetime


class EntryPublic(PublicSchema):
    """One leg on an account, with its transfer and the account's balance after it."""

    id: int
    transfer_id: int
    account_id: int
    amount_minor: int
    balance_after_minor: int
    kind: TransferKind
    order_id: int | None
    reference: str
    memo: str
    created_at: datetime


class LegPublic(PublicSchema):
    """One leg of a transfer as the caller may see it."""

    account_id: int
    account_kind: AccountKind
    organization_id: int | None
    amount_minor: int


class TransferPublic(PublicSchema):
    """A transfer; a tenant sees only the legs on its own accounts, the operator all legs."""

    id: int
    kind: TransferKind
    order_id: int | None
    reference: str
    currency: str
    memo: str
    created_at: datetime
    legs: list[LegPublic]


class EscrowPublic(PublicSchema):
    """An order's escrow as its buyer sees it: the balance and how it moved."""

    order_id: int
    currency: str
    balance_minor: int
    funded_minor: int
    released_minor: int
    refunded_minor: int
    settled: bool
    settled_at: datetime | None
