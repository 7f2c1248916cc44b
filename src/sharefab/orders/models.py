"""Tables: orders and their operations (the routing)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sharefab.kit.db import Base
from sharefab.kit.types import UTCDateTime, utcnow


class OrderStatus(enum.StrEnum):
    """Where an order is in its life; the marketplace drives the transitions."""

    draft = "draft"
    quoted = "quoted"
    accepted = "accepted"
    scheduled = "scheduled"
    in_production = "in_production"
    completed = "completed"
    delivered = "delivered"
    closed = "closed"
    cancelled = "cancelled"
    disputed = "disputed"


class Order(Base):
    """What a buyer wants made: a routing of operations, a quantity, a due date, a budget."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("organization_id", "reference"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("due_at > release_at", name="due_after_release"),
        CheckConstraint("weight BETWEEN 1 AND 10", name="weight_range"),
        CheckConstraint("budget_minor IS NULL OR budget_minor >= 0", name="budget_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    product_family: Mapped[str] = mapped_column(String(80), default="")
    material: Mapped[str] = mapped_column(String(80), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    release_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    budget_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=20), default=OrderStatus.draft, index=True
    )
    delivery_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL")
    )
    drawing_ref: Mapped[str | None] = mapped_column(String(300))
    notes: Mapped[str] = mapped_column(Text, default="")
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the buyer accepted a quote, and when that quote's plan finished the last step; when
    # the last step really finished: how far plans slip, which later promises allow for
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    price_minor: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    operations: Mapped[list[Operation]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Operation.seq",
    )


class Operation(Base):
    """One routing step: a capability, a quantity, setup and per-unit time, its predecessors.

    Duration on a resource = setup + quantity × (the resource class's unit time, or the
    default unit time), rounded up to whole minutes.
    """

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("order_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("setup_minutes >= 0", name="setup_not_negative"),
        CheckConstraint("unit_seconds >= 0", name="unit_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    capability_code: Mapped[str] = mapped_column(ForeignKey("capabilities.code"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    setup_minutes: Mapped[int] = mapped_column(Integer, default=0)
    unit_seconds: Mapped[int] = mapped_column(Integer)
    class_unit_seconds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    predecessors: Mapped[list[int]] = mapped_column(JSON, default=list)
    material: Mapped[str] = mapped_column(String(80), default="")
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    # piece and desk work may stop at a shift end and go on in the resource's next window
    interruptible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    order: Mapped[Order] = relationship(back_populates="operations", lazy="raise")
