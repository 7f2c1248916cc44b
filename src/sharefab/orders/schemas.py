"""API shapes for orders and their operations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from sharefab.kit.schemas import AwareDatetime, Currency, MinorUnits, PublicSchema, Schema
from sharefab.kit.settings import get_settings
from sharefab.orders.models import OrderStatus

# Resource limits (issue #8): a routing is bounded in steps, links, classes and amounts, so one
# request can neither hold the parser nor hand the solver a model that starves other users.
MAX_OPERATIONS = get_settings().max_operations_per_order
MAX_CLASSES = 50
MAX_UNIT_SECONDS = 10_000_000
MAX_QUANTITY = 10_000_000


def _few_enough_operations(value: Any) -> Any:
    """Refuse an over-long routing before its steps are validated one by one."""
    if isinstance(value, list) and len(value) > MAX_OPERATIONS:
        raise ValueError(
            f"{len(value)} operations is more than the {MAX_OPERATIONS} one order may have; "
            "split the work into several orders"
        )
    return value


def _few_enough_links(operations: list[OperationIn]) -> list[OperationIn]:
    """Refuse a routing with more predecessor links in total than the configured cap."""
    cap = get_settings().max_precedence_links
    links = sum(len(op.predecessors or ()) for op in operations)
    if links > cap:
        raise ValueError(
            f"the routing has {links} predecessor links, more than the {cap} allowed; "
            "list only each step's direct predecessors"
        )
    return operations


class OperationIn(Schema):
    """One routing step. Without `predecessors` a step follows the one listed before it."""

    seq: int | None = Field(default=None, ge=1, le=10_000, description="Defaults to position")
    name: str = Field(default="", max_length=200)
    capability_code: str = Field(min_length=1, max_length=80)
    quantity: StrictInt | None = Field(
        default=None, gt=0, le=MAX_QUANTITY, description="Defaults to the order's"
    )
    setup_minutes: StrictInt = Field(default=0, ge=0, le=100_000)
    unit_seconds: StrictInt = Field(ge=0, le=MAX_UNIT_SECONDS, description="Seconds per unit")
    class_unit_seconds: dict[
        Annotated[str, Field(max_length=80)], Annotated[StrictInt, Field(le=MAX_UNIT_SECONDS)]
    ] = Field(
        default_factory=dict,
        max_length=MAX_CLASSES,
        description="Seconds per unit on a given resource class",
    )
    predecessors: list[int] | None = Field(default=None, max_length=MAX_OPERATIONS)
    material: str = Field(default="", max_length=80)
    certifications: list[str] = Field(default_factory=list, max_length=20)
    interruptible: bool = Field(
        default=False,
        description="Piece or desk work that may stop at a shift end and go on in the "
        "resource's next capacity window (a continuous process such as heat treatment may not)",
    )

    @field_validator("class_unit_seconds")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        for key, seconds in value.items():
            if seconds < 0:
                raise ValueError(f"unit time for class '{key}' is negative; give seconds >= 0")
        return value


# A routing: its length is checked before its steps are (a 5,000-step body costs nothing),
# its links after.
Routing = Annotated[
    list[OperationIn],
    BeforeValidator(_few_enough_operations),
    Field(min_length=1, max_length=MAX_OPERATIONS),
    AfterValidator(_few_enough_links),
]


class OrderCreate(Schema):
    """A new order: what a buyer wants made (the buyer is the caller's organisation)."""

    reference: str = Field(min_length=1, max_length=80, description="Buyer's own order number")
    title: str = Field(min_length=1, max_length=200)
    product_family: str = Field(default="", max_length=80)
    material: str = Field(default="", max_length=80)
    quantity: StrictInt = Field(gt=0, le=MAX_QUANTITY)
    release_at: AwareDatetime
    due_at: AwareDatetime
    weight: StrictInt = Field(default=1, ge=1, le=10, description="Priority; higher is dearer")
    budget_minor: MinorUnits | None = None
    currency: Currency = "CNY"
    delivery_site_id: int | None = None
    drawing_ref: str | None = Field(default=None, max_length=300)
    notes: str = Field(default="", max_length=5000)
    operations: Routing

    @model_validator(mode="after")
    def _due_after_release(self) -> OrderCreate:
        if self.due_at <= self.release_at:
            raise ValueError("due_at must be after release_at; give the work time to happen")
        return self


class OrderUpdate(Schema):
    """Fields of an order that may change while it is a draft; `operations` replaces the routing."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    product_family: str | None = Field(default=None, max_length=80)
    material: str | None = Field(default=None, max_length=80)
    quantity: StrictInt | None = Field(default=None, gt=0, le=MAX_QUANTITY)
    release_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    weight: StrictInt | None = Field(default=None, ge=1, le=10)
    budget_minor: MinorUnits | None = None
    delivery_site_id: int | None = None
    drawing_ref: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, max_length=5000)
    operations: Routing | None = None


class OperationPublic(PublicSchema):
    """A routing step as the API shows it."""

    id: int
    seq: int
    name: str
    capability_code: str
    quantity: int
    setup_minutes: int
    unit_seconds: int
    class_unit_seconds: dict[str, int]
    predecessors: list[int]
    material: str
    certifications: list[str]
    interruptible: bool


class OrderPublic(PublicSchema):
    """An order as the API shows it."""

    id: int
    organization_id: int
    reference: str
    title: str
    product_family: str
    material: str
    quantity: int
    release_at: datetime
    due_at: datetime
    weight: int
    budget_minor: int | None
    currency: str
    status: OrderStatus
    delivery_site_id: int | None
    drawing_ref: str | None
    notes: str
    promised_at: datetime | None = Field(
        default=None, description="The delivery date the platform committed to (once booked)"
    )
    operations: list[OperationPublic]
    created_at: datetime
    updated_at: datetime
