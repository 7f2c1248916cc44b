"""From a generated cluster to solver data: determinism, fidelity, refusal of bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from sharefab.gen import ClusterSpec, generate_cluster, operation_minutes
from sharefab.gen.cluster import Cluster, cluster_to_dict, cluster_to_json
from sharefab.gen.instance import (
    ClusterInputError,
    check_cluster,
    cluster_from_dict,
    cluster_to_problem,
    eligible_resources,
    extend_windows,
)
from sharefab.optimize.cluster.dispatch import dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.io_json import to_dict
from sharefab.optimize.validate import validate

SPEC = ClusterSpec(factories=6, resources=40, orders=40)


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return generate_cluster(SPEC, 5)


def _digest(cluster: Cluster) -> str:
    doc = json.dumps(to_dict(cluster_to_problem(cluster)), sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def test_same_seed_same_instance() -> None:
    """Generating and converting twice with one seed gives the identical solver instance."""
    assert _digest(generate_cluster(SPEC, 5)) == _digest(generate_cluster(SPEC, 5))
    assert _digest(generate_cluster(SPEC, 5)) != _digest(generate_cluster(SPEC, 6))


def test_modes_follow_capabilities_materials_and_classes(cluster: Cluster) -> None:
    """Each operation can run exactly on the resources offering its capability for its material,
    for the class-dependent time."""
    data = cluster_to_problem(cluster)
    order = cluster.orders[0]
    for op, sop in zip(order.operations, data.jobs[0].operations, strict=True):
        material = op.material or order.material
        expected = {
            r: operation_minutes(op, order.quantity, res.resource_class)
            for r, res in enumerate(cluster.resources)
            if any(
                c.code == op.capability_code and (not c.materials or material in c.materials)
                for c in res.capabilities
            )
        }
        assert {m.resource: m.duration for m in sop.modes} == expected
    assert data.jobs[0].release == order.release_min
    assert data.jobs[0].due == order.due_min


def test_windows_repeat_after_the_horizon() -> None:
    """After the horizon the published windows repeat, then an open overflow window follows."""
    out = extend_windows([(10, 20), (30, 40)], horizon=100, extend_minutes=100)
    assert out[:4] == [(10, 20), (30, 40), (110, 120), (130, 140)]
    assert out[4][0] == 200


def test_cluster_file_round_trips(cluster: Cluster) -> None:
    """A cluster read back from its JSON is the same cluster."""
    back = cluster_from_dict(json.loads(cluster_to_json(cluster)))
    assert cluster_to_dict(back) == cluster_to_dict(cluster)


def _with_op(cluster: Cluster, **changes: object) -> Cluster:
    order = cluster.orders[0]
    op = dataclasses.replace(order.operations[-1], **changes)  # type: ignore[arg-type]
    order = dataclasses.replace(order, operations=(*order.operations[:-1], op))
    return dataclasses.replace(cluster, orders=(order, *cluster.orders[1:]))


def test_unknown_capability_is_refused_by_name(cluster: Cluster) -> None:
    """An operation nobody can perform is refused, naming the order and the operation."""
    bad = _with_op(cluster, capability_code="teleport.quantum")
    ref = cluster.orders[0].reference
    seq = cluster.orders[0].operations[-1].seq
    with pytest.raises(ClusterInputError, match=rf"order {ref} operation {seq} .*teleport"):
        cluster_to_problem(bad)


def test_operation_longer_than_every_window_is_refused(cluster: Cluster) -> None:
    """An operation longer than any window of its resources is refused by name."""
    bad = _with_op(cluster, setup_minutes=100_000)
    problems = check_cluster(bad)
    assert any(
        p.startswith(f"order {cluster.orders[0].reference} operation") and "window" in p
        for p in problems
    )


def test_precedence_cycle_is_refused(cluster: Cluster) -> None:
    """A routing whose steps wait for each other is refused with the cycle spelled out."""
    order = cluster.orders[0]
    first = dataclasses.replace(order.operations[0], predecessors=(order.operations[-1].seq,))
    order = dataclasses.replace(order, operations=(first, *order.operations[1:]))
    bad = dataclasses.replace(cluster, orders=(order, *cluster.orders[1:]))
    with pytest.raises(ClusterInputError, match=rf"order {order.reference} has a precedence cycle"):
        cluster_to_problem(bad)


def _windows_of(cluster: Cluster, r: int) -> list[tuple[int, int]]:
    key = cluster.resources[r].key
    return [(w.start_min, w.end_min) for w in cluster.windows if w.resource_key == key]


def _longer_than_every_window(cluster: Cluster, interruptible: bool) -> Cluster:
    """``cluster`` with its first order's last operation longer than every window of every
    resource that can perform it, but shorter than all of one such resource's windows together."""
    order = cluster.orders[0]
    op = order.operations[-1]
    rs = eligible_resources(cluster)[0][-1]
    longest = max(e - s for r in rs for s, e in _windows_of(cluster, r))
    bigger = _with_op(cluster, setup_minutes=longest + 1, interruptible=interruptible)
    new_op = bigger.orders[0].operations[-1]
    offered = max(sum(e - s for s, e in _windows_of(cluster, r)) for r in rs)
    classes = [cluster.resources[r].resource_class for r in rs]
    assert all(operation_minutes(new_op, order.quantity, c) > longest for c in classes)
    assert min(operation_minutes(new_op, order.quantity, c) for c in classes) < offered
    assert op.seq == new_op.seq
    return bigger


