"""Pydantic building blocks shared by every domain's API shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt


def _iso_only(value: object) -> object:
    # pydantic reads a bare number (JSON 1700000000 or the query text "1700000000") as Unix
    # seconds; the API documents ISO 8601 date-times, so a number is a mistake to name, not guess.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give an ISO 8601 date-time with a time zone, e.g. 2026-12-01T08:00:00Z")
    if isinstance(value, str | bytes):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if text.strip().lstrip("+-").replace(".", "", 1).isdigit():
            raise ValueError(
                "give an ISO 8601 date-time with a time zone, e.g. 2026-12-01T08:00:00Z"
            )
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-12-01T08:00:00+08:00 or ...Z")
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_aware_utc)]
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
