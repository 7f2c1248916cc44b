"""A deterministic generator of realistic industrial clusters (pure data, no database).

``generate_cluster(spec, seed)`` builds the organisations, sites, resources, capacity windows and
orders of one Chinese manufacturing cluster. The same ``(spec, seed)`` always gives the same
cluster: every random draw comes from numpy PCG64 streams seeded from ``seed``, and nothing
iterates over a set or depends on hash order.

Conventions the consumers rely on:

* Time is in integer minutes from the horizon start, which is a Monday 00:00 in the sites'
  local time zone (Asia/Shanghai). Windows are half-open ``[start_min, end_min)``.
* Money is in integer minor units (CNY fen).
* The processing time of an operation on a resource of class ``c`` is
  ``setup_minutes + ceil(quantity * class_unit_seconds.get(c, unit_seconds) / 60)`` minutes
  (see `operation_minutes`). A resource is eligible for an operation when one of its
  capabilities has the operation's ``capability_code`` and either lists no materials (any
  material) or lists the operation's ``material``.
* Every operation fits inside at least one capacity window of at least one eligible resource,
  so every generated instance is feasible without pre-emption.
* ``GenOperation.interruptible``: piece and desk work (``catalog.pausable``: machining, sheet
  metal, stamping, welding, assembly, inspection, board assembly, design, packing) may stop at
  the end of a window and resume in the resource's next one; continuous cycles (heat treatment,
  coating, plating, casting, forging, moulding, tests, transport) may not. With
  ``ClusterSpec(interruptible=False)`` no operation may.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from sharefab.capacity.taxonomy import Taxonomy, load_taxonomy
from sharefab.gen.catalog import (
    BRANDS,
    FAMILY_CERTS,
    FOREIGN_OEMS,
    OEM_INDUSTRIES,
    PROFILE_CYCLE,
    PROFILE_WEIGHTS,
    PROFILES,
    REGIONS,
    RESOURCE_CLASSES,
    SYSTEM_CERTS,
    TEMPLATES,
    District,
    Region,
    ResourceClass,
    Step,
    Template,
    pausable,
)
from sharefab.kit import geo

__all__ = [
    "SIZES",
    "Cluster",
    "ClusterSpec",
    "GenCapability",
    "GenOperation",
    "GenOrder",
    "GenOrganization",
    "GenResource",
    "GenSite",
    "GenWindow",
    "cluster_summary",
    "cluster_to_dict",
    "cluster_to_json",
    "generate_cluster",
    "haversine_km",
    "operation_minutes",
    "transport_cost_minor",
    "transport_minutes",
]

T = TypeVar("T")

MINUTES_PER_DAY = 1440
MAX_OPERATIONS = 8
MIN_COVERAGE = 0.20
MAX_COVERAGE = 0.70
CURRENCY = "CNY"
MAX_LOAD = 1.5
# Calibrated worlds: due dates are this many times the order's flow time on empty machines
# (drawn uniformly per order class).
RUSH_TIGHTNESS = (1.1, 1.5)
NORMAL_TIGHTNESS = (1.5, 3.5)

# ------------------------------------------------------------------------- the contract


@dataclass(frozen=True, slots=True)
class GenOrganization:
    key: str
    name: str
    name_zh: str
    is_provider: bool
    is_buyer: bool
    country: str  # "CN"
    profile: str = "oem"  # a key of catalog.PROFILES, or "oem" for a buyer-only manufacturer
    certifications: tuple[str, ...] = ()
    short_name: str = ""


@dataclass(frozen=True, slots=True)
class GenSite:
    key: str
    org_key: str
    name: str
    city: str
    region: str  # province, e.g. "Jiangsu"
    latitude: float
    longitude: float
    timezone: str  # "Asia/Shanghai"
    name_zh: str = ""
    city_zh: str = ""
    district: str = ""
    district_zh: str = ""


@dataclass(frozen=True, slots=True)
class GenCapability:
    code: str
    materials: tuple[str, ...]  # empty: any material
    max_envelope_mm: tuple[int, int, int] | None
    tolerance_um: int | None
    certifications: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GenResource:
    key: str
    site_key: str
    name: str
    kind: str  # machine | line | tool | instrument | vehicle | service_team
    resource_class: str
    hourly_rate_minor: int
    currency: str
    capabilities: tuple[GenCapability, ...]
    name_zh: str = ""
    model: str = ""
    org_key: str = ""


@dataclass(frozen=True, slots=True)
class GenWindow:
    resource_key: str
    start_min: int  # minutes from the horizon start, [start, end)
    end_min: int


@dataclass(frozen=True, slots=True)
class GenOperation:
    seq: int  # 1-based within the order
    name: str
    capability_code: str
    setup_minutes: int
    unit_seconds: int  # per piece on a standard-speed resource
    class_unit_seconds: dict[str, int]  # overrides per resource_class
    predecessors: tuple[int, ...]  # seqs within the same order, all smaller than seq
    name_zh: str = ""
    material: str = ""  # what this step works on (the order's material unless a sub-part)
    interruptible: bool = False  # may pause at a window end and resume in the next window


@dataclass(frozen=True, slots=True)
class GenOrder:
    key: str
    buyer_org_key: str
    reference: str
    title: str
    product_family: str
    material: str
    quantity: int
    release_min: int
    due_min: int
    weight: int  # 1..3
    budget_minor: int
    currency: str
    operations: tuple[GenOperation, ...]
    title_zh: str = ""
    ship_to_site_key: str = ""
    rush: bool = False
    # Calibrated worlds: due = release + tightness x the order's window-aware flow time
    # (``gen.flow``), so the due date can be recomputed for another release. 0: not calibrated.
    tightness: float = 0.0


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    factories: int  # organisations in the cluster (providers and buyer-only manufacturers)
    resources: int
    orders: int
    horizon_days: int = 28
    region: str = "suzhou"  # a key of catalog.REGIONS: "suzhou" or "dongguan"
    buyer_only_share: float = 0.15  # share of organisations that only buy (OEMs)
    rush_share: float = 0.08  # share of orders with a tight due date
    interruptible: bool = True  # piece and desk work may pause at a shift end (``pausable``)
    # Calibrated world (see ``calibrate``): the order volume puts the most loaded capability
    # family at this share of its offered time, and due dates follow each order's
    # window-aware flow time. None: ``orders`` orders with the legacy critical-path due dates.
    load: float | None = None
    # Orders are released over the first ``release_days`` days (None: 70 % of the horizon);
    # loads are measured over the same days.
    release_days: int | None = None

    def __post_init__(self) -> None:
        if self.factories < 2:
            raise ValueError("a cluster needs at least 2 factories")
        if self.resources < self.factories:
            raise ValueError("a cluster needs at least one resource per factory")
        if self.orders < 0:
            raise ValueError("orders must be >= 0")
        if self.horizon_days < 7:
            raise ValueError("the horizon must be at least 7 days")
        if self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r}; known: {sorted(REGIONS)}")
        if self.load is not None and not 0 < self.load <= MAX_LOAD:
            raise ValueError(f"load must be in (0, {MAX_LOAD:g}], got {self.load:g}")
        if self.release_days is not None and not 1 <= self.release_days <= self.horizon_days:
            raise ValueError(
                f"release_days must be between 1 and the horizon ({self.horizon_days} days), "
                f"got {self.release_days}"
            )

    @property
    def horizon_min(self) -> int:
        return self.horizon_days * MINUTES_PER_DAY

    @property
    def release_span_days(self) -> int:
        """Days over which orders are released (and loads measured)."""
        if self.release_days is not None:
            return self.release_days
        return max(1, int(self.horizon_days * 0.7))


@dataclass(frozen=True, slots=True)
class Cluster:
    spec: ClusterSpec
    seed: int
    organizations: tuple[GenOrganization, ...]
    sites: tuple[GenSite, ...]
    resources: tuple[GenResource, ...]
    windows: tuple[GenWindow, ...]  # grouped by resource (in resource order), sorted by start
    orders: tuple[GenOrder, ...]

    @property
    def operation_count(self) -> int:
        return sum(len(o.operations) for o in self.orders)


SIZES: dict[str, ClusterSpec] = {
    "demo": ClusterSpec(factories=40, resources=340, orders=220, horizon_days=28),
    "S": ClusterSpec(factories=20, resources=150, orders=300),
    "M": ClusterSpec(factories=60, resources=600, orders=2_000),
    "L": ClusterSpec(factories=200, resources=2_000, orders=5_000),
    "XL": ClusterSpec(factories=500, resources=6_000, orders=20_000),
}

# ------------------------------------------------------------------------------ transport


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    return geo.haversine_km(lat1, lon1, lat2, lon2)


def transport_minutes(a: GenSite, b: GenSite) -> int:
    """Truck time between two sites (see `sharefab.kit.geo`); 0 for the same site."""
    if a.key == b.key:
        return 0
    return geo.truck_minutes(a.latitude, a.longitude, b.latitude, b.longitude)


def transport_cost_minor(a: GenSite, b: GenSite) -> int:
    """Price of one truck trip between two sites in CNY fen; 0 for the same site."""
    if a.key == b.key:
        return 0
    return geo.truck_cost_minor(a.latitude, a.longitude, b.latitude, b.longitude)


def operation_minutes(op: GenOperation, quantity: int, resource_class: str | None = None) -> int:
    """Processing minutes of ``op`` for ``quantity`` pieces on a resource of that class."""
    unit = (
        op.class_unit_seconds.get(resource_class, op.unit_seconds)
        if resource_class
        else (op.unit_seconds)
    )
    return op.setup_minutes + math.ceil(quantity * unit / 60)


# --------------------------------------------------------------------------- randomness


class _Rand:
    """Buffered uniform draws from a numpy PCG64 stream (one stream per purpose)."""

    __slots__ = ("_buf", "_gen", "_i")

    def __init__(self, seed: int, stream: int) -> None:
        entropy = [stream, seed % (1 << 64), (seed >> 64) % (1 << 64) if seed >= 0 else 1]
        self._gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
        self._buf: list[float] = []
        self._i = 0

    def u(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._gen.random(8192).tolist()
            self._i = 0
        v = self._buf[self._i]
        self._i += 1
        return v

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.u()

    def randint(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi], both included."""
        return lo + min(hi - lo, int(self.u() * (hi - lo + 1)))

    def loguniform(self, lo: float, hi: float) -> float:
        if lo <= 0 or hi <= lo:
            return self.uniform(lo, hi)
        return math.exp(self.uniform(math.log(lo), math.log(hi)))

    def chance(self, p: float) -> bool:
        return self.u() < p

    def choice(self, seq: Sequence[T]) -> T:
        return seq[min(len(seq) - 1, int(self.u() * len(seq)))]

    def weighted(self, items: Sequence[T], cum: Sequence[float]) -> T:
        """One of ``items`` with cumulative weights ``cum`` (ascending, last = total)."""
        i = bisect.bisect_right(cum, self.u() * cum[-1])
        return items[min(i, len(items) - 1)]

    def normal(self) -> float:
        u1 = max(self.u(), 1e-12)
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * self.u())

    def shuffle(self, items: list[T]) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.randint(0, i)
            items[i], items[j] = items[j], items[i]