def test_interruptible_operation_may_need_several_windows(cluster: Cluster) -> None:
    """An interruptible operation longer than every window but not than the windows together is
    accepted, stays interruptible in the problem data, and dispatch plans it validly."""
    ok = _longer_than_every_window(cluster, interruptible=True)
    assert check_cluster(ok) == []
    data = cluster_to_problem(ok)
    assert data.jobs[0].operations[-1].interruptible
    index = ClusterIndex.from_problem(data)
    plan = dispatch(index, "fcfs")
    assert validate(data, plan.schedule()) == []
    assert plan.spans_gap(data.op_index(0, len(data.jobs[0].operations) - 1))


def test_same_long_operation_not_interruptible_is_refused(cluster: Cluster) -> None:
    """The same operation that may not pause is refused, naming the order and the operation."""
    bad = _longer_than_every_window(cluster, interruptible=False)
    ref = cluster.orders[0].reference
    seq = cluster.orders[0].operations[-1].seq
    with pytest.raises(
        ClusterInputError, match=rf"order {ref} operation {seq} .*longer than every capacity window"
    ):
        cluster_to_problem(bad)


def test_interruptible_operation_longer_than_all_windows_is_refused(cluster: Cluster) -> None:
    """An interruptible operation longer than all of its resources' windows together is refused
    by name."""
    bad = _with_op(cluster, setup_minutes=100_000, interruptible=True)
    ref = cluster.orders[0].reference
    seq = cluster.orders[0].operations[-1].seq
    problems = check_cluster(bad)
    assert any(
        p.startswith(f"order {ref} operation {seq} ")
        and "more than all the capacity windows together" in p
        for p in problems
    ), problems
    with pytest.raises(ClusterInputError, match="more than all the capacity windows together"):
        cluster_to_problem(bad)


def test_cluster_file_keeps_the_interruptible_flags(cluster: Cluster) -> None:
    """Writing a cluster to JSON and reading it back keeps which operations may pause."""
    flags = [op.interruptible for o in cluster.orders for op in o.operations]
    assert any(flags)
    assert not all(flags)
    back = cluster_from_dict(json.loads(json.dumps(cluster_to_dict(cluster))))
    assert [op.interruptible for o in back.orders for op in o.operations] == flags
    assert back.spec.interruptible
