"""`sharefab seed`: a realistic cluster lands whole, once, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.capacity.models import CapacityWindow, Resource
from sharefab.identity.models import Organization
from sharefab.kit.db import unit_of_work
from sharefab.market.models import Booking
from sharefab.orders.models import Operation, Order, OrderStatus
from sharefab.seed import SeedError, parse_start, seed_cluster


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """The test database with the demo cluster seeded from Monday 2027-03-01."""
    seed_cluster(engine, size="demo", seed=7, start="2027-03-01")
    return engine


def test_demo_meets_the_minimums(seeded: Engine) -> None:
    """At least 30 factories, 300 resources, 200 orders with 1–8 steps, 4 weeks of windows."""
    with unit_of_work(seeded, write=False) as s:
        providers = s.scalar(select(func.count()).where(Organization.is_provider.is_(True)))
        assert providers is not None
        assert providers >= 30
        assert (s.scalar(select(func.count()).select_from(Resource)) or 0) >= 300
        assert (s.scalar(select(func.count()).select_from(Order)) or 0) >= 200
        steps = s.execute(select(Operation.order_id, func.count()).group_by(Operation.order_id))
        assert all(1 <= n <= 8 for _, n in steps)
        first, last = s.execute(
            select(func.min(CapacityWindow.starts_at), func.max(CapacityWindow.ends_at))
        ).one()
        assert first >= parse_start("2027-03-01")
        assert last - first > timedelta(days=26)


def test_windows_cover_20_to_70_percent(seeded: Engine) -> None:
    """Each resource offers between 20% and 70% of the four weeks, without overlaps."""
    horizon = 28 * 24 * 60
    spans: dict[int, list[tuple]] = defaultdict(list)
    with unit_of_work(seeded, write=False) as s:
        for w in s.scalars(select(CapacityWindow)):
            spans[w.resource_id].append((w.starts_at, w.ends_at))
        assert len(spans) == s.scalar(select(func.count()).select_from(Resource))
    for items in spans.values():
        items.sort()
        minutes = sum((b - a).total_seconds() / 60 for a, b in items)
        assert 0.2 * horizon <= minutes <= 0.7 * horizon
        assert all(items[i][1] <= items[i + 1][0] for i in range(len(items) - 1))


def test_second_seed_refused_or_skipped(seeded: Engine) -> None:
    """Seeding a seeded database is refused with advice, or skipped for the demo."""
    with pytest.raises(SeedError, match="--force"):
        seed_cluster(seeded, size="demo", seed=7)
    summary = seed_cluster(seeded, size="demo", seed=7, skip_if_seeded=True)
    assert summary.already_seeded
    assert summary.orders >= 200
    assert {x.role for x in summary.logins} == {
        "operator",
        "provider admin",
        "provider member",
        "buyer admin",
    }


def test_bad_arguments_write_nothing(engine: Engine) -> None:
    """An unknown size or a start that is not a Monday is refused and nothing is written."""
    with pytest.raises(SeedError, match="unknown size"):
        seed_cluster(engine, size="XXL")
    with pytest.raises(SeedError, match="Monday"):
        seed_cluster(engine, start="2027-03-02")
    with unit_of_work(engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Organization)) == 0


def test_booking_orders_fills_the_plan(engine: Engine) -> None:
    """Seeding with --book quotes and accepts orders through the marketplace, without overlaps."""
    summary = seed_cluster(engine, size="demo", seed=7, book=3)
    assert summary.bookings > 0
    with unit_of_work(engine, write=False) as s:
        scheduled = s.scalar(
            select(func.count()).select_from(Order).where(Order.status == OrderStatus.scheduled)
        )
        assert scheduled is not None
        assert 1 <= scheduled <= 3
        live = s.scalars(select(Booking)).all()
    spans = defaultdict(list)
    for b in live:
        spans[b.resource_id].append((b.starts_at, b.ends_at))
    for items in spans.values():
        items.sort()
        assert all(items[i][1] <= items[i + 1][0] for i in range(len(items) - 1))
