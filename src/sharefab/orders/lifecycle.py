"""The order state machine (pure): which transitions exist and what an illegal one says."""

from __future__ import annotations

from sharefab.orders.models import OrderStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.draft: frozenset({S.quoted, S.cancelled}),
    S.quoted: frozenset({S.quoted, S.draft, S.accepted, S.cancelled}),
    S.accepted: frozenset({S.scheduled, S.cancelled}),
    S.scheduled: frozenset({S.in_production, S.cancelled}),
    S.in_production: frozenset({S.completed, S.cancelled, S.disputed}),
    S.completed: frozenset({S.delivered, S.disputed}),
    S.delivered: frozenset({S.closed, S.disputed}),
    S.closed: frozenset(),
    S.cancelled: frozenset(),
    S.disputed: frozenset({S.closed, S.cancelled}),
}


class IllegalTransition(ValueError):
    """A transition the state machine does not allow; the message names what is allowed."""

    def __init__(self, current: S, wanted: S) -> None:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        allowed_text = ", ".join(allowed) if allowed else "none (it is final)"
        super().__init__(
            f"the order is {current.value} and cannot become {wanted.value}; "
            f"from {current.value} it can become: {allowed_text}"
        )
        self.current = current
        self.wanted = wanted
        self.allowed = allowed


def check(current: S, wanted: S) -> None:
    """Raise IllegalTransition unless `current` may become `wanted`."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)
