"""A demo that opens on a running cluster: the last two weeks played through the real services.

`play_history(engine)` generates the demo cluster (calibrated, `DEMO_LOAD`), starts it on the
Monday two weeks before this one, and plays it in simulated time up to now with the `sharefab`
policy's machinery (`sim/policies/sharefab.py`) on the demo database itself: buyers order,
accept quotes, providers start and complete work, machines break down and the platform
replans, the operator re-optimises; buyers confirm deliveries, then close the orders and rate
their providers a day later. What is left when the clock reaches now stays as it is: steps
running, bookings ahead, orders delivered but not closed. The orders the generator released
after now are written as drafts, for a visitor to quote. The same seed gives the same history
(nothing in it is timed); only "now" decides where it stops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from sharefab.gen import SIZES, ClusterSpec
from sharefab.kit.db import unit_of_work
from sharefab.kit.types import clock_at
from sharefab.orders import service as orders
from sharefab.sim.arrivals import make_scenario
from sharefab.sim.params import SimParams
from sharefab.sim.policies.sharefab import _Run, order_create
from sharefab.sim.record import Fate
from sharefab.sim.world import build_world, cluster_for

DEMO_LOAD = 0.3
HISTORY_WEEKS = 2
ZONE = ZoneInfo("Asia/Shanghai")


@dataclasses.dataclass(frozen=True)
class History:
    """What the played weeks left behind."""

    start: datetime
    orders_played: int
    completed: int
    breakdowns: int
    drafts: int

    def describe(self) -> str:
        return (
            f"played {self.orders_played} orders from {self.start:%Y-%m-%d} to now through the "
            f"platform ({self.completed} delivered, {self.breakdowns} breakdowns replanned); "
            f"{self.drafts} orders wait as drafts"
        )


def history_start(now: datetime) -> datetime:
    """Midnight (cluster time) of the Monday `HISTORY_WEEKS` weeks before this week's."""
    local = now.astimezone(ZONE)
    monday = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=local.weekday()
    )
    return (monday - timedelta(weeks=HISTORY_WEEKS)).astimezone(UTC)


def play_history(
    engine: Engine,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    spec: ClusterSpec | None = None,
) -> History:
    """Write the demo cluster into `engine`'s (migrated, empty) database with its last weeks
    played up to `now` (see the module docstring)."""
    now = now or datetime.now(UTC)
    start = history_start(now)
    end = int((now - start).total_seconds() // 60)
    weeks = -(-end // (7 * 1440))
    cluster = cluster_for(spec or SIZES["demo"], weeks + 1, seed, load=DEMO_LOAD)
    played = tuple(o for o in cluster.orders if o.release_min < end)
    later = [o for o in cluster.orders if o.release_min >= end]
    world = build_world(dataclasses.replace(cluster, orders=played), weeks)
    world = dataclasses.replace(world, end=end)
    scenario = make_scenario(world, seed)
    run = _Run(world, scenario, engine, progress, SimParams(), epoch=start, settle=True)
    record = run.run()
    principals = {o.key: run.principals[k] for k, o in enumerate(cluster.organizations)}
    site_ids = {s.key: run.site_ids[k] for k, s in enumerate(cluster.sites)}
    with clock_at(now), unit_of_work(engine) as session:
        for o in later:
            orders.create_order(
                session,
                principals[o.buyer_org_key],
                order_create(
                    o,
                    start + timedelta(minutes=o.release_min),
                    start + timedelta(minutes=o.due_min),
                    site_ids.get(o.ship_to_site_key),
                ),
            )
    return History(
        start=start,
        orders_played=len(record.orders),
        completed=sum(x.fate == Fate.completed for x in record.orders.values()),
        breakdowns=record.notes.get("breakdowns", 0),
        drafts=len(later),
    )
