"""What a run leaves behind: the fate of every order and every operation that ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Fate(StrEnum):
    """Where an arrived order stands when the simulation ends."""

    completed = "completed"
    in_progress = "in_progress"
    waiting = "waiting"
    rejected = "rejected"


@dataclass
class OrderOutcome:
    """One arrived order: when it came, when it was due, what became of it."""

    order: int
    arrived: int
    due: int
    home: int  # org index of the home factory
    fate: Fate = Fate.waiting
    delivered: int | None = None  # minute the last step's work reached the buyer
    reason: str = ""  # why it was rejected
    # whether it could be delivered by its due date on empty machines (``Arrival.feasible_alone``)
    feasible_alone: bool = True
    # the delivery minute the platform promised the buyer (None: no promise was made)
    promised: int | None = None


@dataclass
class Execution:
    """One operation as it ran (or is still running at the end)."""

    order: int
    position: int
    resource: int
    start: int
    end: int  # includes pauses for repairs; may lie past the end of the simulation
    busy: int  # minutes of real work
    planned: int  # planned minutes on that resource (what the provider is paid for)
    done: bool = False


@dataclass
class RunRecord:
    """Everything a policy did in one run."""

    policy: str
    seed: int
    end: int
    orders: dict[int, OrderOutcome] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    transport_cost: int = 0  # fen
    trips: int = 0
    event_times: list[int] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    def note(self, key: str, n: int = 1) -> None:
        self.notes[key] = self.notes.get(key, 0) + n
