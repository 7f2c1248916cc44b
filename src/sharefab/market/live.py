"""The live plan: each process's in-memory view of free capacity, kept current by the plan clock.

Per resource: its details, capabilities and site, its capacity windows, and what takes its time
(live bookings, downtimes), as an ``optimize.live.Timeline`` of free minutes. Loaded from the
database once; afterwards each use first asks the plan clock (``market/changes.py``) for the
resources changed since the version it holds and reloads just those, so a process sees what
another process committed. The database stays the authority: accepting a quote re-checks every
slot there (and PostgreSQL's exclusion constraint has the last word); this is a cache that can
always be rebuilt.

Minutes count from ``EPOCH``; a window's ends are rounded inwards and a booking's outwards, so
the live plan never offers time that is not free.
"""

from __future__ import annotations

import gc
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.capacity.models import CapacityWindow, Downtime, Resource, ResourceCapability, Site
from sharefab.kit import geo
from sharefab.kit.types import utcnow
from sharefab.market.changes import changes_since
from sharefab.market.models import Booking, BookingStatus
from sharefab.optimize.live import Copies, Network, Timeline
from sharefab.orders.routing import operation_minutes

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
LIVE = (BookingStatus.committed, BookingStatus.in_progress)
# what is loaded: from this long before the moment of loading
LOOKBACK = timedelta(days=1)
# more changed resources than this since the last look: reload everything
RELOAD_ALL = 400
# operations whose qualified resources are remembered (``LivePlan.modes``); more: start again
MODES_KEPT = 100_000


def minute_up(at: datetime) -> int:
    """Minutes from the epoch, rounded up."""
    return math.ceil((at - EPOCH).total_seconds() / 60)


def minute_down(at: datetime) -> int:
    """Minutes from the epoch, rounded down."""
    return math.floor((at - EPOCH).total_seconds() / 60)


def moment(minute: int) -> datetime:
    """The datetime of an epoch minute."""
    return EPOCH + timedelta(minutes=minute)


@dataclass(frozen=True)
class SiteInfo:
    id: int
    organization_id: int
    name: str
    city: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class CapabilityInfo:
    code: str
    materials: frozenset[str]  # lower case; empty: any material
    certifications: frozenset[str]


@dataclass(frozen=True)
class ResourceInfo:
    id: int
    organization_id: int
    site_id: int
    name: str
    resource_class: str
    hourly_rate_minor: int
    is_active: bool
    capabilities: tuple[CapabilityInfo, ...]

    def capability(self, code: str) -> CapabilityInfo | None:
        return next((c for c in self.capabilities if c.code == code), None)


class OperationSpec(Protocol):
    """What placing an operation reads of it: an ``Operation`` or a plain row of its columns
    (a re-plan reads thousands of them and needs no ORM objects)."""

    @property
    def id(self) -> int: ...
    @property
    def capability_code(self) -> str: ...
    @property
    def material(self) -> str: ...
    @property
    def certifications(self) -> list[str]: ...
    @property
    def quantity(self) -> int: ...
    @property
    def setup_minutes(self) -> int: ...
    @property
    def unit_seconds(self) -> int: ...
    @property
    def class_unit_seconds(self) -> dict[str, int]: ...


def duration_on(operation: OperationSpec, resource: ResourceInfo) -> int:
    """Minutes ``operation`` takes on ``resource`` (its class's unit time, else the default)."""
    unit = operation.class_unit_seconds.get(resource.resource_class, operation.unit_seconds)
    return max(1, operation_minutes(operation.setup_minutes, operation.quantity, unit))


def qualify(operation: OperationSpec, resource: ResourceInfo) -> str | None:
    """Why a resource offering the operation's capability cannot take it, or None."""
    cap = resource.capability(operation.capability_code)
    if cap is None:
        return f"does not offer {operation.capability_code}"
    if not resource.is_active:
        return "inactive"
    if operation.material and cap.materials and operation.material.lower() not in cap.materials:
        return f"does not handle material {operation.material}"
    missing = sorted(set(operation.certifications) - cap.certifications)
    if missing:
        return f"lacks certification {', '.join(missing)}"
    return None


