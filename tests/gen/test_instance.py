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
    extend_windows,
)
from sharefab.optimize.io_json import to_dict

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
