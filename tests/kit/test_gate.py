"""The admission gate for solver work: slots, a bounded line, refusal with Retry-After."""

from __future__ import annotations

import threading
import time

import pytest

from sharefab.kit.errors import TooManyRequests
from sharefab.kit.gate import Gate


def test_line_full_is_refused_with_retry_after() -> None:
    """One slot and a line of one: the third caller is refused at once with a Retry-After
    that covers the work ahead; the second gets in once the first leaves."""
    gate = Gate(slots=1, queue=1, seconds_per_job=3.0)
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with gate.enter("busy"):
            order.append("first")
            entered.set()
            release.wait(10)

    def second() -> None:
        with gate.enter("busy"):
            order.append("second")

    t1 = threading.Thread(target=first)
    t1.start()
    assert entered.wait(10)
    t2 = threading.Thread(target=second)
    t2.start()
    deadline = time.monotonic() + 10
    while gate.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.waiting == 1
    started = time.monotonic()
    with pytest.raises(TooManyRequests) as refused, gate.enter("the solver is busy"):
        pass
    assert time.monotonic() - started < 0.5  # refused at once, not after waiting
    assert refused.value.retry_after == 6  # two jobs ahead x 3 s on one slot
    assert "the solver is busy; ask again in 6 s" in refused.value.detail
    release.set()
    t1.join(10)
    t2.join(10)
    assert order == ["first", "second"]
    assert (gate.inside, gate.waiting) == (0, 0)


def test_slots_run_together() -> None:
    """Two slots: two callers are inside at the same time, nobody is refused."""
    gate = Gate(slots=2, queue=0, seconds_per_job=1.0)
    both = threading.Barrier(2, timeout=10)

    def work() -> None:
        with gate.enter("busy"):
            both.wait()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not both.broken
    assert gate.inside == 0
