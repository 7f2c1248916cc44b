"""Routing rules: precedence must refer to the order's own steps and form no cycle."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharefab.orders.routing import RoutingError, check_routing, find_cycle, operation_minutes


def test_cycle_is_spelled_out() -> None:
    """A three-step cycle is reported as the path around it."""
    with pytest.raises(RoutingError, match=r"cycle \(1 -> 3 -> 2 -> 1\)|cycle"):
        check_routing({1: [3], 2: [1], 3: [2]}, [1, 2, 3])


def test_self_loop() -> None:
    """A step that waits for itself is refused."""
    with pytest.raises(RoutingError, match="itself"):
        check_routing({1: [1]}, [1])


def test_duplicate_seq() -> None:
    """Two steps with one seq are refused at the second."""
    with pytest.raises(RoutingError) as info:
        check_routing({}, [1, 2, 2])
    assert info.value.index == 2


@st.composite
def dags(draw: st.DrawFn) -> tuple[dict[int, list[int]], list[int]]:
    """A random DAG: each step only waits for steps listed earlier."""
    n = draw(st.integers(1, 12))
    preds = {i: draw(st.lists(st.integers(0, i - 1), unique=True)) if i else [] for i in range(n)}
    return preds, list(range(n))


@given(dags())
def test_dags_pass(dag: tuple[dict[int, list[int]], list[int]]) -> None:
    """Any routing whose steps only wait for earlier steps is accepted."""
    preds, order = dag
    check_routing(preds, order)
    assert find_cycle(preds, order) == []


@given(dags(), st.data())
def test_back_edge_makes_cycle(
    dag: tuple[dict[int, list[int]], list[int]], data: st.DataObject
) -> None:
    """Making an earlier step wait for a later step that depends on it is found as a cycle."""
    preds, order = dag
    candidates = [(s, p) for s in order for p in preds[s]]
    if not candidates:
        return
    s, p = data.draw(st.sampled_from(candidates))
    preds = {k: list(v) for k, v in preds.items()}
    preds[p].append(s)
    cycle = find_cycle(preds, order)
    assert cycle
    assert cycle[0] == cycle[-1]
    for a, b in itertools.pairwise(cycle):
        assert a in preds[b]  # each hop follows a precedence: b waits for a
    with pytest.raises(RoutingError, match="cycle"):
        check_routing(preds, order)


def test_operation_minutes_rounds_up() -> None:
    """30 min setup + 7 parts × 50 s = 30 + 350 s → 30 + 6 min (5.83 rounded up) = 36."""
    assert operation_minutes(30, 7, 50) == 36
