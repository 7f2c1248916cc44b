"""`clock_at`: the simulated time the services see, and only inside the block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sharefab.kit.types import clock_at, utcnow


def test_utcnow_is_the_given_moment_inside_and_real_time_outside() -> None:
    """Inside the block now is the moment (nested blocks restore the outer one); after it,
    the wall clock again."""
    moment = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    with clock_at(moment):
        assert utcnow() == moment
        with clock_at(moment + timedelta(hours=1)):
            assert utcnow() == moment + timedelta(hours=1)
        assert utcnow() == moment
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_naive_moment_is_refused() -> None:
    """A datetime without a time zone cannot be the clock."""
    with pytest.raises(ValueError, match="aware"), clock_at(datetime(2030, 1, 7)):
        pass