@dataclass
class LivePlan:
    """One database's live plan in this process (see the module docstring)."""

    version: int = -1
    lock: threading.RLock = field(default_factory=threading.RLock)
    resources: list[ResourceInfo | None] = field(default_factory=list)  # by dense index
    index: dict[int, int] = field(default_factory=dict)  # resource id -> dense index
    timelines: list[Timeline] = field(default_factory=list)
    windows: list[list[tuple[int, int]]] = field(default_factory=list)
    busy: list[dict[tuple[str, int], tuple[int, int]]] = field(default_factory=list)
    sites: list[SiteInfo] = field(default_factory=list)
    site_index: dict[int, int] = field(default_factory=dict)
    by_code: dict[str, list[int]] = field(default_factory=dict)
    truck_minutes: list[list[int]] = field(default_factory=list)
    truck_cost: list[list[int]] = field(default_factory=list)
    loaded_from: int = 0
    reloads: int = 0  # resources reloaded since the first load (tests and metrics read it)
    given_up: set[int] = field(default_factory=set)  # orders the re-plans put last
    # derived, rebuilt when the resources or sites change
    _network: Network | None = None
    _trucks60: list[list[int]] | None = None
    _modes: dict[tuple[object, ...], tuple[list[tuple[int, int]], list[str]]] = field(
        default_factory=dict
    )

    def give_up(self, seen: set[int], given_up: set[int]) -> None:
        """Of the orders ``seen`` by a re-plan, ``given_up`` are now the ones put last."""
        with self.lock:
            self.given_up = (self.given_up - seen) | given_up

    # ---- keeping current -----------------------------------------------------------------

    def refresh(self, session: Session) -> None:
        """Catch up with the plan clock: reload what changed since the version held."""
        with self.lock:
            version, changed = changes_since(session, self.version)
            if self.version < 0 or version < self.version or len(changed) > RELOAD_ALL:
                # first use, a clock that went back (the data was replaced), or a lot changed
                self._load(session, None)
                _freeze_long_lived()
            elif changed:
                # only bookings or downtimes changed (the common case): just those are read
                times = sorted(r for r, cal in changed.items() if not cal and r in self.index)
                rest = sorted(set(changed) - set(times))
                if times:
                    self._load_times(session, times)
                if rest:
                    self._load(session, rest)
                self.reloads += len(changed)
            self.version = version

    def _busy(
        self, session: Session, ids: list[int] | None
    ) -> dict[int, dict[tuple[str, int], tuple[int, int]]]:
        """What takes the time of resources ``ids`` (None: all): live bookings, downtimes."""
        cutoff = moment(self.loaded_from)
        busy: dict[int, dict[tuple[str, int], tuple[int, int]]] = defaultdict(dict)
        bq = select(Booking.id, Booking.resource_id, Booking.starts_at, Booking.ends_at).where(
            Booking.status.in_(LIVE)
        )
        dq = select(Downtime.id, Downtime.resource_id, Downtime.starts_at, Downtime.ends_at)
        if ids is not None:
            bq = bq.where(Booking.resource_id.in_(ids))
            dq = dq.where(Downtime.resource_id.in_(ids))
        for bid, rid, s, e in session.execute(bq.where(Booking.ends_at > cutoff)):
            busy[rid][("b", bid)] = (minute_down(s), minute_up(e))
        for did, rid, s, e in session.execute(dq.where(Downtime.ends_at > cutoff)):
            busy[rid][("d", did)] = (minute_down(s), minute_up(e))
        return busy

    def _load_times(self, session: Session, ids: list[int]) -> None:
        """Reload what takes the time of resources already held (their calendars stay)."""
        busy = self._busy(session, ids)
        for rid in ids:
            k = self.index[rid]
            self.busy[k] = busy.get(rid, {})
            self.timelines[k] = self._timeline(k)

    def _load(self, session: Session, ids: list[int] | None) -> None:
        if ids is None:
            self.loaded_from = minute_down(utcnow() - LOOKBACK)
            self._load_sites(session, None)
        cutoff = moment(self.loaded_from)
        # plain rows, not ORM objects: this runs after nearly every change to the plan
        q = select(
            Resource.id,
            Resource.organization_id,
            Resource.site_id,
            Resource.name,
            Resource.resource_class,
            Resource.hourly_rate_minor,
            Resource.is_active,
        )
        cq = select(
            ResourceCapability.resource_id,
            ResourceCapability.capability_code,
            ResourceCapability.materials,
            ResourceCapability.certifications,
        ).order_by(ResourceCapability.resource_id, ResourceCapability.capability_code)
        if ids is not None:
            q = q.where(Resource.id.in_(ids))
            cq = cq.where(ResourceCapability.resource_id.in_(ids))
        rows = {r.id: r for r in session.execute(q)}
        caps: dict[int, list[CapabilityInfo]] = defaultdict(list)
        for rid, code, materials, certifications in session.execute(cq):
            caps[rid].append(
                CapabilityInfo(
                    code,
                    frozenset(m.lower() for m in materials or ()),
                    frozenset(certifications or ()),
                )
            )
        wanted = sorted(rows) if ids is None else ids
        missing_sites = {r.site_id for r in rows.values()} - set(self.site_index)
        if missing_sites:
            self._load_sites(session, sorted(missing_sites))
        windows: dict[int, list[tuple[int, int]]] = defaultdict(list)
        wq = select(CapacityWindow.resource_id, CapacityWindow.starts_at, CapacityWindow.ends_at)
        if ids is not None:
            wq = wq.where(CapacityWindow.resource_id.in_(ids))
        for rid, s, e in session.execute(wq.where(CapacityWindow.ends_at > cutoff)):
            a, b = minute_up(s), minute_down(e)
            if b > a:
                windows[rid].append((a, b))
        busy = self._busy(session, ids)
        details = False  # a resource's details changed (not only its time)
        for rid in wanted:
            row = rows.get(rid)
            info = (
                None
                if row is None
                else ResourceInfo(
                    id=row.id,
                    organization_id=row.organization_id,
                    site_id=row.site_id,
                    name=row.name,
                    resource_class=row.resource_class,
                    hourly_rate_minor=row.hourly_rate_minor,
                    is_active=row.is_active,
                    capabilities=tuple(caps.get(rid, ())),
                )
            )
            details |= self._put(rid, info, windows.get(rid, []), busy.get(rid, {}))
        if details:
            self._index_codes()

    def _put(
        self,
        rid: int,
        info: ResourceInfo | None,
        windows: list[tuple[int, int]],
        busy: dict[tuple[str, int], tuple[int, int]],
    ) -> bool:
        """Hold ``rid``'s new state; True when its details changed (not only its time)."""
        k = self.index.get(rid)
        if k is None:
            if info is None:
                return False
            k = self.index[rid] = len(self.resources)
            self.resources.append(None)
            self.timelines.append(Timeline([]))
            self.windows.append([])
            self.busy.append({})
        details = self.resources[k] != info
        if details:
            self._network = None
            self._modes = {}
        self.resources[k] = info
        self.windows[k] = sorted(windows)
        self.busy[k] = dict(busy)
        self.timelines[k] = self._timeline(k)
        return details

    def _timeline(self, k: int) -> Timeline:
        timeline = Timeline(self.windows[k])
        for s, e in self.busy[k].values():
            timeline.take(s, e)
        return timeline

    def _index_codes(self) -> None:
        by_code: dict[str, list[int]] = defaultdict(list)
        for k, info in enumerate(self.resources):
            if info is not None:
                for cap in info.capabilities:
                    by_code[cap.code].append(k)
        self.by_code = dict(by_code)

    def _load_sites(self, session: Session, ids: list[int] | None) -> None:
        q = select(Site)
        if ids is not None:
            q = q.where(Site.id.in_(ids))
        added = False
        for s in session.scalars(q.order_by(Site.id)):
            if s.id in self.site_index:
                continue
            self.site_index[s.id] = len(self.sites)
            self.sites.append(
                SiteInfo(s.id, s.organization_id, s.name, s.city, s.latitude, s.longitude)
            )
            added = True
        if added:
            self._trucks()

    def _trucks(self) -> None:
        n = len(self.sites)
        minutes = [[0] * n for _ in range(n)]
        cost = [[0] * n for _ in range(n)]
        for i, a in enumerate(self.sites):
            for j, b in enumerate(self.sites):
                if i != j:
                    minutes[i][j] = geo.truck_minutes(
                        a.latitude, a.longitude, b.latitude, b.longitude
                    )
                    cost[i][j] = geo.truck_cost_minor(
                        a.latitude, a.longitude, b.latitude, b.longitude
                    )
        self.truck_minutes, self.truck_cost = minutes, cost
        self._network, self._trucks60 = None, None

    def site_of(self, session: Session, site_id: int) -> int:
        """The dense index of a site (loaded on demand: a buyer's site has no resources)."""
        if site_id not in self.site_index:
            self._load_sites(session, [site_id])
        return self.site_index[site_id]

    # ---- reading -------------------------------------------------------------------------

    def network(self, weights: dict[int, float] | None = None) -> Network:
        """Sites, costs (hourly rate over the provider's credit weight: providers with better
        credit win close calls) and trucks, on the scale the placer compares (minor units x
        60 per minute; a truck trip x 60). Without weights, the same object until the plan's
        resources or sites change."""
        if weights is None and self._network is not None:
            return self._network
        cost = []
        site = []
        for info in self.resources:
            if info is None:
                cost.append(0)
                site.append(0)
                continue
            w = (weights or {}).get(info.organization_id, 1.0)
            cost.append(max(0, round(info.hourly_rate_minor / max(w, 0.1))))
            site.append(self.site_index[info.site_id])
        if self._trucks60 is None:
            self._trucks60 = [[c * 60 for c in row] for row in self.truck_cost]
        network = Network(
            site=site, cost=cost, minutes=self.truck_minutes, truck_cost=self._trucks60
        )
        if weights is None:
            self._network = network
        return network

    def modes(self, operation: OperationSpec) -> tuple[list[tuple[int, int]], list[str]]:
        """The resources that can take ``operation`` with its minutes on each (dense index,
        minutes), and why the others offering its capability cannot. Remembered per operation
        until a resource's details change (a re-plan reads the same steps again and again)."""
        key = (
            operation.id,
            operation.capability_code,
            operation.material,
            tuple(operation.certifications),
            operation.quantity,
            operation.setup_minutes,
            operation.unit_seconds,
            tuple(sorted(operation.class_unit_seconds.items())),
        )
        got = self._modes.get(key)
        if got is None:
            modes: list[tuple[int, int]] = []
            reasons: list[str] = []
            for idx in self.candidates(operation.capability_code):
                info = self.resources[idx]
                if info is None:
                    continue
                why = qualify(operation, info)
                if why is None:
                    modes.append((idx, duration_on(operation, info)))
                else:
                    reasons.append(why)
            if len(self._modes) >= MODES_KEPT:
                self._modes.clear()
            got = self._modes[key] = (modes, reasons)
        return got

    def candidates(self, code: str) -> list[int]:
        """Dense indices of the resources offering ``code``."""
        return self.by_code.get(code, [])

    def copy_timelines(self, give_back: Iterable[tuple[int, int, int]] = ()) -> Copies:
        """Copies of the timelines (each made when first read) with the ``(index, start,
        end)`` spans given back."""
        out = Copies(self.timelines)
        for k, s, e in give_back:
            out[k].give(s, e)
        return out

    def holds(self, k: int) -> Sequence[tuple[int, int]]:
        return list(self.busy[k].values())


_PLANS: dict[tuple[int, str], LivePlan] = {}
_PLANS_LOCK = threading.Lock()


def _freeze_long_lived() -> None:
    """Take what is alive now (the plan just loaded, the modules) out of the cyclic garbage
    collector's sight. The plan is a few hundred thousand long-lived objects: left in the
    collector's oldest generation, every full collection walks them all (about 150 ms at size
    L with 30,000 bookings: the p99 of quotes and accepts). Frozen objects are still freed by
    reference counting; what an earlier freeze kept that has become cyclic garbage since is
    collected here first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def live_plan(session: Session) -> LivePlan:
    """This process's live plan of the session's database, up to date."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = (id(engine), str(engine.url))
    with _PLANS_LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            if len(_PLANS) > 16:  # engines of finished test databases or simulation runs
                _PLANS.pop(next(iter(_PLANS)))
            plan = _PLANS[key] = LivePlan()
    plan.refresh(session)
    return plan


def forget(engine: Engine) -> None:
    """Drop the live plan of ``engine``'s database (its data was replaced wholesale)."""
    with _PLANS_LOCK:
        _PLANS.pop((id(engine), str(engine.url)), None)
