"""Database guarantees: aware UTC times, and no overlapping windows even under a race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sharefab.capacity import service as capacity
from sharefab.capacity.models import CapacityWindow, Resource, ResourceKind, Site
from sharefab.capacity.schemas import WindowCreate
from sharefab.identity.models import Organization, Role
from sharefab.identity.principal import Principal
from sharefab.kit.db import unit_of_work
from sharefab.kit.errors import Conflict

T0 = datetime(2027, 5, 3, tzinfo=UTC)


def _resource(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        org = Organization(name="Race Co", slug="race-co", is_provider=True)
        s.add(org)
        s.flush()
        site = Site(organization_id=org.id, name="P", latitude=31.3, longitude=120.6)
        s.add(site)
        s.flush()
        res = Resource(
            organization_id=org.id,
            site_id=site.id,
            name="M1",
            kind=ResourceKind.machine,
            hourly_rate_minor=10000,
        )
        s.add(res)
        s.flush()
        return res.id


def test_times_come_back_aware_utc(engine: Engine) -> None:
    """A window stored at 08:00+08:00 reads back as 00:00 UTC, aware."""
    rid = _resource(engine)
    local = datetime(2027, 5, 3, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    with unit_of_work(engine) as s:
        s.add(
            CapacityWindow(
                organization_id=1,
                resource_id=rid,
                starts_at=local,
                ends_at=local + timedelta(hours=1),
            )
        )
    with unit_of_work(engine, write=False) as s:
        w = s.scalars(select(CapacityWindow)).one()
        assert w.starts_at == T0
        assert w.starts_at.tzinfo is not None


def test_racing_overlapping_windows_leave_one(engine: Engine) -> None:
    """Eight writers racing to offer overlapping windows on one machine leave exactly one."""
    rid = _resource(engine)
    owner = Principal(
        organization_id=1, role=Role.admin, is_operator=False, is_provider=True, is_buyer=False
    )
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def offer(i: int) -> None:
        data = WindowCreate(
            resource_id=rid,
            starts_at=T0 + timedelta(minutes=i),
            ends_at=T0 + timedelta(hours=2, minutes=i),
        )
        barrier.wait()
        try:
            with unit_of_work(engine) as s:
                capacity.create_window(s, owner, data)
            result = "ok"
        except (Conflict, IntegrityError) as exc:
            result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=offer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("ok") == 1
    assert len(outcomes) == 8
    with unit_of_work(engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(CapacityWindow)) == 1


def test_postgres_exclusion_constraint(engine: Engine) -> None:
    """On PostgreSQL the database itself refuses overlapping windows written past the service."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's")
    rid = _resource(engine)
    with unit_of_work(engine) as s:
        s.add(
            CapacityWindow(
                organization_id=1, resource_id=rid, starts_at=T0, ends_at=T0 + timedelta(hours=4)
            )
        )
    with (
        pytest.raises(IntegrityError, match="ex_capacity_windows_no_overlap"),
        unit_of_work(engine) as s,
    ):
        s.add(
            CapacityWindow(
                organization_id=1,
                resource_id=rid,
                starts_at=T0 + timedelta(hours=3),
                ends_at=T0 + timedelta(hours=5),
            )
        )
