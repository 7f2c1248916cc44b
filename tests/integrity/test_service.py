"""The integrity checker passes a healthy marketplace and names each kind of corruption."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.app import create_app
from sharefab.integrity import check_database, run_checks
from sharefab.kit.db import Base, build_engine, session_factory
from sharefab.ledger.models import Account, Entry, Transfer, TransferKind
from sharefab.market.models import Booking, BookingStatus, Quote, QuoteStatus
from sharefab.orders.models import Order, OrderStatus
from tests.conftest import KEEP_TABLES
from tests.factories import Tenants, booked_order, created, make_tenants, report


@dataclass
class World:
    """A marketplace with one scheduled, one closed and one cancelled order."""

    scheduled: dict[str, Any]
    closed: dict[str, Any]
    cancelled: dict[str, Any]


def build_world(app_client: TestClient, tenants: Tenants) -> World:
    """Three orders through the API: booked, run to the end and closed, booked and cancelled."""
    scheduled = booked_order(app_client, tenants, quantity=4)
    closed = booked_order(app_client, tenants, quantity=5)
    p, b = closed["p"], closed["b"]
    for step in (closed["first"], closed["second"]):
        created(report(p, step, type="started"))
        created(report(p, step, type="completed"))
    order_id = closed["order"]["id"]
    assert b.post(f"/api/v1/orders/{order_id}/confirm-delivery").status_code == 200
    assert b.post(f"/api/v1/orders/{order_id}/close").json()["status"] == "closed"
    cancelled = booked_order(app_client, tenants, quantity=6)
    out = cancelled["b"].post(f"/api/v1/orders/{cancelled['order']['id']}/cancel")
    assert out.json()["status"] == "cancelled"
    return World(scheduled, closed, cancelled)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def world_engine(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, World]]:
    """The three-order marketplace, built once per backend; tests corrupt it and roll back."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("integrity") / "world.db"
        shutil.copyfile(sqlite_template, path)
        engine = build_engine(f"sqlite:///{path}")
    else:
        engine = request.getfixturevalue("postgres_engine")
        names = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    tenants = make_tenants(engine)
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        world = build_world(client, tenants)
    yield engine, world
    if request.param == "sqlite":
        engine.dispose()


@pytest.fixture
def world(world_engine: tuple[Engine, World]) -> World:
    """The marketplace's three orders (as the API answered them)."""
    return world_engine[1]


@pytest.fixture
def db(world_engine: tuple[Engine, World]) -> Iterator[Session]:
    """A session on the world whose corruptions are never committed (rolled back after)."""
    s = session_factory(world_engine[0])()
    yield s
    s.rollback()
    s.close()


def messages(session: Session, check: str) -> list[str]:
    """The violations one check reports, after flushing the session's corruption."""
    session.flush()
    return [v.message for v in check_database(session) if v.check == check]


def test_healthy_marketplace_passes(world: World, db: Session) -> None:
    """Scheduled, closed and cancelled orders made through the API violate nothing."""
    assert [str(v) for v in check_database(db)] == []
    assert [r.ok for r in run_checks(db)] == [True] * 5


def test_overlapping_bookings_are_named(world: World, db: Session) -> None:
    """A second live booking on a busy resource's time is reported with both booking ids."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap"))
    first = db.get(Booking, world.scheduled["first"]["id"])
    assert first is not None
    rival = world.closed["order"]["id"]
    other = db.scalars(select(Booking).where(Booking.order_id == rival)).first()
    assert other is not None
    other.resource_id, other.starts_at, other.ends_at = (
        first.resource_id,
        first.starts_at,
        first.ends_at,
    )
    found = messages(db, "no-overlap")
    assert len(found) == 1
    assert f"bookings {min(first.id, other.id)} " in found[0]
    assert f"on resource {first.resource_id}" in found[0]


def test_half_written_plan_is_named(world: World, db: Session) -> None:
    """A scheduled order missing the booking of one operation is reported by operation."""
    order_id = world.scheduled["order"]["id"]
    db.execute(
        update(Booking)
        .where(Booking.id == world.scheduled["second"]["id"])
        .values(status=BookingStatus.cancelled)
    )
    found = messages(db, "all-or-nothing")
    assert found == [f"order {order_id} (scheduled) operation 2 has 0 live bookings, not exactly 1"]


def test_doubly_booked_operation_is_named(world: World, db: Session) -> None:
    """An operation with two live bookings breaks all-or-nothing."""
    first = db.get(Booking, world.scheduled["first"]["id"])
    assert first is not None
    db.add(
        Booking(
            order_id=first.order_id,
            operation_id=first.operation_id,
            resource_id=first.resource_id,
            provider_organization_id=first.provider_organization_id,
            starts_at=first.starts_at + timedelta(days=30),
            ends_at=first.ends_at + timedelta(days=30),
            quote_id=first.quote_id,
        )
    )
    found = messages(db, "all-or-nothing")
    assert any("operation 1 has 2 live bookings" in m for m in found), found


def test_order_left_accepted_is_named(world: World, db: Session) -> None:
    """An order resting in `accepted` (an accept that stopped half-way) is reported."""
    order_id = world.scheduled["order"]["id"]
    db.execute(update(Order).where(Order.id == order_id).values(status=OrderStatus.accepted))
    found = messages(db, "all-or-nothing")
    assert f"order {order_id} (accepted) was left half-accepted" in found[0]


def test_bookings_of_an_unaccepted_quote_are_named(world: World, db: Session) -> None:
    """Live bookings whose quote is not accepted are reported, as is the order's missing quote."""
    order_id = world.scheduled["order"]["id"]
    booking = db.get(Booking, world.scheduled["first"]["id"])
    assert booking is not None
    assert booking.quote_id is not None
    quote_id = booking.quote_id
    db.execute(update(Quote).where(Quote.id == quote_id).values(status=QuoteStatus.superseded))
    found = messages(db, "all-or-nothing")
    assert (
        f"booking {world.scheduled['first']['id']} of order {order_id} is committed" in (found[0])
    )
    assert f"its quote {quote_id} is superseded, not accepted" in found[0]
    assert f"order {order_id} (scheduled) has 0 accepted quotes, not exactly 1" in found


