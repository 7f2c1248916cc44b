"""Two replans of the same bookings at once (PostgreSQL): the second loses the race cleanly,
instead of leaving the order with two live bookings for one step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.kit.db import unit_of_work
from sharefab.kit.errors import LostRace
from sharefab.market import replan as replanning
from sharefab.market.models import Booking, BookingStatus
from tests.factories import Tenants, booked_order


def _live_per_step(engine: Engine, order_id: int) -> list[int]:
    with unit_of_work(engine, write=False) as s:
        rows = s.execute(
            select(func.count())
            .where(Booking.order_id == order_id, Booking.status != BookingStatus.cancelled)
            .group_by(Booking.operation_id)
        )
        return sorted(n for (n,) in rows)


@pytest.mark.postgres
def test_concurrent_replans_never_leave_two_live_bookings(
    engine: Engine, tenants: Tenants, app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one replan plans, another moves the same bookings and commits: the first then
    refuses to write (LostRace, retried whole by the API), and every step keeps one booking."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: two replans cannot interleave")
    world = booked_order(app_client, tenants)
    order_id = world["order"]["id"]
    assert _live_per_step(engine, order_id) == [1, 1]
    first = world["first"]
    first_id = first["id"]
    # the first step's slot becomes unavailable (a breakdown, say): both replans must move it
    down = {
        first["resource_id"]: [
            (datetime.fromisoformat(first["starts_at"]), datetime.fromisoformat(first["ends_at"]))
        ]
    }
    real_plan = replanning.repair
    rivals: list[Any] = []

    def plan_while_a_rival_commits(*args: Any, **kwargs: Any) -> Any:
        result = real_plan(*args, **kwargs)
        if not rivals:  # the first plan: a rival replans the same bookings and commits
            rivals.append(1)
            with unit_of_work(engine) as rival:
                seed = rival.get(Booking, first_id)
                assert seed is not None
                replanning.replan(rival, [seed], "rival", unavailable=down)
        return result

    monkeypatch.setattr(replanning, "repair", plan_while_a_rival_commits)

    def my_replan() -> None:
        with unit_of_work(engine) as mine:  # rolls back when the replan raises
            seed = mine.get(Booking, first_id)
            assert seed is not None
            replanning.replan(mine, [seed], "mine", unavailable=down)

    with pytest.raises(LostRace):
        my_replan()
    assert rivals
    assert _live_per_step(engine, order_id) == [1, 1]
