"""Routing rules (pure): predecessors refer to steps of the same order and form no cycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class RoutingError(ValueError):
    """A routing breaks a rule; `index` is the 0-based position of the offending operation."""

    def __init__(self, message: str, index: int, field: str = "predecessors") -> None:
        super().__init__(message)
        self.index = index
        self.field = field


def check_routing(predecessors: Mapping[int, Sequence[int]], order: Sequence[int]) -> None:
    """Check a routing given as seq -> predecessor seqs; `order` lists seqs by position.

    Raises RoutingError for a duplicate seq, a predecessor that is not a step of the order,
    a step that precedes itself, or a cycle (the message spells the cycle out).
    """
    position = {}
    for index, seq in enumerate(order):
        if seq in position:
            raise RoutingError(f"seq {seq} is used twice; give each step its own seq", index, "seq")
        position[seq] = index
    for seq in order:
        for p in predecessors.get(seq, ()):
            if p == seq:
                raise RoutingError(f"step {seq} lists itself as a predecessor", position[seq])
            if p not in position:
                raise RoutingError(
                    f"step {seq} names predecessor {p}, which is not a step of this order "
                    f"(steps are {sorted(position)})",
                    position[seq],
                )
    cycle = find_cycle(predecessors, order)
    if cycle:
        path = " -> ".join(str(s) for s in cycle)
        raise RoutingError(
            f"the routing has a cycle ({path}); a step cannot wait for itself", position[cycle[0]]
        )


def find_cycle(predecessors: Mapping[int, Sequence[int]], order: Sequence[int]) -> list[int]:
    """A cycle of seqs (first repeated at the end) if the precedence graph has one, else []."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(order, white)
    for root in order:
        if colour[root] != white:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path = [root]
        colour[root] = grey
        while stack:
            node, i = stack[-1]
            preds = list(predecessors.get(node, ()))
            if i < len(preds):
                stack[-1] = (node, i + 1)
                nxt = preds[i]
                if colour.get(nxt, black) == grey:
                    start = path.index(nxt)
                    return list(reversed([*path[start:], nxt]))
                if colour.get(nxt, black) == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                path.pop()
    return []


def operation_minutes(setup_minutes: int, quantity: int, unit_seconds: int) -> int:
    """Minutes an operation takes: setup plus quantity × unit time, rounded up."""
    return setup_minutes + -(-quantity * unit_seconds // 60)
