"""The cluster generator: determinism, realism and the guarantees the solver relies on."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import statistics
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from sharefab.capacity.taxonomy import load_taxonomy
from sharefab.gen import (
    SIZES,
    Cluster,
    ClusterSpec,
    GenOperation,
    cluster_summary,
    cluster_to_json,
    generate_cluster,
    operation_minutes,
    transport_cost_minor,
    transport_minutes,
)
from sharefab.gen.catalog import PROFILES, RESOURCE_CLASSES, TEMPLATES, pausable


@pytest.fixture(scope="module")
def demo() -> Cluster:
    return generate_cluster(SIZES["demo"], 7)


@pytest.fixture(scope="module")
def medium() -> Cluster:
    return generate_cluster(SIZES["M"], 11)


@pytest.fixture(scope="module")
def large() -> Cluster:
    started = time.perf_counter()
    cluster = generate_cluster(SIZES["L"], 2024)
    assert time.perf_counter() - started < 5.0, "L must generate in a few seconds"
    return cluster


def _eligible(cluster: Cluster, op: GenOperation) -> list[tuple[str, str]]:
    """(resource key, resource class) of every resource that can run ``op``."""
    out = []
    for res in cluster.resources:
        for cap in res.capabilities:
            if cap.code == op.capability_code and (
                not cap.materials or op.material in cap.materials
            ):
                out.append((res.key, res.resource_class))
                break
    return out


def _windows_by_resource(cluster: Cluster) -> dict[str, list[tuple[int, int]]]:
    by_res: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for w in cluster.windows:
        by_res[w.resource_key].append((w.start_min, w.end_min))
    return by_res


# ------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_cluster(demo: Cluster) -> None:
    """Generating twice with the same seed and spec gives byte-identical JSON."""
    again = generate_cluster(SIZES["demo"], 7)
    assert cluster_to_json(again) == cluster_to_json(demo)


def test_different_seed_gives_different_cluster(demo: Cluster) -> None:
    """Another seed gives other companies, windows and orders."""
    other = generate_cluster(SIZES["demo"], 8)
    assert cluster_to_json(other) != cluster_to_json(demo)
    assert [o.name for o in other.organizations] != [o.name for o in demo.organizations]


def test_output_does_not_depend_on_hash_seed() -> None:
    """Two interpreters with different PYTHONHASHSEED produce the same cluster."""
    code = (
        "import hashlib; from sharefab.gen import SIZES, generate_cluster, cluster_to_json;"
        "print(hashlib.sha256(cluster_to_json(generate_cluster(SIZES['S'], 5)).encode())"
        ".hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": hs, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hs in ("1", "12345")
    }
    local = hashlib.sha256(cluster_to_json(generate_cluster(SIZES["S"], 5)).encode()).hexdigest()
    assert digests == {local}


def test_orders_do_not_change_the_factories() -> None:
    """More orders on the same seed keep the same factories, resources and windows."""
    a = generate_cluster(ClusterSpec(factories=20, resources=150, orders=10), 3)
    b = generate_cluster(ClusterSpec(factories=20, resources=150, orders=50), 3)
    assert a.organizations == b.organizations
    assert a.resources == b.resources
    assert a.windows == b.windows
    assert b.orders[:10] != ()
    assert len(b.orders) == 50


# ------------------------------------------------------------------------------ windows


@pytest.mark.parametrize("name", ["demo", "medium", "large"])
def test_windows_sorted_disjoint_and_20_to_70_percent(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Each resource's windows are sorted, never overlap, stay in the horizon and offer 20-70 %."""
    cluster: Cluster = request.getfixturevalue(name)
    horizon = cluster.spec.horizon_min
    by_res = _windows_by_resource(cluster)
    assert set(by_res) == {r.key for r in cluster.resources}
    for key, spans in by_res.items():
        assert spans == sorted(spans), key
        for (_s1, e1), (s2, _) in itertools.pairwise(spans):
            assert e1 <= s2, key
        for s, e in spans:
            assert 0 <= s < e <= horizon, key
        share = sum(e - s for s, e in spans) / horizon
        assert 0.2 <= share <= 0.7, (key, share)


