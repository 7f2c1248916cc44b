"""Every change to what the live plan holds, recorded in the transaction that makes it.

Session events collect the resources whose bookings, capacity windows, downtimes, capabilities
or details a flush wrote (ORM writes: inserts, updates, deletes; a bulk statement names its
resources with ``mark_changed``). Just before the transaction commits, the plan clock
(``plan_clock``, one row) is advanced and the resources are logged under the new version
(``plan_changes``), each saying whether its calendar (windows, capabilities, details) changed
or only what takes its time (bookings, downtimes): the common case, which a reader reloads
alone. The clock's row lock is held until commit, so versions become visible in commit order
and a reader that has seen version v has seen every change up to v. A rolled-back transaction
leaves neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, case, event, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.capacity.models import CapacityWindow, Downtime, Resource, ResourceCapability
from sharefab.market.models import Booking, PlanChange, PlanClock

_KEY = "plan_changed"
_CALENDAR = "plan_calendar_changed"
_TRACKED = (Booking, CapacityWindow, Downtime, ResourceCapability)
_TIME_ONLY = (Booking, Downtime)  # these change what takes a resource's time, not its calendar


def mark_changed(session: Session, resource_ids: Iterable[int], calendar: bool = True) -> None:
    """Note resources a bulk statement changed (ORM writes are noted by themselves);
    ``calendar`` False: only their bookings or downtimes."""
    ids = {int(r) for r in resource_ids}
    session.info.setdefault(_KEY, set()).update(ids)
    if calendar:
        session.info.setdefault(_CALENDAR, set()).update(ids)


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
    time_only: set[int] = set()
    calendar: set[int] = set()
    changed = [*session.new, *session.deleted, *(o for o in session.dirty if _changed(o))]
    for obj in changed:
        (time_only if isinstance(obj, _TIME_ONLY) else calendar).update(_resource_ids(obj))
    if time_only:
        mark_changed(session, time_only, calendar=False)
    if calendar:
        mark_changed(session, calendar)


@event.listens_for(Session, "before_commit")
def _stamp(session: Session) -> None:
    session.flush()  # what is still pending is part of this transaction's changes
    ids = session.info.pop(_KEY, None)
    calendar = session.info.pop(_CALENDAR, set())
    if not ids:
        return
    version = _advance(session)
    session.execute(
        insert(PlanChange),
        [{"version": version, "resource_id": r, "calendar": r in calendar} for r in sorted(ids)],
    )


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
    session.info.pop(_CALENDAR, None)
    session.info.pop(_HOOKS, None)


# built once: these run before nearly every service call
_VERSION = select(PlanClock.version).where(PlanClock.id == 1)
_CHANGES = (
    select(PlanChange.resource_id, func.max(case((PlanChange.calendar, 1), else_=0)))
    .where(PlanChange.version > bindparam("since"))
    .group_by(PlanChange.resource_id)
)


def plan_version(session: Session | Connection) -> int:
    """The version of the plan as this transaction sees it."""
    return session.scalar(_VERSION) or 0


def changed_since(session: Session | Connection, version: int) -> tuple[int, set[int]]:
    """The current version and the resources changed after ``version`` (read in a session's
    transaction or on a plain connection)."""
    now, changes = changes_since(session, version)
    return now, set(changes)


def changes_since(session: Session | Connection, version: int) -> tuple[int, dict[int, bool]]:
    """The current version and the resources changed after ``version``, each with whether its
    calendar changed (False: only its bookings or downtimes)."""
    now = plan_version(session)
    if now <= version:
        return now, {}
    rows = session.execute(_CHANGES, {"since": version})
    return now, {rid: bool(cal) for rid, cal in rows}
