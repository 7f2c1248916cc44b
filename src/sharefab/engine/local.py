"""The ``local`` engine: tasks in this process (one worker) or in a process pool."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import resource
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sharefab.engine.base import Engine


class InProcessEngine(Engine):
    """Runs each task in this process when it is waited for (one slot, no pickling)."""

    name = "local"

    def __init__(self) -> None:
        self._queue: list[tuple[int, Callable[[Any], Any], Any]] = []
        self._next = 0

    @property
    def slots(self) -> int:
        return 1

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        self._next += 1
        self._queue.append((self._next, fn, arg))
        return self._next

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        if not self._queue:
            return []
        ticket, fn, arg = self._queue.pop(0)
        try:
            return [(ticket, fn(arg))]
        except Exception as exc:  # the caller drops the task
            return [(ticket, exc)]


def warm_up(_: object = None) -> int:
    """Import the solver in a worker before the clock starts (OR-Tools takes a second)."""
    import sharefab.optimize.cluster.submodel  # noqa: F401

    return os.getpid()


def peak_rss(_: object = None) -> tuple[int, float]:
    """(process id, peak resident memory in MiB) of the calling process."""
    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ProcessPoolEngine(Engine):
    """A ``ProcessPoolExecutor`` of ``workers`` processes; a crashed pool is replaced and the
    tasks it held come back as errors."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        # workers fork from a server that has already imported the solver: quick to (re)start
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["sharefab.optimize.cluster.submodel"])
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=self._ctx)
        list(self._pool.map(warm_up, range(self.workers)))
        self._futures: dict[cf.Future[Any], int] = {}
        self._next = 0
        self._peak = 0.0

    @property
    def slots(self) -> int:
        return self.workers

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        self._next += 1
        try:
            future = self._pool.submit(fn, arg)
        except BrokenProcessPool:
            self._restart()
            future = self._pool.submit(fn, arg)
        self._futures[future] = self._next
        return self._next

    def _restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=self._ctx)

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[tuple[int, Any]] = []
        broken = False
        for future in done:
            ticket = self._futures.pop(future)
            exc = future.exception()
            if isinstance(exc, BrokenProcessPool):
                broken = True
            out.append((ticket, exc if exc is not None else future.result()))
        if broken:
            self._restart()
        return out

    def peak_memory_mb(self) -> float:
        try:
            peaks = dict(self._pool.map(peak_rss, range(4 * self.workers), timeout=10))
        except Exception:
            return self._peak
        self._peak = max(self._peak, sum(peaks.values()))
        return self._peak

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