def test_unbooked_order_holding_bookings_is_named(world: World, db: Session) -> None:
    """A quoted order that holds bookings, an accepted quote and escrow is reported."""
    order_id = world.scheduled["order"]["id"]
    db.execute(update(Order).where(Order.id == order_id).values(status=OrderStatus.quoted))
    found = messages(db, "all-or-nothing")
    assert found == [
        f"order {order_id} (quoted) has 2 bookings; it was never accepted",
        f"order {order_id} (quoted) has an accepted quote but was never booked",
        f"order {order_id} (quoted) has a funded escrow but was never booked",
    ]


def test_escrow_not_matching_price_is_named(world: World, db: Session) -> None:
    """A scheduled order whose escrow was funded with a wrong amount is reported."""
    order_id = world.scheduled["order"]["id"]
    order = db.get(Order, order_id)
    assert order is not None
    assert order.price_minor is not None
    price = order.price_minor
    db.execute(update(Order).where(Order.id == order_id).values(price_minor=price + 1))
    found = messages(db, "all-or-nothing")
    assert found == [
        f"order {order_id} (scheduled) escrow was funded with {price}, its price is {price + 1}"
    ]


def test_cancelled_order_holding_bookings_is_named(world: World, db: Session) -> None:
    """A cancelled order whose unstarted bookings were not released is reported."""
    order_id = world.cancelled["order"]["id"]
    db.execute(
        update(Booking).where(Booking.order_id == order_id).values(status=BookingStatus.committed)
    )
    found = messages(db, "all-or-nothing")
    assert len(found) == 1
    assert f"order {order_id} (cancelled) still holds bookings" in found[0]


def test_unbalanced_ledger_is_named(world: World, db: Session) -> None:
    """A ledger leg changed after the fact is reported by the ledger check."""
    entry = db.scalars(select(Entry).order_by(Entry.id)).first()
    assert entry is not None
    db.execute(
        update(Entry).where(Entry.id == entry.id).values(amount_minor=entry.amount_minor + 7)
    )
    found = messages(db, "ledger")
    assert any(f"transfer {entry.transfer_id} has 2 legs summing to 7" in m for m in found), found


def _netting_transfer(db: Session, order_id: int, kind: TransferKind) -> Transfer:
    """A transfer on the order's escrow whose two legs cancel out (the journal still sums)."""
    escrow = db.scalars(select(Account).where(Account.order_id == order_id)).one()
    again = Transfer(kind=kind, order_id=order_id, reference=f"again:{order_id}", currency="CNY")
    db.add(again)
    db.flush()
    for amount in (5, -5):
        db.add(
            Entry(
                transfer_id=again.id,
                account_id=escrow.id,
                amount_minor=amount,
                balance_after_minor=escrow.balance_minor,
            )
        )
    return again


def test_escrow_refunded_twice_is_named(world: World, db: Session) -> None:
    """A second refund of a cancelled order's escrow is reported, even one that nets zero."""
    order_id = world.cancelled["order"]["id"]
    again = _netting_transfer(db, order_id, TransferKind.refund)
    found = messages(db, "escrow-once")
    assert f"escrow of order {order_id} was resolved 2 times (settle/refund)" in found
    assert any(f"moved (transfer {again.id}) after it was resolved" in m for m in found), found
    assert messages(db, "ledger") == []


def test_money_moving_after_close_is_named(world: World, db: Session) -> None:
    """A release from a closed order's settled escrow is reported as moving after settlement."""
    order_id = world.closed["order"]["id"]
    again = _netting_transfer(db, order_id, TransferKind.release)
    found = messages(db, "escrow-once")
    assert len(found) == 1
    assert (
        f"escrow of order {order_id} moved (transfer {again.id}) after it was settled" in (found[0])
    )


def test_unsettled_escrow_of_cancelled_order_is_named(world: World, db: Session) -> None:
    """A cancelled order whose escrow was refunded but not marked settled is reported."""
    order_id = world.cancelled["order"]["id"]
    db.execute(update(Account).where(Account.order_id == order_id).values(settled_at=None))
    found = messages(db, "escrow-once")
    assert any("but is not marked settled" in m for m in found), found
    assert f"order {order_id} is cancelled but its escrow was never settled" in found


def test_tampered_audit_chain_is_named(world: World, db: Session) -> None:
    """An audit entry edited in place is reported with its sequence number."""
    db.execute(text("UPDATE audit_log SET action = 'tampered' WHERE seq = 3"))
    found = messages(db, "audit-chain")
    assert found == ["broken at seq 3: seq 3 was changed after it was written (hash mismatch)"]
