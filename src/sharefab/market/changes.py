"""Every change to what the live plan holds, recorded in the transaction that makes it.

Session events collect the resources whose bookings, capacity windows, downtimes, capabilities
or details a flush wrote (ORM writes: inserts, updates, deletes; a bulk statement names its
resources with ``mark_changed``). Just before the transaction commits, the plan clock
(``plan_clock``, one row) is advanced and the resources are logged under the new version
(``plan_changes``). The clock's row lock is held until commit, so versions become visible in
commit order and a reader that has seen version v has seen every change up to v. A rolled-back
transaction leaves neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.capacity.models import CapacityWindow, Downtime, Resource, ResourceCapability
from sharefab.market.models import Booking, PlanChange, PlanClock

_KEY = "plan_changed"
_TRACKED = (Booking, CapacityWindow, Downtime, ResourceCapability)


def mark_changed(session: Session, resource_ids: Iterable[int]) -> None:
    """Note resources a bulk statement changed (ORM writes are noted by themselves)."""
    session.info.setdefault(_KEY, set()).update(int(r) for r in resource_ids)


def _resource_ids(obj: Any) -> list[int]:
    if isinstance(obj, Resource):
        return [obj.id] if obj.id is not None else []
    if not isinstance(obj, _TRACKED):
        return []
    out = [obj.resource_id] if obj.resource_id is not None else []
    state: Any = inspect(obj)
    history = state.attrs.resource_id.history
    out.extend(r for r in history.deleted if r is not None)
    return out


# an update matters only when it changes one of these (a booking's progress count does not)
_WATCHED = {Booking: ("starts_at", "ends_at", "status", "resource_id")}


def _changed(obj: Any) -> bool:
    watched = _WATCHED.get(type(obj))
    if watched is None:
        return True
    state: Any = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in watched)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, flush_context: Any) -> None:
    ids: set[int] = set()
    for obj in (*session.new, *session.deleted):
        ids.update(_resource_ids(obj))
    for obj in session.dirty:
        if _changed(obj):
            ids.update(_resource_ids(obj))
    if ids:
        mark_changed(session, ids)


@event.listens_for(Session, "before_commit")
def _stamp(session: Session) -> None:
    session.flush()  # what is still pending is part of this transaction's changes
    ids = session.info.pop(_KEY, None)
    if not ids:
        return
    version = _advance(session)
    session.execute(insert(PlanChange), [{"version": version, "resource_id": r} for r in ids])


def _advance(session: Session) -> int:
    """Advance the plan clock (its row is made on first use where a schema was built without
    the migrations' seed row) and return the new version."""
    bump = (
        update(PlanClock)
        .where(PlanClock.id == 1)
        .values(version=PlanClock.version + 1)
        .returning(PlanClock.version)
    )
    version = session.execute(bump).scalar_one_or_none()
    if version is not None:
        return version
    try:
        with session.begin_nested():
            session.execute(insert(PlanClock).values(id=1, version=1))
        return 1
    except IntegrityError:  # made meanwhile by another transaction
        return session.execute(bump).scalar_one()


_HOOKS = "after_commit_hooks"


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run ``hook`` once this session's transaction has committed (never if it rolls back):
    for in-memory state that must follow the database, such as the live plan's."""
    session.info.setdefault(_HOOKS, []).append(hook)


@event.listens_for(Session, "after_commit")
def _run_hooks(session: Session) -> None:
    for hook in session.info.pop(_HOOKS, []):
        hook()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_HOOKS, None)


def plan_version(session: Session) -> int:
    """The version of the plan as this transaction sees it."""
    return session.scalar(select(PlanClock.version).where(PlanClock.id == 1)) or 0


def changed_since(session: Session, version: int) -> tuple[int, set[int]]:
    """The current version and the resources changed after ``version``."""
    now = plan_version(session)
    if now <= version:
        return now, set()
    rows = session.scalars(
        select(PlanChange.resource_id).where(PlanChange.version > version).distinct()
    )
    return now, set(rows)
