"""Column types shared by every domain's tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores `timestamptz`; SQLite stores naive UTC text. Python always sees an aware
    UTC datetime, and a naive one given to the database is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; attach a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_CLOCK: ContextVar[datetime | None] = ContextVar("sharefab_clock", default=None)


def utcnow() -> datetime:
    """The current time, aware, in UTC (the simulated time inside `clock_at`)."""
    fixed = _CLOCK.get()
    return fixed if fixed is not None else datetime.now(UTC)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Within the block, `utcnow()` answers `moment` (the simulator drives services so; the
    API never sets it)."""
    if moment.tzinfo is None:
        raise ValueError("clock_at needs an aware datetime")
    token = _CLOCK.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _CLOCK.reset(token)
