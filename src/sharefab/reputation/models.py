"""Tables: ratings (one per order, rater and ratee) and credit scores with their inputs.

A credit score row holds the counts that make the score (the inputs) and the score itself,
recomputed from them on every recorded event; `docs/credit-score.md` publishes the formula.
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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class PartyRole(enum.StrEnum):
    """The side an organisation is on for a score or a rating."""

    provider = "provider"
    buyer = "buyer"


class Rating(Base):
    """A party's 1-5 rating of a counter-party of one delivered order."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("order_id", "rater_organization_id", "ratee_organization_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        CheckConstraint("rater_organization_id <> ratee_organization_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    rater_organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    ratee_organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    rater_role: Mapped[PartyRole] = mapped_column(Enum(PartyRole, native_enum=False, length=20))
    rater_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditScore(Base):
    """An organisation's score in one role (0-1000) and the counts it is computed from.

    Provider inputs: operations, on_time_operations, quantity_done, quantity_scrapped,
    response_samples, response_minutes_total. Buyer inputs: orders_placed, orders_cancelled,
    payments, payments_on_time. Both: disputes, rating_count, rating_points (the sum of
    score - 1 over the ratings received, 0-4 each).
    """

    __tablename__ = "credit_scores"
    __table_args__ = (
        UniqueConstraint("organization_id", "role"),
        CheckConstraint("score BETWEEN 0 AND 1000", name="score_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[PartyRole] = mapped_column(Enum(PartyRole, native_enum=False, length=20))
    operations: Mapped[int] = mapped_column(Integer, default=0)
    on_time_operations: Mapped[int] = mapped_column(Integer, default=0)
    quantity_done: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity_scrapped: Mapped[int] = mapped_column(BigInteger, default=0)
    response_samples: Mapped[int] = mapped_column(Integer, default=0)
    response_minutes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    orders_placed: Mapped[int] = mapped_column(Integer, default=0)
    orders_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    payments_on_time: Mapped[int] = mapped_column(Integer, default=0)
    disputes: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_points: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer)
    formula_version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
