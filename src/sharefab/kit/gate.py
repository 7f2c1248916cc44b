"""A bounded admission gate for expensive work in one server process (solver runs).

At most `slots` callers are inside at once; at most `queue` more wait for a slot; anyone beyond
that is refused at once with 429 and a Retry-After, instead of queueing without bound. So a
burst of solves can neither take every CPU nor every database session from the cheap requests
(browsing, booking) that share the process.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sharefab.kit.errors import TooManyRequests


class Gate:
    """`slots` at once, `queue` waiting, the rest refused (see the module's docstring)."""

    def __init__(self, slots: int, queue: int, seconds_per_job: float) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.seconds_per_job = seconds_per_job
        self._cond = threading.Condition()
        self._inside = 0
        self._waiting = 0

    @property
    def inside(self) -> int:
        """How many callers hold a slot now."""
        return self._inside

    @property
    def waiting(self) -> int:
        """How many callers wait for a slot now."""
        return self._waiting

    def retry_after(self) -> int:
        """Seconds until the line ahead has likely cleared (at least 1)."""
        ahead = self._inside + self._waiting
        return max(1, math.ceil(ahead * self.seconds_per_job / self.slots))

    @contextmanager
    def enter(self, busy: str) -> Iterator[None]:
        """Hold a slot for the block; 429 with `busy` as the detail if the line is full."""
        with self._cond:
            if self._inside >= self.slots:
                if self._waiting >= self.queue:
                    raise TooManyRequests(
                        f"{busy}; ask again in {self.retry_after()} s", self.retry_after()
                    )
                self._waiting += 1
                try:
                    while self._inside >= self.slots:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                self._cond.notify()
