"""Pydantic building blocks shared by every domain's API shapes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)


def _iso_only(value: object) -> object:
    # pydantic reads a bare number (JSON 1700000000 or the query text "1700000000") as Unix
    # seconds; the API documents ISO 8601 date-times, so a number is a mistake to name, not guess.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give an ISO 8601 date-time with a time zone, e.g. 2026-12-01T08:00:00Z")
    if isinstance(value, str | bytes):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if _is_number(text):
            raise ValueError(
                "give an ISO 8601 date-time with a time zone, e.g. 2026-12-01T08:00:00Z"
            )
    return value


def _is_number(text: str) -> bool:
    """Whether `text` reads as a number (1700000000, -1.5, 1e-48, inf): never a date-time."""
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


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
    """Input shapes: unknown fields are refused so a typo never passes silently.

    Text is trimmed, but the limits the OpenAPI states (maxLength, pattern) hold for the text
    as sent: 250 characters padded with spaces are not "at most 200" because trimming fits them.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _raw_text_within_limits(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or value == value.strip():
            return value
        field = cls.model_fields.get(info.field_name or "")
        for constraint in field.metadata if field else ():
            limit = getattr(constraint, "max_length", None)
            if limit is not None and len(value) > limit:
                raise ValueError(
                    f"at most {limit} characters, counting the spaces around it; send it trimmed"
                )
            pattern = getattr(constraint, "pattern", None)
            if pattern is not None and not re.search(pattern, value):
                raise ValueError(f"must match {pattern}; remove the spaces around it")
        return value


class PublicSchema(BaseModel):
    """Output shapes, read from ORM rows."""

    model_config = ConfigDict(from_attributes=True)