def _cum(weights: Sequence[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


# -------------------------------------------------------------------- organisations, sites


@dataclass(slots=True)
class _OrgInfo:
    org: GenOrganization
    district: District
    brand: str
    brand_zh: str
    profile: str
    sites: list[GenSite] = field(default_factory=list)
    price_factor: float = 1.0


def _jitter_coords(r: _Rand, d: District) -> tuple[float, float]:
    while True:
        dx, dy = r.normal(), r.normal()
        if dx * dx + dy * dy <= 2.2**2:
            break
    lat = d.latitude + dy * d.spread_km / 111.0
    lon = d.longitude + dx * d.spread_km / (111.32 * math.cos(math.radians(d.latitude)))
    return round(lat, 5), round(lon, 5)


def _make_organizations(spec: ClusterSpec, region: Region, r: _Rand) -> list[_OrgInfo]:
    n = spec.factories
    n_oem = round(n * r.uniform(spec.buyer_only_share - 0.04, spec.buyer_only_share + 0.04))
    n_oem = max(1, min(n - 1, n_oem))
    roles = ["oem"] * n_oem + ["provider"] * (n - n_oem)
    r.shuffle(roles)
    # Providers take the profile cycle first so that every trade is present.
    p_items = [p for p, _ in PROFILE_WEIGHTS]
    p_cum = _cum([w for _, w in PROFILE_WEIGHTS])
    d_cum = _cum([d.weight for d in region.districts])
    brands = list(range(len(BRANDS)))
    r.shuffle(brands)
    foreign = list(range(len(FOREIGN_OEMS)))
    r.shuffle(foreign)
    used_names: set[str] = set()
    infos: list[_OrgInfo] = []
    n_provider = 0
    brand_pos = 0
    for i, role in enumerate(roles):
        district = r.weighted(region.districts, d_cum)
        if role == "provider":
            profile = (
                PROFILE_CYCLE[n_provider]
                if n_provider < len(PROFILE_CYCLE)
                else r.weighted(p_items, p_cum)
            )
            n_provider += 1
        else:
            profile = "oem"
        # A unique registered name.
        while True:
            b_zh, b_py = BRANDS[brands[brand_pos % len(brands)]]
            lap = brand_pos // len(brands)
            brand_pos += 1
            if profile == "oem" and foreign and r.chance(0.3):
                en, zh, _, _ = FOREIGN_OEMS[foreign.pop()]
                name = f"{en} ({district.city}) Co., Ltd."
                name_zh = f"{zh}（{district.city_zh}）有限公司"
                short = en.split()[0]
                b_zh, b_py = zh, short
            else:
                industries = PROFILES[profile].industries if profile != "oem" else OEM_INDUSTRIES
                ind_en, ind_zh = r.choice(industries)
                if lap:  # brands exhausted: a second trade name from another city
                    district = r.weighted(region.districts, d_cum)
                name = f"{district.city} {b_py} {ind_en} Co., Ltd."
                name_zh = f"{district.city_zh}{b_zh}{ind_zh}有限公司"
                short = f"{b_py} {ind_en}"
            if name not in used_names:
                used_names.add(name)
                break
        is_provider = profile != "oem"
        p_both = {"logistics": 0.05, "inspection_lab": 0.05, "design_house": 0.15}.get(
            profile, 0.35
        )
        is_buyer = (not is_provider) or r.chance(p_both)
        certs = {"ISO 9001"} if (not is_provider or r.chance(0.9)) else set()
        if r.chance(0.35):
            certs.add("ISO 14001")
        if is_provider:
            for cert, prob in PROFILES[profile].certifications:
                if r.chance(prob):
                    certs.add(cert)
        org = GenOrganization(
            key=f"org-{i + 1:04d}",
            name=name,
            name_zh=name_zh,
            is_provider=is_provider,
            is_buyer=is_buyer,
            country="CN",
            profile=profile,
            certifications=tuple(sorted(certs)),
            short_name=short,
        )
        infos.append(
            _OrgInfo(org, district, b_py, b_zh, profile, price_factor=r.uniform(0.88, 1.14))
        )
    return infos


def _make_sites(infos: list[_OrgInfo], region: Region, r: _Rand) -> list[GenSite]:
    d_cum = _cum([d.weight for d in region.districts])
    sites: list[GenSite] = []
    for info in infos:
        n_sites = 2 if (info.org.is_provider and r.chance(0.2)) else 1
        for k in range(n_sites):
            district = info.district
            if k == 1 and r.chance(0.6):
                district = r.weighted(region.districts, d_cum)
            lat, lon = _jitter_coords(r, district)
            short = info.org.short_name
            zh_short = info.org.name_zh.removesuffix("有限公司")
            plant = "main plant" if k == 0 else "plant 2"
            plant_zh = "总厂" if k == 0 else "二厂"
            site = GenSite(
                key=f"site-{len(sites) + 1:04d}",
                org_key=info.org.key,
                name=f"{short}, {district.name} {plant}",
                city=district.city,
                region=region.province,
                latitude=lat,
                longitude=lon,
                timezone=region.timezone,
                name_zh=f"{zh_short}{district.name_zh}{plant_zh}",
                city_zh=district.city_zh,
                district=district.name,
                district_zh=district.name_zh,
            )
            info.sites.append(site)
            sites.append(site)
    return sites


# ----------------------------------------------------------------------------- resources

_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _allocate(total: int, weights: list[float], minimum: int) -> list[int]:
    """Split ``total`` into integers >= minimum proportional to ``weights`` (largest remainder)."""
    n = len(weights)
    base = [minimum] * n
    rest = total - minimum * n
    s = sum(weights)
    exact = [rest * w / s for w in weights]
    floors = [int(x) for x in exact]
    left = rest - sum(floors)
    order = sorted(range(n), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [b + f for b, f in zip(base, floors, strict=True)]


def _make_resources(
    spec: ClusterSpec, region: Region, infos: list[_OrgInfo], r: _Rand
) -> tuple[list[GenResource], list[ResourceClass]]:
    tax = load_taxonomy()
    providers = [i for i in infos if i.org.is_provider]
    weights = [PROFILES[i.profile].size * math.exp(0.45 * r.normal()) for i in providers]
    minimum = 2 if spec.resources >= 2 * len(providers) else 1
    counts = _allocate(spec.resources, weights, minimum)
    resources: list[GenResource] = []
    classes: list[ResourceClass] = []
    used_plates: set[str] = set()
    for info, count in zip(providers, counts, strict=True):
        profile = PROFILES[info.profile]
        mix_items = [c for c, _ in profile.mix]
        mix_cum = _cum([w for _, w in profile.mix])
        picked = list(profile.core[:count])
        while len(picked) < count:
            picked.append(r.weighted(mix_items, mix_cum))
        models: dict[str, str] = {}
        numbers: dict[str, int] = {}
        for code in picked:
            rc = RESOURCE_CLASSES[code]
            if code not in models:
                models[code] = r.choice(rc.models)
            model = models[code]
            numbers[code] = k = numbers.get(code, 0) + 1
            site = info.sites[0] if len(info.sites) == 1 or r.chance(0.65) else info.sites[1]
            name, name_zh = _resource_names(rc, model, k, region, r, used_plates)
            rate = r.uniform(*rc.rate_cny) * info.price_factor
            rate_fen = max(1, round(rate / 5)) * 5 * 100
            caps = []
            for cap_code in rc.capabilities:
                cdef = tax.get(cap_code)
                mats = list(cdef.typical_materials)
                if len(mats) > 3 and r.chance(0.3):
                    mats.pop(r.randint(2, len(mats) - 1))
                allowed = SYSTEM_CERTS | FAMILY_CERTS.get(cdef.family, frozenset())
                caps.append(
                    GenCapability(
                        code=cap_code,
                        materials=tuple(mats),
                        max_envelope_mm=rc.envelope_mm,
                        tolerance_um=rc.tolerance_um,
                        certifications=tuple(c for c in info.org.certifications if c in allowed),
                    )
                )
            resources.append(
                GenResource(
                    key=f"res-{len(resources) + 1:05d}",
                    site_key=site.key,
                    name=name,
                    kind=rc.kind,
                    resource_class=rc.code,
                    hourly_rate_minor=rate_fen,
                    currency=CURRENCY,
                    capabilities=tuple(caps),
                    name_zh=name_zh,
                    model=model,
                    org_key=info.org.key,
                )
            )
            classes.append(rc)
    return resources, classes


def _resource_names(
    rc: ResourceClass, model: str, k: int, region: Region, r: _Rand, used_plates: set[str]
) -> tuple[str, str]:
    label = rc.name[0].upper() + rc.name[1:]
    if rc.kind == "vehicle":
        while True:
            plate = f"{region.plate_prefix}·{r.choice(_PLATE_LETTERS)}" + "".join(
                r.choice(_PLATE_CHARS) for _ in range(4)
            )
            if plate not in used_plates:
                used_plates.add(plate)
                break
        return f"{model} {rc.name} {plate}", f"{rc.name_zh} {plate}"
    if rc.kind == "service_team":
        letter = _PLATE_LETTERS[(k - 1) % len(_PLATE_LETTERS)]
        return f"{label} {letter}", f"{rc.name_zh}{letter}"
    if model[0].islower():  # a generic description, not a make and model
        return f"{label} {k}", f"{rc.name_zh}{k}号"
    if rc.kind == "line":
        return f"{label} {k} ({model})", f"{rc.name_zh}{k}号线"
    return f"{model} #{k}", f"{rc.name_zh}{k}号"


# ------------------------------------------------------------------------------- windows

# Shifts in minutes of the local day: night 01:00-07:30, day 08:00-16:00, evening 16:30-00:30.
_SHIFTS: dict[str, tuple[int, int]] = {
    "night": (60, 450),
    "day": (480, 960),
    "evening": (990, 1470),
}
_SHIFT_ORDER = ("night", "day", "evening")
_WEEKDAYS = (0, 1, 2, 3, 4)
# (shifts, days of the week, weight): what a factory typically has spare.
_PATTERNS: tuple[tuple[tuple[str, ...], tuple[int, ...], float], ...] = (
    (("day",), _WEEKDAYS, 3.0),
    (("day",), (0, 1, 2, 3, 4, 5), 2.0),
    (("day", "evening"), _WEEKDAYS, 3.0),
    (("day", "evening"), (0, 1, 2, 3, 4, 5), 2.0),
    (("evening", "night"), _WEEKDAYS, 1.0),
    (("night",), (0, 1, 2, 3, 4, 5, 6), 1.0),
    (("day", "evening"), (5, 6), 1.0),
    (("night", "day", "evening"), _WEEKDAYS, 1.0),
    (("evening",), (0, 1, 2, 3, 4, 5, 6), 1.0),
)
_PATTERN_CUM = _cum([w for _, _, w in _PATTERNS])


def _shift_windows(days: int, r: _Rand) -> list[tuple[int, int]]:
    """Shift-based spare capacity of one machine, 20-70 % of the horizon."""
    horizon = days * MINUTES_PER_DAY
    shifts, weekdays, _ = r.weighted(_PATTERNS, _PATTERN_CUM)
    p_busy = r.uniform(0.03, 0.3)  # share of pattern shifts taken by the factory's own work
    slots: list[tuple[int, int]] = []
    chosen: list[bool] = []
    for d in range(days):
        for s in _SHIFT_ORDER:
            a, b = _SHIFTS[s]
            start, end = d * MINUTES_PER_DAY + a, min(horizon, d * MINUTES_PER_DAY + b)
            if r.chance(0.12):  # part of the shift only
                if r.chance(0.5):
                    start += r.choice((60, 120, 180))
                else:
                    end -= r.choice((60, 120, 180))
            slots.append((start, end))
            chosen.append(s in shifts and d % 7 in weekdays and not r.chance(p_busy))
    total = sum(e - s for (s, e), c in zip(slots, chosen, strict=True) if c)
    lo, hi = MIN_COVERAGE * horizon, MAX_COVERAGE * horizon
    if total > hi or total < lo:
        idx = list(range(len(slots)))
        r.shuffle(idx)
        for i in idx:
            if total > hi and chosen[i]:
                chosen[i] = False
                total -= slots[i][1] - slots[i][0]
            elif total < lo and not chosen[i]:
                chosen[i] = True
                total += slots[i][1] - slots[i][0]
            if lo <= total <= hi:
                break
    return [slot for slot, c in zip(slots, chosen, strict=True) if c]


def _continuous_windows(days: int, r: _Rand) -> list[tuple[int, int]]:
    """Round-the-clock spare capacity (furnaces, moulding, SMT, chambers): blocks of days."""
    horizon = days * MINUTES_PER_DAY
    half = MINUTES_PER_DAY // 2
    n_slots = (horizon - 480) // half  # 12-hour slots starting at 08:00 and 20:00
    for _ in range(50):
        f = r.uniform(0.3, 0.62)
        windows: list[tuple[int, int]] = []
        slot = r.randint(0, 4)
        while slot < n_slots:
            on = r.choice((2, 2, 3, 4, 4, 5, 6, 8))
            on = min(on, n_slots - slot)
            start = 480 + slot * half
            end = 480 + (slot + on) * half
            end -= r.choice((0, 0, 60, 120))  # changeover or maintenance at the end
            windows.append((start, min(end, horizon)))
            off_mean = on * (1 - f) / f
            slot += on + max(1, round(off_mean * r.uniform(0.5, 1.5)))
        total = sum(e - s for s, e in windows)
        if MIN_COVERAGE * horizon <= total <= MAX_COVERAGE * horizon:
            return windows
    # Fallback: two days on, two days off.
    return [
        (480 + d * MINUTES_PER_DAY, 480 + (d + 2) * MINUTES_PER_DAY - 60)
        for d in range(0, days - 2, 4)
    ]


def _make_windows(
    spec: ClusterSpec, resources: list[GenResource], classes: list[ResourceClass], r: _Rand
) -> tuple[list[GenWindow], list[int]]:
    """All windows, and the longest window per resource."""
    windows: list[GenWindow] = []
    longest: list[int] = []
    for res, rc in zip(resources, classes, strict=True):
        spans = (
            _continuous_windows(spec.horizon_days, r)
            if rc.continuous
            else _shift_windows(spec.horizon_days, r)
        )
        key = res.key
        windows.extend(GenWindow(key, s, e) for s, e in spans)
        longest.append(max((e - s for s, e in spans), default=0))
    return windows, longest


# -------------------------------------------------------------------------------- orders


@dataclass(slots=True)
class _Offer:
    """What the cluster offers for one (capability, material)."""

    longest: dict[str, int]  # resource class -> longest window of such a resource
    speed: dict[str, float]  # resource class -> unit-time multiplier
    rate_fen: int  # median hourly rate


class _OfferIndex:
    def __init__(
        self, resources: list[GenResource], classes: list[ResourceClass], longest: list[int]
    ) -> None:
        self._by_cap: dict[str, list[tuple[GenCapability, ResourceClass, int, int]]] = {}
        for res, rc, ln in zip(resources, classes, longest, strict=True):
            for cap in res.capabilities:
                self._by_cap.setdefault(cap.code, []).append((cap, rc, ln, res.hourly_rate_minor))
        self._cache: dict[tuple[str, str], _Offer | None] = {}

    def get(self, cap: str, material: str) -> _Offer | None:
        key = (cap, material)
        if key in self._cache:
            return self._cache[key]
        longest: dict[str, int] = {}
        speed: dict[str, float] = {}
        rates: list[int] = []
        for c, rc, ln, rate in self._by_cap.get(cap, ()):
            if c.materials and material not in c.materials:
                continue
            if ln <= 0:
                continue
            longest[rc.code] = max(longest.get(rc.code, 0), ln)
            speed[rc.code] = rc.speed
            rates.append(rate)
        offer = None
        if longest:
            rates.sort()
            offer = _Offer(
                dict(sorted(longest.items())), dict(sorted(speed.items())), rates[len(rates) // 2]
            )
        self._cache[key] = offer
        return offer


def _nice_quantity(q: float) -> int:
    if q < 10:
        return max(1, round(q))
    step = 5 if q < 50 else 10 if q < 200 else 50 if q < 1000 else 100
    return max(step, round(q / step) * step)


def _nice_floor(q: int) -> int:
    """The largest round quantity not above ``q``."""
    step = 1 if q < 10 else 5 if q < 50 else 10 if q < 200 else 50 if q < 1000 else 100
    return max(1, q // step * step)


@dataclass(slots=True)
class _Draft:
    step_index: int
    cap: str
    material: str
    name: str
    name_zh: str
    setup: int
    unit: int
    class_units: dict[str, int]
    offer: _Offer
    preds: tuple[int, ...] = ()


def _feasible_template_materials(t: Template, offers: _OfferIndex) -> list[str]:
    """Materials of ``t`` for which every mandatory step has an offered alternative."""
    parts = dict(t.part_materials)
    out = []
    for m in t.materials:
        ok = True
        for step in t.steps:
            if step.p < 1.0:
                continue
            mats = parts[step.mat] if step.mat else (m,)
            if not any(offers.get(c, pm) for c in step.caps for pm in mats):
                ok = False
                break
        if ok:
            out.append(m)
    return out


def _fallback_template(offers: _OfferIndex, caps: list[str]) -> Template | None:
    """A one-step job on any offered capability (for tiny clusters)."""
    tax = load_taxonomy()
    steps = []
    for code in caps:
        cdef = tax.get(code)
        mats = cdef.typical_materials or ("Q235",)
        if any(offers.get(code, m) for m in mats):
            steps.append((code, cdef, mats))
    if not steps:
        return None
    code, cdef, mats = steps[0]
    return Template(
        "single_job",
        1.0,
        tuple(mats),
        (1, 50),
        ((f"{cdef.name} job", f"{cdef.name_zh}加工"),),
        (Step((code,), cdef.name, cdef.name_zh, (30, 120), (60, 600)),),
    )


def _draw_orders(
    spec: ClusterSpec,
    infos: list[_OrgInfo],
    resources: list[GenResource],
    classes: list[ResourceClass],
    longest: list[int],
    r: _Rand,
) -> Iterator[GenOrder]:
    """Orders one after another from the ``r`` stream (as many as the caller takes)."""
    tax = load_taxonomy()
    offers = _OfferIndex(resources, classes, longest)
    usable: list[tuple[Template, list[str]]] = []
    for t in TEMPLATES:
        mats = _feasible_template_materials(t, offers)
        if mats:
            usable.append((t, mats))
    if not usable:
        fb = _fallback_template(
            offers, sorted({c.code for res in resources for c in res.capabilities})
        )
        if fb is None:
            return
        usable.append((fb, list(fb.materials)))
    t_items = list(range(len(usable)))
    t_cum = _cum([t.weight for t, _ in usable])

    buyers = [i for i in infos if i.org.is_buyer]
    b_cum = _cum(
        [(4.0 if not i.org.is_provider else 1.0) * math.exp(0.5 * r.normal()) for i in buyers]
    )
    po_counter: dict[str, int] = {}

    # Typical transport between two provider sites, for due dates and budgets.
    p_sites = [s for i in infos if i.org.is_provider for s in i.sites]
    pair_min: list[int] = []
    pair_fen: list[int] = []
    for _ in range(min(300, max(1, len(p_sites) ** 2))):
        a, b = r.choice(p_sites), r.choice(p_sites)
        if a.key != b.key:
            pair_min.append(transport_minutes(a, b))
            pair_fen.append(transport_cost_minor(a, b))
    pair_min.sort()
    pair_fen.sort()
    hop_min = pair_min[len(pair_min) // 2] if pair_min else 60
    hop_fen = pair_fen[len(pair_fen) // 2] if pair_fen else 30_000

    horizon = spec.horizon_min
    release_days = spec.release_span_days
    for n in itertools.count():
        t, mats = usable[r.weighted(t_items, t_cum)]
        material = r.choice(mats)
        parts: dict[str, str] = {}
        for key, choices in t.part_materials:
            ok = [
                m
                for m in choices
                if all(
                    any(offers.get(c, m) for c in s.caps)
                    for s in t.steps
                    if s.mat == key and s.p >= 1.0
                )
            ]
            parts[key] = r.choice(ok or list(choices))
        drafts: list[_Draft] = []
        for si, step in enumerate(t.steps):
            m = parts[step.mat] if step.mat else material
            alts = [c for c in step.caps if offers.get(c, m)]
            if not alts:
                continue
            if step.p < 1.0 and not r.chance(step.p):
                continue
            cap = r.choice(alts)
            offer = offers.get(cap, m)
            assert offer is not None
            setup = round(r.uniform(*step.setup) / 5) * 5
            unit = round(r.loguniform(*step.unit)) if step.unit[1] > 0 else 0
            cu = (
                {
                    cls: max(1, round(unit * sp * r.uniform(0.93, 1.07)))
                    for cls, sp in offer.speed.items()
                }
                if unit
                else {}
            )
            drafts.append(_Draft(si, cap, m, step.name, step.name_zh, setup, unit, cu, offer))
        if not drafts:  # every step optional and none drawn: keep the first offered one
            for si, step in enumerate(t.steps):
                m = parts[step.mat] if step.mat else material
                alts = [c for c in step.caps if offers.get(c, m)]
                if alts:
                    cap = alts[0]
                    offer = offers.get(cap, m)
                    assert offer is not None
                    drafts.append(
                        _Draft(si, cap, m, step.name, step.name_zh, step.setup[0], 0, {}, offer)
                    )
                    break
        while len(drafts) > MAX_OPERATIONS:
            optional = [i for i, d in enumerate(drafts) if t.steps[d.step_index].p < 1.0]
            drafts.pop(r.choice(optional) if optional else len(drafts) - 2)
        _resolve_predecessors(t, drafts)

        # Quantity: the family's range, then capped so that every step fits one window.
        qty = _nice_quantity(r.loguniform(*t.quantity)) if t.quantity[1] > 1 else 1
        qty = min(qty, t.quantity[1])
        for d in drafts:
            best = max(d.offer.longest.values())
            d.setup = min(d.setup, (best // 2) // 5 * 5)
            if d.unit:
                qmax = 0
                for cls, ln in d.offer.longest.items():
                    u = d.class_units[cls]
                    qmax = max(qmax, int((0.9 * ln - d.setup) * 60 // u))
                if qmax < qty:
                    qty = max(1, _nice_floor(qmax))
        for d in drafts:
            if d.unit and not _fits(d, qty):
                # Rare: a piece takes longer than any window allows; shorten it to fit.
                for cls, ln in d.offer.longest.items():
                    d.class_units[cls] = min(d.class_units[cls], max(1, (ln - d.setup) * 60 // qty))
                d.unit = min(d.unit, max(d.class_units.values()))

        # Critical path with a typical transport hop between steps.
        finish: list[int] = []
        for d in drafts:
            p = min(
                d.setup + math.ceil(qty * d.class_units.get(c, d.unit) / 60)
                for c in d.offer.longest
            )
            start = max((finish[q - 1] + hop_min for q in d.preds), default=0)
            finish.append(start + p)
        critical = max(finish) + hop_min

        if r.chance(0.15):
            release = 0
        else:
            release = r.randint(0, release_days - 1) * MINUTES_PER_DAY + r.randint(28, 72) * 15
        rush = r.chance(spec.rush_share)
        draw = r.u()
        slack = (1.05 + 0.25 * draw) if rush else (1.3 + 1.7 * draw)
        tightness = 0.0
        if spec.load is not None:  # the due date is set from the flow time (``calibrate``)
            lo, hi = RUSH_TIGHTNESS if rush else NORMAL_TIGHTNESS
            tightness = lo + (hi - lo) * draw
        due = release + math.ceil(slack * critical)
        if not rush:  # due at the end of a working day, 18:00
            due += (1080 - due) % MINUTES_PER_DAY
        weight = 3 if rush else r.weighted((1, 2, 3), (0.6, 0.9, 1.0))

        cost = sum(
            min(
                d.setup + math.ceil(qty * d.class_units.get(c, d.unit) / 60)
                for c in d.offer.longest
            )
            / 60
            * d.offer.rate_fen
            for d in drafts
        ) + hop_fen * len(drafts)
        budget = cost * r.uniform(1.2, 1.8)
        unit_fen = 10_000 if budget > 1_000_000 else 1_000
        budget_minor = max(20_000, math.ceil(budget / unit_fen) * unit_fen)

        buyer = r.weighted(buyers, b_cum)
        po_counter[buyer.org.key] = seq = po_counter.get(buyer.org.key, 0) + 1
        prefix = "".join(ch for ch in buyer.brand if ch.isalpha())[:3].upper() or "PO"
        product, product_zh = r.choice(t.products)
        mat_zh = _material_zh(tax, material)
        ops = tuple(
            GenOperation(
                seq=k + 1,
                name=d.name,
                capability_code=d.cap,
                setup_minutes=d.setup,
                unit_seconds=d.unit,
                class_unit_seconds=d.class_units,
                predecessors=d.preds,
                name_zh=d.name_zh,
                material=d.material,
                interruptible=spec.interruptible and pausable(d.cap),
            )
            for k, d in enumerate(drafts)
        )
        yield (
            GenOrder(
                key=f"ord-{n + 1:06d}",
                buyer_org_key=buyer.org.key,
                reference=f"{prefix}-PO{1000 + seq:05d}",
                title=f"{product} ({material})",
                product_family=t.family,
                material=material,
                quantity=qty,
                release_min=min(release, horizon - MINUTES_PER_DAY),
                due_min=due,
                weight=weight,
                budget_minor=budget_minor,
                currency=CURRENCY,
                operations=ops,
                title_zh=f"{product_zh}（{mat_zh}）",
                ship_to_site_key=buyer.sites[0].key,
                rush=rush,
                tightness=tightness,
            )
        )


def _fits(d: _Draft, qty: int) -> bool:
    return any(
        d.setup + math.ceil(qty * d.class_units.get(c, d.unit) / 60) <= ln
        for c, ln in d.offer.longest.items()
    )


def _material_zh(tax: Taxonomy, code: str) -> str:
    try:
        return tax.material(code).name_zh
    except KeyError:
        return code


def _resolve_predecessors(t: Template, drafts: list[_Draft]) -> None:
    """Turn template precedence into seq numbers over the kept steps (dropped steps bridged)."""
    kept = {d.step_index: k + 1 for k, d in enumerate(drafts)}
    memo: dict[int, frozenset[int]] = {}

    def template_preds(i: int) -> tuple[int, ...]:
        after = t.steps[i].after
        if after is None:
            return (i - 1,) if i > 0 else ()
        return after

    def resolve(i: int) -> frozenset[int]:
        """Seqs of the nearest kept steps at or before template step i."""
        if i in memo:
            return memo[i]
        if i in kept:
            out = frozenset((kept[i],))
        else:
            out = frozenset().union(*(resolve(j) for j in template_preds(i)))
        memo[i] = out
        return out

    for d in drafts:
        seqs: set[int] = set()
        for j in template_preds(d.step_index):
            seqs |= resolve(j)
        d.preds = tuple(sorted(seqs))


# ------------------------------------------------------------------------------- public


def generate_cluster(spec: ClusterSpec, seed: int) -> Cluster:
    """A realistic, deterministic industrial cluster for ``spec`` (same seed, same cluster)."""
    region = REGIONS[spec.region]
    r_org, r_res, r_win, r_ord = (_Rand(seed, s) for s in (1, 2, 3, 4))
    infos = _make_organizations(spec, region, r_org)
    sites = _make_sites(infos, region, r_org)
    resources, classes = _make_resources(spec, region, infos, r_res)
    windows, longest = _make_windows(spec, resources, classes, r_win)
    drawn = _draw_orders(spec, infos, resources, classes, longest, r_ord)
    if spec.load is None:
        orders = list(itertools.islice(drawn, spec.orders))
    else:
        from sharefab.gen.calibrate import calibrate

        resources, windows, orders = calibrate(
            spec, seed, sites, resources, classes, windows, drawn, region
        )
    return Cluster(
        spec=spec,
        seed=seed,
        organizations=tuple(i.org for i in infos),
        sites=tuple(sites),
        resources=tuple(resources),
        windows=tuple(windows),
        orders=tuple(orders),
    )


def cluster_to_dict(cluster: Cluster) -> dict[str, Any]:
    """The whole cluster as plain JSON-ready data (tuples become lists)."""
    return dataclasses.asdict(cluster)


def cluster_to_json(cluster: Cluster, indent: int | None = None) -> str:
    """A canonical JSON dump: sorted keys, so equal clusters give equal text."""
    return json.dumps(cluster_to_dict(cluster), ensure_ascii=False, sort_keys=True, indent=indent)


def cluster_summary(cluster: Cluster) -> dict[str, Any]:
    """Counts and shares a CLI or a log line shows about a cluster."""
    horizon = cluster.spec.horizon_min
    offered = sum(w.end_min - w.start_min for w in cluster.windows)
    n_res = max(1, len(cluster.resources))
    families: dict[str, int] = {}
    for o in cluster.orders:
        families[o.product_family] = families.get(o.product_family, 0) + 1
    return {
        "seed": cluster.seed,
        "region": cluster.spec.region,
        "horizon_days": cluster.spec.horizon_days,
        "organizations": len(cluster.organizations),
        "providers": sum(o.is_provider for o in cluster.organizations),
        "buyers": sum(o.is_buyer for o in cluster.organizations),
        "sites": len(cluster.sites),
        "resources": len(cluster.resources),
        "windows": len(cluster.windows),
        "offered_share": round(offered / (horizon * n_res), 3),
        "orders": len(cluster.orders),
        "operations": cluster.operation_count,
        "interruptible_share": round(
            sum(op.interruptible for o in cluster.orders for op in o.operations)
            / max(1, cluster.operation_count),
            3,
        ),
        "capabilities_used": len(
            {op.capability_code for o in cluster.orders for op in o.operations}
        ),
        "product_families": dict(sorted(families.items())),
    }
