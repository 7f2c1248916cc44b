"""Small generated clusters shared by the cluster-planning tests."""

from __future__ import annotations

import pytest

from sharefab.gen import ClusterSpec, generate_cluster
from sharefab.gen.instance import cluster_to_problem
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.data import ProblemData

SMALL = ClusterSpec(factories=6, resources=40, orders=40)


@pytest.fixture(scope="session")
def small_data() -> ProblemData:
    return cluster_to_problem(generate_cluster(SMALL, 5))


@pytest.fixture(scope="session")
def small_index(small_data: ProblemData) -> ClusterIndex:
    return ClusterIndex.from_problem(small_data)
