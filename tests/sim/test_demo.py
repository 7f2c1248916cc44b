"""The demo's history: the last two weeks played through the platform, up to now."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.capacity.models import Downtime
from sharefab.capacity.service import sync_taxonomy
from sharefab.gen import SIZES
from sharefab.kit.db import build_engine, unit_of_work
from sharefab.kit.migrate import upgrade
from sharefab.ledger.models import Transfer
from sharefab.market.models import Booking, BookingStatus
from sharefab.models import import_all_models
from sharefab.orders.models import Order, OrderStatus
from sharefab.reputation.models import Rating
from sharefab.sim.demo import history_start, play_history

SMALL = dataclasses.replace(SIZES["S"], factories=10, resources=50, orders=80)
NOW = datetime(2027, 3, 10, 11, 30, tzinfo=UTC)  # a Wednesday


def _played(path: Path) -> tuple[Engine, object]:
    import_all_models()
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    with unit_of_work(engine) as session:
        sync_taxonomy(session)
    return engine, play_history(engine, seed=3, now=NOW, spec=SMALL)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A small cluster's last two weeks (and a half) played up to NOW."""
    engine, _ = _played(tmp_path_factory.mktemp("demo") / "demo.db")
    return engine


def _statuses(engine: Engine) -> dict[str, int]:
    with unit_of_work(engine, write=False) as session:
        rows = session.execute(select(Order.status, func.count()).group_by(Order.status))
        return {status.value: n for status, n in rows}


def test_history_starts_on_a_monday_two_weeks_back() -> None:
    """The played history begins at midnight (Shanghai) on the Monday two weeks before this
    week's."""
    assert history_start(NOW) == datetime(2027, 2, 21, 16, 0, tzinfo=UTC)


def test_the_pages_open_on_a_running_cluster(played: Engine) -> None:
    """Orders closed, delivered, in production and drafts to quote; work running and booked
    ahead; breakdowns replanned; providers paid and rated."""
    statuses = _statuses(played)
    for state in ("closed", "in_production", "draft"):
        assert statuses.get(state, 0) > 0, statuses
    assert statuses.get("delivered", 0) + statuses.get("completed", 0) > 0
    with unit_of_work(played, write=False) as session:
        live = session.execute(select(Booking.status, func.count()).group_by(Booking.status)).all()
        by_status: dict[BookingStatus, int] = {row[0]: row[1] for row in live}
        assert by_status.get(BookingStatus.in_progress, 0) > 0
        assert by_status.get(BookingStatus.committed, 0) > 0
        assert (session.scalar(select(func.count()).select_from(Downtime)) or 0) > 0
        assert (session.scalar(select(func.count()).select_from(Rating)) or 0) > 0
        assert (session.scalar(select(func.count()).select_from(Transfer)) or 0) > 0
        drafts = session.scalars(select(Order).where(Order.status == OrderStatus.draft)).all()
        assert all(o.release_at >= NOW.replace(tzinfo=o.release_at.tzinfo) for o in drafts)


def test_the_same_seed_plays_the_same_history(played: Engine, tmp_path: Path) -> None:
    """Played again into another database, the same seed and moment leave the same orders in
    the same states."""
    again, _ = _played(tmp_path / "again.db")
    assert _statuses(again) == _statuses(played)
