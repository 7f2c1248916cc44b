"""API shapes of reputation: ratings and credit scores with the inputs that make them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, StrictInt

from sharefab.kit.schemas import PublicSchema, Schema
from sharefab.reputation.models import PartyRole


class RatingCreate(Schema):
    """A rating of a counter-party of a finished order (the marketplace's POST /ratings body)."""

    order_id: StrictInt = Field(gt=0)
    ratee_organization_id: StrictInt = Field(gt=0)
    score: StrictInt = Field(ge=1, le=5, description="Stars, a whole number from 1 to 5")
    comment: str = Field(default="", max_length=2000)


class RatingPublic(PublicSchema):
    """A rating as the rater and the ratee see it."""

    id: int
    order_id: int
    rater_organization_id: int
    ratee_organization_id: int
    rater_role: PartyRole
    score: int
    comment: str
    created_at: datetime


class CreditScorePublic(PublicSchema):
    """A score in one role, its inputs, its components and the formula that made it."""

    organization_id: int
    role: PartyRole
    score: int = Field(description="0-1000, see docs/credit-score.md")
    has_history: bool
    matching_weight: float | None = Field(
        default=None, description="Provider only: the multiplier matching applies, 0.5-1.0"
    )
    inputs: dict[str, int]
    components: dict[str, float]
    formula_version: int
    updated_at: datetime | None


class CreditPublic(PublicSchema):
    """An organisation's credit: its provider and buyer scores (for the roles it plays)."""

    organization_id: int
    provider: CreditScorePublic | None
    buyer: CreditScorePublic | None
