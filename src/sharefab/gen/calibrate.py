"""A calibrated world: supply that follows demand, an order volume set by load, due dates set by
flow time.

``calibrate`` runs when ``ClusterSpec.load`` is set, after the organisations, resources and
windows are drawn and with the stream of orders still open:

1. **Supply follows demand.** The order mix (the first orders of the stream) says how much
   work each capability gets, on its fastest capable resources. A capability loaded more than
   ``BALANCE`` times the cluster's overall load, or more than the most loaded capability
   family (an environmental-test chamber that every electronics order needs for a day), gets
   more of the resources that offer it, at the providers that already run them (a lab runs
   several chambers), until it is not: once the volume puts the most loaded family at the
   target load, no capability is above it. Nothing else changes: the first resources, their
   windows and the orders are those of the stream.
2. **Volume by load.** Orders are taken from the stream until the most loaded capability
   family reaches ``spec.load`` of its offered time over the release days (the next order
   would pass it).
3. **Due dates by flow time.** Each order is due ``tightness`` times its window-aware flow time
   after its release (``gen.flow``: every step inside one window of a capable resource,
   transport between sites and to the buyer included), ``tightness`` >= 1, so every order can
   be on time on empty machines.

``cluster_loads`` measures any cluster the same way (demand on the fastest capable resource
over the offered time of the release days, per capability family and per capability); ``sharefab
gen cluster`` prints it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sharefab.capacity.taxonomy import load_taxonomy
from sharefab.gen.catalog import Region, ResourceClass
from sharefab.gen.cluster import (
    MINUTES_PER_DAY,
    Cluster,
    ClusterSpec,
    GenOrder,
    GenResource,
    GenSite,
    GenWindow,
    _continuous_windows,
    _Rand,
    _resource_names,
    _shift_windows,
    operation_minutes,
    transport_minutes,
)
from sharefab.gen.flow import Calendar, due_from_flow

# A capability may be loaded at most this many times the cluster's overall load before supply
# is added for it.
BALANCE = 100.0
# The order mix is read off this many orders (or the spec's count, if larger).
MIX_ORDERS = 1500
# Never take more than this many times the spec's order count (a cluster with almost no demand).
MAX_VOLUME = 40
# Added resources: at most this share of the drawn ones.
MAX_ADDED_SHARE = 0.5
_STREAM = 5


@dataclass(frozen=True)
class Loads:
    """Work on the fastest capable resources over the time offered in the release days."""

    family: dict[str, float]
    capability: dict[str, float]
    overall: float  # all the work over all the offered time: the utilisation ceiling
    days: int


class _Supply:
    """Who can do what and how much time each resource offers within ``days``."""

    def __init__(
        self,
        resources: Sequence[GenResource],
        windows: Sequence[Sequence[tuple[int, int]]],
        days: int,
    ) -> None:
        tax = load_taxonomy()
        self.family_of: dict[str, str] = {}
        self.resources = list(resources)
        self.windows = [list(w) for w in windows]
        self.period = days * MINUTES_PER_DAY
        self.by_cap: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        self.offered: list[int] = []
        self.longest: list[int] = []
        self.cap_supply: dict[str, int] = {}
        self.family_supply: dict[str, int] = {}
        for cap in sorted({c.code for r in resources for c in r.capabilities}):
            self.family_of[cap] = tax.get(cap).family
        for k, res in enumerate(resources):
            self._add(k, res)

    def _add(self, k: int, res: GenResource) -> None:
        spans = self.windows[k]
        offered = sum(max(0, min(e, self.period) - s) for s, e in spans if s < self.period)
        self.offered.append(offered)
        self.longest.append(max((e - s for s, e in spans), default=0))
        for cap in res.capabilities:
            self.by_cap.setdefault(cap.code, []).append((k, cap.materials))
            self.cap_supply[cap.code] = self.cap_supply.get(cap.code, 0) + offered
            if cap.code not in self.family_of:
                self.family_of[cap.code] = load_taxonomy().get(cap.code).family
        for fam in sorted({self.family_of[c.code] for c in res.capabilities}):
            self.family_supply[fam] = self.family_supply.get(fam, 0) + offered

    def add(self, res: GenResource, spans: list[tuple[int, int]]) -> None:
        self.resources.append(res)
        self.windows.append(spans)
        self._add(len(self.resources) - 1, res)

    def modes(self, order: GenOrder) -> list[list[tuple[int, int]]]:
        """Per step: (resource, minutes) of every resource that can do it: in one window, or
        over several if the step may pause at a shift end."""
        out = []
        for op in order.operations:
            material = op.material or order.material
            step = []
            for r, mats in self.by_cap.get(op.capability_code, ()):
                if mats and material not in mats:
                    continue
                minutes = max(
                    1, operation_minutes(op, order.quantity, self.resources[r].resource_class)
                )
                if minutes <= self.longest[r] or (op.interruptible and self.offered[r] > 0):
                    step.append((r, minutes))
            out.append(step)
        return out

    def demand(self, order: GenOrder) -> list[tuple[str, int]]:
        """(capability, minutes on its fastest capable resource) per step."""
        out = []
        for op, step in zip(order.operations, self.modes(order), strict=True):
            if step:
                out.append((op.capability_code, min(m for _, m in step)))
        return out

    def loads(self, demand: dict[str, int]) -> Loads:
        family: dict[str, int] = {}
        for cap, minutes in demand.items():
            fam = self.family_of[cap]
            family[fam] = family.get(fam, 0) + minutes
        total = sum(self.offered)
        return Loads(
            family={
                f: family[f] / self.family_supply[f]
                for f in sorted(family)
                if self.family_supply.get(f)
            },
            capability={
                c: demand[c] / self.cap_supply[c] for c in sorted(demand) if self.cap_supply.get(c)
            },
            overall=sum(demand.values()) / total if total else 0.0,
            days=self.period // MINUTES_PER_DAY,
        )


def _windows_of(
    resources: Sequence[GenResource], windows: Iterable[GenWindow]
) -> list[list[tuple[int, int]]]:
    index = {r.key: k for k, r in enumerate(resources)}
    out: list[list[tuple[int, int]]] = [[] for _ in resources]
    for w in windows:
        out[index[w.resource_key]].append((w.start_min, w.end_min))
    for spans in out:
        spans.sort()
    return out


def cluster_loads(cluster: Cluster, days: int | None = None) -> Loads:
    """The loads of ``cluster``'s orders over the offered time of its first ``days`` days (by
    default the release days of its spec)."""
    days = days or cluster.spec.release_span_days
    supply = _Supply(cluster.resources, _windows_of(cluster.resources, cluster.windows), days)
    demand: dict[str, int] = {}
    for order in cluster.orders:
        for cap, minutes in supply.demand(order):
            demand[cap] = demand.get(cap, 0) + minutes
    return supply.loads(demand)


def _add_supply(
    spec: ClusterSpec,
    seed: int,
    supply: _Supply,
    classes: list[ResourceClass],
    demand: dict[str, int],
    region: Region,
) -> tuple[list[GenResource], list[GenWindow]]:
    """Resources added so that no capability is loaded above ``BALANCE`` x the overall load."""
    r = _Rand(seed, _STREAM)
    drawn = len(supply.resources)
    names = {res.name for res in supply.resources}
    plates: set[str] = set()
    added: list[GenResource] = []
    windows: list[GenWindow] = []
    per_cap: dict[str, int] = {}
    class_of = {res.key: rc for res, rc in zip(supply.resources, classes, strict=True)}
    while len(added) < MAX_ADDED_SHARE * drawn:
        loads = supply.loads(demand)
        worst = max(loads.capability, key=lambda c: (loads.capability[c], c), default=None)
        if worst is None:
            break
        limit = min(BALANCE * loads.overall, max(loads.family.values()))
        if loads.capability[worst] <= limit:
            break
        offering = [k for k, _ in supply.by_cap[worst]]
        template = supply.resources[offering[per_cap.get(worst, 0) % len(offering)]]
        per_cap[worst] = per_cap.get(worst, 0) + 1
        rc = class_of[template.key]
        same = sum(
            1
            for res in supply.resources
            if res.org_key == template.org_key and res.resource_class == template.resource_class
        )
        for k in itertools.count(same + 1):
            name, name_zh = _resource_names(rc, template.model, k, region, r, plates)
            if name not in names:
                break
        names.add(name)
        res = dataclasses.replace(
            template,
            key=f"res-{len(supply.resources) + 1:05d}",
            name=name,
            name_zh=name_zh,
        )
        spans = (
            _continuous_windows(spec.horizon_days, r)
            if rc.continuous
            else _shift_windows(spec.horizon_days, r)
        )
        supply.add(res, spans)
        class_of[res.key] = rc
        added.append(res)
        windows.extend(GenWindow(res.key, s, e) for s, e in spans)
    return added, windows


def calibrate(
    spec: ClusterSpec,
    seed: int,
    sites: Sequence[GenSite],
    resources: list[GenResource],
    classes: list[ResourceClass],
    windows: list[GenWindow],
    drawn: Iterator[GenOrder],
    region: Region,
) -> tuple[list[GenResource], list[GenWindow], list[GenOrder]]:
    """Resources (with the added ones), windows and orders of a calibrated world (see the
    module docstring)."""
    assert spec.load is not None
    days = spec.release_span_days
    supply = _Supply(resources, _windows_of(resources, windows), days)
    mix = list(itertools.islice(drawn, max(MIX_ORDERS, spec.orders)))
    demand: dict[str, int] = {}
    for order in mix:
        for cap, minutes in supply.demand(order):
            demand[cap] = demand.get(cap, 0) + minutes
    if not demand:
        return resources, windows, []
    added, more = _add_supply(spec, seed, supply, classes, demand, region)
    resources = resources + added
    windows = windows + more
    site_index = {s.key: k for k, s in enumerate(sites)}
    calendar = Calendar(
        supply.windows,
        [site_index[r.site_key] for r in resources],
        [[transport_minutes(a, b) for b in sites] for a in sites],
    )
    family_demand: dict[str, int] = {}
    orders: list[GenOrder] = []
    for order in itertools.chain(mix, drawn):
        if len(orders) >= MAX_VOLUME * max(1, spec.orders):
            break
        steps = supply.demand(order)
        if len(steps) < len(order.operations):
            continue  # a step no resource can do in one window (never in generated mixes)
        more_family: dict[str, int] = {}
        for cap, minutes in steps:
            fam = supply.family_of[cap]
            more_family[fam] = more_family.get(fam, 0) + minutes
        if any(
            (family_demand.get(f, 0) + m) / supply.family_supply[f] > spec.load
            for f, m in more_family.items()
        ):
            break
        modes = supply.modes(order)
        position = {op.seq: k for k, op in enumerate(order.operations)}
        preds = [[position[p] for p in op.predecessors] for op in order.operations]
        delivery = calendar.delivery(
            order.release_min,
            modes,
            preds,
            site_index[order.ship_to_site_key],
            [op.interruptible for op in order.operations],
        )
        if delivery is None:
            continue  # released too late to finish inside the horizon
        for f, m in more_family.items():
            family_demand[f] = family_demand.get(f, 0) + m
        due = due_from_flow(order.release_min, delivery, order.tightness, order.rush)
        orders.append(dataclasses.replace(order, key=f"ord-{len(orders) + 1:06d}", due_min=due))
    return resources, windows, orders
