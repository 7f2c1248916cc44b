"""The static world a simulation runs in: a cluster stretched over the simulated weeks.

Built once per cluster and shared by every seed and policy: resources with their capacity
windows, which resources can run which operation and how long it takes there, truck time and
cost between sites, and each order's home factory (the provider whose customer placed it).
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

from sharefab.gen import Cluster, ClusterSpec, GenWindow, generate_cluster, operation_minutes
from sharefab.gen.flow import Calendar
from sharefab.gen.instance import eligible_resources
from sharefab.kit import geo

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


# Factories keep publishing capacity after the simulated period: plans may reach past its end
# (only what happens inside the period is measured). Four weeks: with two, the sharefab policy
# refused 27.6 orders a run at size M over 8 weeks (its late orders' work reached past the
# published windows, so an order arriving near the end found no window for some step).
TAIL_WEEKS = 4


# The simulated world's default load: its most loaded capability family gets this share of
# its offered time (``ClusterSpec.load``).
DEFAULT_LOAD = 0.85


def stretch_spec(spec: ClusterSpec, weeks: int, load: float | None = DEFAULT_LOAD) -> ClusterSpec:
    """`spec` with orders released over `weeks` weeks and capacity windows for `TAIL_WEEKS`
    more: calibrated to `load` (None: the spec's orders per week, legacy due dates)."""
    per_week = spec.orders * 7 / spec.horizon_days
    return dataclasses.replace(
        spec,
        horizon_days=7 * (weeks + TAIL_WEEKS),
        orders=round(per_week * weeks),
        release_days=7 * weeks,
        load=load,
    )


def repeat_windows(cluster: Cluster, until: int) -> Cluster:
    """`cluster` with its published windows repeated (period: its horizon) up to `until`."""
    period = cluster.spec.horizon_min
    if period >= until:
        return cluster
    windows = []
    by_resource: dict[str, list[GenWindow]] = {}
    for w in cluster.windows:
        by_resource.setdefault(w.resource_key, []).append(w)
    for res in cluster.resources:
        for lap in range(-(-until // period)):
            for w in by_resource.get(res.key, ()):
                s, e = w.start_min + lap * period, min(w.end_min + lap * period, until)
                if e > s:
                    windows.append(GenWindow(res.key, s, e))
    return dataclasses.replace(cluster, windows=tuple(windows))


def cluster_for(
    spec: ClusterSpec, weeks: int, seed: int, load: float | None = DEFAULT_LOAD
) -> Cluster:
    """A generated cluster whose windows and order book span `weeks` weeks (calibrated to
    `load`, see `stretch_spec`)."""
    return generate_cluster(stretch_spec(spec, weeks, load), seed)


@dataclass(frozen=True)
class World:
    """Everything a policy needs to know about the cluster that does not change by chance."""

    cluster: Cluster  # its windows cover the period and the tail after it
    end: int  # minutes simulated
    org_index: dict[str, int]
    provider_orgs: tuple[int, ...]
    resource_org: tuple[int, ...]
    resource_site: tuple[int, ...]
    resource_rate: tuple[int, ...]  # fen per hour
    windows: tuple[tuple[tuple[int, int], ...], ...]  # per resource, sorted (and the tail)
    window_starts: tuple[tuple[int, ...], ...]
    longest: tuple[int, ...]
    # per order, per operation position: (resource, planned minutes) it can run on
    modes: tuple[tuple[tuple[tuple[int, int], ...], ...], ...]
    preds: tuple[tuple[tuple[int, ...], ...], ...]  # positions of predecessors
    succs: tuple[tuple[tuple[int, ...], ...], ...]
    # per order, per operation position: whether the step may pause at a window end and go on
    # in the resource's next window (piece and desk work, ``GenOperation.interruptible``)
    pausable: tuple[tuple[bool, ...], ...]
    home: tuple[int, ...]  # per order: the org index of its home factory
    home_ops: tuple[tuple[int, ...], ...]  # per order, per step: the org that makes it unshared
    ship_to: tuple[int, ...]  # per order: the site index work is delivered to
    site_minutes: tuple[tuple[int, ...], ...]
    site_cost: tuple[tuple[int, ...], ...]  # fen per truck trip
    calendar: Calendar  # the windows as ``gen.flow`` reads them: flow times on empty machines

    def delivery_alone(self, order: int, release: int) -> int | None:
        """The earliest minute order `order`, released at `release`, reaches its buyer on
        empty machines (None: some step fits no window left)."""
        return self.calendar.delivery(
            release, self.modes[order], self.preds[order], self.ship_to[order], self.pausable[order]
        )

    def place(
        self, order: int, position: int, r: int, earliest: int, minutes: int
    ) -> tuple[int, int] | None:
        """The first (start, end) >= `earliest` of that step's `minutes` on resource `r`: inside
        one window, or, if the step may pause, starting in a window and going on in the next
        ones (None if no window left can take it)."""
        return self.calendar.place(r, earliest, minutes, self.pausable[order][position])

    def finish(self, order: int, position: int, r: int, start: int, minutes: int) -> int:
        """When `minutes` of that step's work begun at `start` on `r` ends: straight on for a
        step that may not pause (overruns are overtime), else over `r`'s windows."""
        if self.pausable[order][position]:
            end = self.calendar.finish(r, start, minutes)
            if end is not None:
                return end
        return start + minutes

    @property
    def offered_minutes(self) -> int:
        """Machine-minutes offered inside the simulated period."""
        return sum(
            max(0, min(e, self.end) - s) for spans in self.windows for s, e in spans if s < self.end
        )

    def fit_start(self, r: int, earliest: int, minutes: int) -> int | None:
        """The first start >= `earliest` at which `minutes` of work fits inside one window of
        resource `r` (None if no window left can hold it)."""
        spans = self.windows[r]
        k = max(0, bisect.bisect_right(self.window_starts[r], earliest) - 1)
        for s, e in spans[k:]:
            start = max(s, earliest)
            if start + minutes <= e:
                return start
        return None

    def window_at(self, r: int, t: int) -> tuple[int, int] | None:
        """The window of `r` that contains minute `t`, if any."""
        spans = self.windows[r]
        k = bisect.bisect_right(self.window_starts[r], t) - 1
        if k >= 0 and spans[k][0] <= t < spans[k][1]:
            return spans[k]
        return None


def build_world(cluster: Cluster, weeks: int) -> World:
    """The world of `cluster` simulated for `weeks` weeks."""
    end = weeks * MINUTES_PER_WEEK
    cluster = repeat_windows(cluster, end + TAIL_WEEKS * MINUTES_PER_WEEK)
    org_index = {o.key: i for i, o in enumerate(cluster.organizations)}
    site_index = {s.key: i for i, s in enumerate(cluster.sites)}
    res_index = {r.key: i for i, r in enumerate(cluster.resources)}
    spans: list[list[tuple[int, int]]] = [[] for _ in cluster.resources]
    for w in cluster.windows:
        s, e = w.start_min, w.end_min
        if e > s:
            spans[res_index[w.resource_key]].append((s, e))
    for sp in spans:
        sp.sort()
    site_org = [org_index[s.org_key] for s in cluster.sites]
    resource_site = tuple(site_index[r.site_key] for r in cluster.resources)
    resource_org = tuple(site_org[s] for s in resource_site)
    longest = tuple(max((e - s for s, e in sp), default=0) for sp in spans)
    classes = [r.resource_class for r in cluster.resources]
    site_minutes = tuple(
        tuple(
            geo.truck_minutes(a.latitude, a.longitude, b.latitude, b.longitude)
            if a.key != b.key
            else 0
            for b in cluster.sites
        )
        for a in cluster.sites
    )
    site_cost = tuple(
        tuple(
            geo.truck_cost_minor(a.latitude, a.longitude, b.latitude, b.longitude)
            if a.key != b.key
            else 0
            for b in cluster.sites
        )
        for a in cluster.sites
    )
    eligible = eligible_resources(cluster)
    modes = []
    preds = []
    succs = []
    for order, per_op in zip(cluster.orders, eligible, strict=True):
        pos = {op.seq: k for k, op in enumerate(order.operations)}
        order_modes = []
        for op, rs in zip(order.operations, per_op, strict=True):
            ms = []
            for r in rs:
                minutes = max(1, operation_minutes(op, order.quantity, classes[r]))
                if longest[r] >= minutes or (op.interruptible and spans[r]):
                    ms.append((r, minutes))
            order_modes.append(tuple(ms))
        modes.append(tuple(order_modes))
        p = tuple(tuple(pos[q] for q in op.predecessors if q in pos) for op in order.operations)
        preds.append(p)
        succs.append(tuple(tuple(k for k in range(len(p)) if j in p[k]) for j in range(len(p))))
    providers = tuple(i for i, o in enumerate(cluster.organizations) if o.is_provider)
    org_sites: dict[int, list[int]] = {}
    for k, site in enumerate(cluster.sites):
        org_sites.setdefault(org_index[site.org_key], []).append(k)
    ship_to = []
    for o in cluster.orders:
        if o.ship_to_site_key in site_index:
            ship_to.append(site_index[o.ship_to_site_key])
        else:
            ship_to.append(org_sites[org_index[o.buyer_org_key]][0])
    home, home_ops = _home_factories(
        cluster, org_index, providers, resource_org, modes, ship_to, org_sites, site_minutes
    )
    return World(
        cluster=cluster,
        end=end,
        org_index=org_index,
        provider_orgs=providers,
        resource_org=resource_org,
        resource_site=resource_site,
        resource_rate=tuple(r.hourly_rate_minor for r in cluster.resources),
        windows=tuple(tuple(sp) for sp in spans),
        window_starts=tuple(tuple(s for s, _ in sp) for sp in spans),
        longest=longest,
        modes=tuple(modes),
        preds=tuple(preds),
        succs=tuple(succs),
        pausable=tuple(tuple(op.interruptible for op in o.operations) for o in cluster.orders),
        home=home,
        home_ops=home_ops,
        ship_to=tuple(ship_to),
        site_minutes=site_minutes,
        site_cost=site_cost,
        calendar=Calendar(spans, resource_site, site_minutes),
    )


def _home_factories(
    cluster: Cluster,
    org_index: dict[str, int],
    providers: tuple[int, ...],
    resource_org: tuple[int, ...],
    modes: list[tuple[tuple[tuple[int, int], ...], ...]],
    ship_to: list[int],
    org_sites: dict[int, list[int]],
    site_minutes: tuple[tuple[int, ...], ...],
) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Who makes what without sharing (deterministic, no random draw).

    An order's home factory is the buyer itself when it is a provider that can do the most of
    the routing, else the provider that can do the most of it nearest to the buyer (its usual
    supplier). A step the home factory cannot do goes to its fixed subcontractor for that
    process: the provider nearest to the home factory that can do it. -1: nobody can.
    """
    home: list[int] = []
    home_ops: list[tuple[int, ...]] = []
    for o, order_modes, dest in zip(cluster.orders, modes, ship_to, strict=True):
        can: dict[int, int] = {}
        for op_modes in order_modes:
            for org in sorted({resource_org[r] for r, _ in op_modes}):
                can[org] = can.get(org, 0) + 1
        buyer = org_index[o.buyer_org_key]
        top = max(can.values(), default=0)
        if buyer in providers and can.get(buyer, 0) == top:
            best = buyer
        else:
            best = min(
                providers,
                key=lambda p: (-can.get(p, 0), site_minutes[org_sites[p][0]][dest], p),
            )
        home.append(best)
        here = org_sites[best][0]
        per_op = []
        for op_modes in order_modes:
            orgs = sorted({resource_org[r] for r, _ in op_modes})
            if best in orgs:
                per_op.append(best)
            elif orgs:
                per_op.append(min(orgs, key=lambda p: (site_minutes[here][org_sites[p][0]], p)))
            else:
                per_op.append(-1)
        home_ops.append(tuple(per_op))
    return tuple(home), tuple(home_ops)