def test_windows_follow_local_shifts(demo: Cluster) -> None:
    """Windows start on the hour or half hour of local shifts, and weekdays dominate."""
    starts = {w.start_min % 1440 for w in demo.windows}
    assert all(s % 60 in (0, 30) for s in starts)
    weekday_minutes = sum(
        w.end_min - w.start_min for w in demo.windows if (w.start_min // 1440) % 7 < 5
    )
    total = sum(w.end_min - w.start_min for w in demo.windows)
    assert weekday_minutes / total > 5 / 7  # factories offer more on weekdays


# ------------------------------------------------------------------------------- orders


@pytest.mark.parametrize("name", ["demo", "medium"])
def test_routings_are_acyclic_with_1_to_8_operations(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Every routing has 1-8 operations numbered 1..n whose predecessors are earlier seqs."""
    cluster: Cluster = request.getfixturevalue(name)
    n_dag = 0
    for order in cluster.orders:
        ops = order.operations
        assert 1 <= len(ops) <= 8, order.key
        assert [op.seq for op in ops] == list(range(1, len(ops) + 1))
        for op in ops:
            assert all(1 <= p < op.seq for p in op.predecessors), order.key
            assert list(op.predecessors) == sorted(set(op.predecessors))
        if any(len(op.predecessors) > 1 for op in ops):
            n_dag += 1
    assert 0 < n_dag < len(cluster.orders) / 3  # mostly chains, some DAGs


def test_every_used_capability_is_offered(medium: Cluster) -> None:
    """Each operation can run on at least one resource (capability and material match)."""
    for order in medium.orders:
        for op in order.operations:
            assert _eligible(medium, op), (order.key, op.capability_code, op.material)


def test_every_operation_fits_a_window(demo: Cluster) -> None:
    """Each operation fits in one window of an eligible resource (no pre-emption needed)."""
    longest: dict[str, int] = defaultdict(int)
    for w in demo.windows:
        longest[w.resource_key] = max(longest[w.resource_key], w.end_min - w.start_min)
    for order in demo.orders:
        for op in order.operations:
            assert any(
                operation_minutes(op, order.quantity, cls) <= longest[key]
                for key, cls in _eligible(demo, op)
            ), (order.key, op.seq)


def test_all_codes_exist_in_taxonomy_and_kinds_match(medium: Cluster) -> None:
    """Every code in resources and orders is in the taxonomy and fits the resource kind."""
    tax = load_taxonomy()
    for res in medium.resources:
        for cap in res.capabilities:
            assert res.kind in tax.get(cap.code).resource_kinds, (res.resource_class, cap.code)
    for order in medium.orders:
        for op in order.operations:
            tax.get(op.capability_code)


def test_class_speeds_and_rates_are_realistic(medium: Cluster) -> None:
    """High-speed classes are faster and dearer; hourly rates sit in realistic CNY bands."""
    rates: dict[str, list[float]] = defaultdict(list)
    for res in medium.resources:
        assert res.currency == "CNY"
        assert res.hourly_rate_minor % 100 == 0
        rates[res.resource_class].append(res.hourly_rate_minor / 100)
    med = {k: statistics.median(v) for k, v in rates.items()}
    assert 80 <= med["cnc3-standard"] <= 150
    assert 200 <= med["cnc5-standard"] <= 450
    assert med["cnc5-highspeed"] > med["cnc5-standard"]
    assert 150 <= med["cmm"] <= 300
    assert 120 <= med["truck-4m2"] <= 200
    faster = slower = 0
    for order in medium.orders:
        for op in order.operations:
            cu = op.class_unit_seconds
            if "cnc5-highspeed" in cu and "cnc5-standard" in cu:
                faster += cu["cnc5-highspeed"] < cu["cnc5-standard"]
                slower += 1
    assert slower
    assert faster == slower


def test_orders_have_realistic_dates_quantities_and_budgets(medium: Cluster) -> None:
    """Due dates leave 1.3-3x slack (rush orders less), quantities 1-5000, budgets in fen."""
    horizon = medium.spec.horizon_min
    rush = 0
    for order in medium.orders:
        assert 1 <= order.quantity <= 5000
        assert 0 <= order.release_min < horizon
        assert order.weight in (1, 2, 3)
        assert order.currency == "CNY"
        assert order.budget_minor >= 20_000
        # The routing can be no shorter than its longest single operation.
        longest_op = max(
            min(operation_minutes(op, order.quantity, c) for c in op.class_unit_seconds or [None])
            for op in order.operations
        )
        assert order.due_min - order.release_min >= longest_op, order.key
        if order.rush:
            rush += 1
            assert order.weight == 3
        else:
            assert order.due_min % 1440 == 18 * 60  # due at 18:00
            assert order.due_min - order.release_min >= 1.3 * longest_op
    assert 0.03 * len(medium.orders) < rush < 0.15 * len(medium.orders)
    assert len({o.product_family for o in medium.orders}) >= 12


# ---------------------------------------------------------------------------- the cluster


def test_demo_meets_the_seed_minimums(demo: Cluster) -> None:
    """The demo cluster has >= 30 factories, >= 300 resources, >= 200 orders over 28 days."""
    assert len(demo.organizations) >= 30
    assert len(demo.resources) >= 300
    assert len(demo.orders) >= 200
    assert demo.spec.horizon_days == 28
    assert max(w.end_min for w in demo.windows) <= 28 * 1440
    assert max(w.start_min for w in demo.windows) >= 21 * 1440  # windows reach week 4
    caps = {c.code for r in demo.resources for c in r.capabilities}
    assert len(caps) >= 40


def test_organisations_sites_and_names_look_real(demo: Cluster) -> None:
    """Companies are unique CN firms with English and Chinese names on Suzhou-area coordinates."""
    orgs = demo.organizations
    assert len({o.name for o in orgs}) == len(orgs)
    assert len({o.name_zh for o in orgs}) == len(orgs)
    for o in orgs:
        assert o.country == "CN"
        assert o.name.endswith("Co., Ltd.")
        assert o.name_zh.endswith("有限公司")
        assert o.is_provider or o.is_buyer
    buyer_only = sum(not o.is_provider for o in orgs) / len(orgs)
    assert 0.10 <= buyer_only <= 0.20
    assert any(o.is_provider and o.is_buyer for o in orgs)
    assert {o.profile for o in orgs if o.is_provider} >= set(PROFILES) - {"assembler", "additive"}
    sites_per_org: dict[str, int] = defaultdict(int)
    for s in demo.sites:
        sites_per_org[s.org_key] += 1
        assert 30.9 < s.latitude < 32.1, s
        assert 120.3 < s.longitude < 121.4, s
        assert s.timezone == "Asia/Shanghai"
        assert s.region == "Jiangsu"
    assert {s.city for s in demo.sites} >= {"Suzhou", "Kunshan"}
    for o in orgs:
        assert 1 <= sites_per_org[o.key] <= 2
    site_keys = {s.key for s in demo.sites}
    assert all(r.site_key in site_keys for r in demo.resources)


def test_l_size_has_about_30000_operations(large: Cluster) -> None:
    """The L benchmark has 200 factories, 2,000 resources, 5,000 orders, ~30,000 operations."""
    assert len(large.organizations) == 200
    assert len(large.resources) == 2000
    assert len(large.orders) == 5000
    assert 25_500 <= large.operation_count <= 34_500


def test_sizes_match_the_benchmark_table() -> None:
    """The named sizes have the factory, resource and order counts the benchmarks promise."""
    table = {k: (s.factories, s.resources, s.orders) for k, s in SIZES.items()}
    assert table["S"] == (20, 150, 300)
    assert table["M"] == (60, 600, 2000)
    assert table["L"] == (200, 2000, 5000)
    assert table["XL"] == (500, 6000, 20000)
    assert table["demo"][0] >= 30
    assert table["demo"][1] >= 300
    assert table["demo"][2] >= 200


def test_other_region_and_summary() -> None:
    """The Dongguan-Shenzhen region puts sites in Guangdong and the summary counts match."""
    cluster = generate_cluster(
        ClusterSpec(factories=12, resources=60, orders=40, region="dongguan"), 1
    )
    assert all(22.4 < s.latitude < 23.2 and 113.5 < s.longitude < 114.4 for s in cluster.sites)
    summary = cluster_summary(cluster)
    assert summary["orders"] == 40
    assert summary["resources"] == 60
    assert summary["operations"] == cluster.operation_count
    assert 0.2 <= summary["offered_share"] <= 0.7


def test_bad_specs_are_refused() -> None:
    """A spec with fewer resources than factories or an unknown region is rejected."""
    with pytest.raises(ValueError, match="resource"):
        ClusterSpec(factories=10, resources=5, orders=1)
    with pytest.raises(ValueError, match="region"):
        ClusterSpec(factories=10, resources=50, orders=1, region="atlantis")


# ----------------------------------------------------------------------------- transport


def test_transport_time_and_cost_grow_with_distance(demo: Cluster) -> None:
    """Same site costs nothing; trips are symmetric, and farther sites take longer and cost more."""
    a = demo.sites[0]
    assert transport_minutes(a, a) == 0
    assert transport_cost_minor(a, a) == 0
    others = sorted(
        demo.sites[1:],
        key=lambda s: math.dist((a.latitude, a.longitude), (s.latitude, s.longitude)),
    )
    near, far = others[0], others[-1]
    assert transport_minutes(a, far) == transport_minutes(far, a)
    assert transport_minutes(a, near) <= transport_minutes(a, far)
    assert transport_cost_minor(a, near) <= transport_cost_minor(a, far)
    assert transport_minutes(a, near) >= 30  # loading and unloading at least


def test_sip_to_kunshan_takes_about_an_hour() -> None:
    """Suzhou Industrial Park to Kunshan (~25 km) is roughly an hour by truck, a few hundred CNY."""
    from sharefab.gen import GenSite

    sip = GenSite("a", "o", "SIP", "Suzhou", "Jiangsu", 31.32, 120.72, "Asia/Shanghai")
    ks = GenSite("b", "o", "Kunshan", "Kunshan", "Jiangsu", 31.38, 120.98, "Asia/Shanghai")
    assert 55 <= transport_minutes(sip, ks) <= 80
    assert 20_000 <= transport_cost_minor(sip, ks) <= 40_000


# ------------------------------------------------------------------------------ catalogue


def test_catalogue_is_consistent_with_the_taxonomy() -> None:
    """Every class, profile and routing step names known capabilities, classes and earlier steps."""
    tax = load_taxonomy()
    for rc in RESOURCE_CLASSES.values():
        for code in rc.capabilities:
            assert rc.kind in tax.get(code).resource_kinds, (rc.code, code)
    for p in PROFILES.values():
        assert all(c in RESOURCE_CLASSES for c in p.core)
        assert all(c in RESOURCE_CLASSES for c, _ in p.mix)
    for t in TEMPLATES:
        parts = dict(t.part_materials)
        for i, step in enumerate(t.steps):
            for code in step.caps:
                tax.get(code)
            assert all(0 <= j < i for j in step.after or ()), (t.family, i)
            assert step.mat is None or step.mat in parts
        for m in t.materials:
            tax.material(m)


# ------------------------------------------------------------------ interruptible operations

# written out here, not read from the catalogue, so that a change there has to be deliberate
CONTINUOUS = (
    "casting.", "coating.", "forging.", "heat_treat.", "molding.", "plating.", "testing.",
    "finishing.passivation", "logistics.truck", "logistics.van", "pcb.conformal_coat",
)  # fmt: skip
PIECE_WORK = ("milling.", "turning.", "assembly.", "stamping.", "sheet.", "welding.", "design.")


@pytest.fixture(scope="module")
def demo_off() -> Cluster:
    return generate_cluster(dataclasses.replace(SIZES["demo"], interruptible=False), 7)


def test_piece_work_may_pause_and_continuous_cycles_may_not(demo: Cluster) -> None:
    """On a generated cluster machining, assembly and stamping are interruptible; heat
    treatment, coating, plating, moulding, tests and truck transport are not."""
    continuous = piece = 0
    for order in demo.orders:
        for op in order.operations:
            code = op.capability_code
            if code.startswith(CONTINUOUS):
                continuous += 1
                assert not op.interruptible, (order.key, code)
            elif code.startswith(PIECE_WORK):
                piece += 1
                assert op.interruptible, (order.key, code)
    assert continuous > 50
    assert piece > 50


def test_pausable_refuses_every_continuous_family() -> None:
    """Casting, forging, conformal coat and passivation run as one cycle; packing may pause."""
    for code in ("casting.die", "forging.hot", "pcb.conformal_coat", "finishing.passivation"):
        assert not pausable(code), code
    for code in ("logistics.packaging", "inspection.cmm", "pcb.smt", "finishing.sandblast"):
        assert pausable(code), code


def test_no_interruptible_flag_changes_nothing_else(demo: Cluster, demo_off: Cluster) -> None:
    """interruptible=False marks no operation interruptible and otherwise gives the very same
    cluster: same companies, resources, windows and orders (the flag draws no random number)."""
    assert not any(op.interruptible for o in demo_off.orders for op in o.operations)
    cleared = tuple(
        dataclasses.replace(
            o,
            operations=tuple(dataclasses.replace(op, interruptible=False) for op in o.operations),
        )
        for o in demo.orders
    )
    assert demo_off.orders == cleared
    assert demo_off.windows == demo.windows
    assert demo_off.resources == demo.resources
    assert demo_off.organizations == demo.organizations
    assert demo_off.sites == demo.sites
    assert demo_off.spec == dataclasses.replace(demo.spec, interruptible=False)


def test_summary_reports_the_interruptible_share(demo: Cluster, demo_off: Cluster) -> None:
    """The summary gives the share of operations that may pause; 0 with the flag off."""
    ops = [op for o in demo.orders for op in o.operations]
    share = cluster_summary(demo)["interruptible_share"]
    assert 0 < share < 1
    assert share == round(sum(op.interruptible for op in ops) / len(ops), 3)
    assert cluster_summary(demo_off)["interruptible_share"] == 0
