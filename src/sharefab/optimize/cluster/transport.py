"""A transportation problem: items, each with a supply, sent to slots of limited capacity (or
straight out) at least cost, solved as OR-Tools' min-cost flow on source -> items -> slots -> sink.

Used by the capacity-aware lower bound (``queue_bound``) and the ``flow`` re-sequencing rule
(``resequence``). Arcs keep the order in which they are added, so a caller that adds them in the
same order gets the same optimal flow among equal-cost ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from ortools.graph.python import min_cost_flow


class Transport:
    """Build with ``item`` / ``to_slot`` / ``out`` per item, then ``slot`` per slot; ``solve``."""

    def __init__(self, n_items: int, n_slots: int) -> None:
        self.n_items = n_items
        self.source, self.sink = 0, 1 + n_items + n_slots
        self.supply = 0
        self._tails: list[int] = []
        self._heads: list[int] = []
        self._caps: list[int] = []
        self._costs: list[int] = []
        self._flow: min_cost_flow.SimpleMinCostFlow | None = None

    def _arc(self, tail: int, head: int, capacity: int, cost: int) -> None:
        self._tails.append(tail)
        self._heads.append(head)
        self._caps.append(capacity)
        self._costs.append(cost)

    def item(self, k: int, supply: int = 1) -> None:
        """Item ``k`` (0-based) has ``supply`` units to send."""
        self.supply += supply
        self._arc(self.source, 1 + k, supply, 0)

    def to_slot(self, k: int, slot: int, cost: int, capacity: int = 1) -> None:
        """Item ``k`` may send up to ``capacity`` units to ``slot``, each at ``cost``."""
        self._arc(1 + k, 1 + self.n_items + slot, capacity, cost)

    def out(self, k: int, cost: int, capacity: int = 1) -> None:
        """Item ``k`` may send units past every slot (its own way out), each at ``cost``."""
        self._arc(1 + k, self.sink, capacity, cost)

    def slot(self, slot: int, capacity: int) -> None:
        """``slot`` takes at most ``capacity`` units."""
        self._arc(1 + self.n_items + slot, self.sink, capacity, 0)

    def solve(self) -> int | None:
        """The least total cost of sending every item's whole supply; None if it cannot be sent."""
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(self._tails, self._heads, self._caps, self._costs)
        flow.set_node_supply(self.source, self.supply)
        flow.set_node_supply(self.sink, -self.supply)
        if flow.solve() != flow.OPTIMAL:
            return None
        self._flow = flow
        return int(flow.optimal_cost())

    def chosen(self) -> Iterator[tuple[int, int]]:
        """(item, slot) pairs that carry flow in the solution ``solve`` found."""
        assert self._flow is not None, "solve() first"
        flows = self._flow.flows(np.arange(len(self._tails)))
        first_slot = 1 + self.n_items
        for arc in np.flatnonzero(flows).tolist():
            tail, head = self._tails[arc], self._heads[arc]
            if 1 <= tail < first_slot and first_slot <= head < self.sink:
                yield tail - 1, head - first_slot
