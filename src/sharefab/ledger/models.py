"""Tables: accounts, transfers and their legs (entries), in integer minor units.

Every transfer has at least two legs whose amounts sum to zero. An account's
`balance_minor` is a cache of the sum of its legs; `service.verify_ledger` recomputes it.
Ledger rows are an append-only financial record: `order_id` is a plain column, not a foreign
key, so an escrow outlives its order row, and an organisation with money history cannot be
deleted (`RESTRICT`).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class AccountKind(enum.StrEnum):
    """What an account holds.

    `buyer_funds` and `provider_earnings` belong to an organisation; `escrow` (one per order)
    and `platform_fees` belong to the platform.
    """

    buyer_funds = "buyer_funds"
    provider_earnings = "provider_earnings"
    escrow = "escrow"
    platform_fees = "platform_fees"


PLATFORM_KINDS = frozenset({AccountKind.escrow, AccountKind.platform_fees})


class TransferKind(enum.StrEnum):
    """Why money moved."""

    fund_escrow = "fund_escrow"
    release = "release"
    refund = "refund"
    settle = "settle"


class Account(Base):
    """One balance in one currency; `key` names it uniquely (e.g. `escrow:order:12`)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind IN ('escrow', 'platform_fees')) = (organization_id IS NULL)",
            name="owner_matches_kind",
        ),
        CheckConstraint("(kind = 'escrow') = (order_id IS NOT NULL)", name="escrow_has_order"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[AccountKind] = mapped_column(
        Enum(AccountKind, native_enum=False, length=30), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    buyer_organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Transfer(Base):
    """Money moving between accounts at one moment; its legs sum to zero."""

    __tablename__ = "ledger_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[TransferKind] = mapped_column(
        Enum(TransferKind, native_enum=False, length=30), index=True
    )
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Entry(Base):
    """One leg of a transfer: a signed amount on one account, and that account's balance after."""

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount_minor <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transfers.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)
