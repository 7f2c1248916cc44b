"""How far the plans of late orders slip: the allowance a late quote adds to its promise.

An order that cannot be on time is planned behind the orders that still can (see
`optimize/rolling.py`), and every such order that arrives later goes ahead of it: its plan
at acceptance is optimistic by how much work overtakes it while it waits, which grows with
its lead time and with the load. No fixed buffer fits every load, so the platform measures
it: for the latest orders quoted late whose accepted plan has ended by now, the slip is
(last step finished, or now if it has not) − (planned end), as a fraction of the planned
lead time (planned end − acceptance). A late quote promises its planned delivery plus that
fraction's ``level`` quantile of its own lead time (at least its duration buffer), so that
about ``level`` of such promises are kept at the load the platform runs at now.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharefab.orders.models import Order

# the latest this many orders quoted late make the sample; with fewer than MINIMUM the
# allowance is 0 (the duration buffer alone)
WINDOW = 200
MINIMUM = 30
_HOUR = 3600.0

_LATEST = (
    select(Order.accepted_at, Order.planned_end_at, Order.completed_at)
    .where(Order.planned_end_at.is_not(None), Order.promised_at > Order.due_at)
    .order_by(Order.planned_end_at.desc())
)


def slip_fraction(session: Session, now: datetime, level: float) -> float:
    """The ``level`` quantile (nearest rank) of how far late orders' plans slipped, as a
    fraction of their planned lead time; 0 while fewer than ``MINIMUM`` are known."""
    rows = session.execute(_LATEST.where(Order.planned_end_at <= now).limit(WINDOW)).all()
    slips = sorted(
        max(0.0, ((done or now) - end).total_seconds())
        / max(_HOUR, (end - accepted).total_seconds())
        for accepted, end, done in rows
        if accepted is not None and end is not None
    )
    if len(slips) < MINIMUM:
        return 0.0
    return slips[min(len(slips) - 1, math.ceil(level * len(slips)) - 1)]
