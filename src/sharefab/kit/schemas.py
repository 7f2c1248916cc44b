"""Pydantic building blocks shared by every domain's API shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-12-01T08:00:00+08:00 or ...Z")
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
MinorUnits = Annotated[
    StrictInt,
    Field(ge=0, description="Money in integer minor units (fen, cents); floats are refused."),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY")]


class Schema(BaseModel):
    """Input shapes: unknown fields are refused so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PublicSchema(BaseModel):
    """Output shapes, read from ORM rows."""

    model_config = ConfigDict(from_attributes=True)
