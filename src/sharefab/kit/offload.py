"""Solver runs in worker processes, away from the web process's interpreter.

A quote or a replan spends most of its time in pure Python and CP-SAT work (building the
model, the search's callbacks, validating the plan). Run in a thread of the web process, that
work holds the interpreter lock for long stretches and every cheap request (browsing, booking)
waits behind it. `sharefab serve` therefore starts a small pool of worker processes
(`--solver-processes`, by default one per solver slot) and the services hand their solves to
it through `run`; the workers run at a lower CPU priority, so on a busy machine the cheap
requests go first. Without a pool (the CLI, the simulator, most tests) `run` calls the
function in the caller's thread: the same function, the same result.

Functions sent to the pool must be importable top-level functions of the pure optimiser
(arrays in, schedule out); their arguments and results are pickled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from sharefab.kit.errors import ServiceUnavailable

P = ParamSpec("P")
T = TypeVar("T")

WORKER_NICENESS = 5  # below the web process: interactive requests win a contended CPU
RETRY_AFTER_S = 2
WATCH_SECONDS = 0.5

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_processes = 0


def _worker_init(server_pid: int) -> None:
    """In each worker: the worker ends with its server, even when the server is killed
    outright; Ctrl-C is the server's to handle, not the worker's; lower priority."""

    def watch() -> None:
        # a killed server cannot stop its pool: the worker, reparented, notices and leaves
        while os.getppid() == server_pid:
            time.sleep(WATCH_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import sharefab.optimize  # noqa: F401  (the solver's import at full priority, once)

    with contextlib.suppress(OSError):  # not permitted here: run at normal priority
        os.nice(WORKER_NICENESS)


def _pid() -> int:
    return os.getpid()


def start(processes: int) -> None:
    """Start `processes` solver workers (0: solve in the caller's thread) and wait until they
    answer (each imports the solver as it starts), so the first quote does not pay for it."""
    global _pool, _processes
    stop()
    if processes <= 0:
        return
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded server
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    for future in [pool.submit(_pid) for _ in range(processes)]:
        future.result()
    with _lock:
        _pool, _processes = pool, processes


def stop() -> None:
    """Stop the workers: solves not started are cancelled, one in progress finishes first."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def active() -> bool:
    """Whether solves go to worker processes."""
    return _pool is not None


def worker_pids() -> list[int]:
    """The worker processes' ids (empty without a pool)."""
    pool = _pool
    if pool is None:
        return []
    return sorted(p.pid for p in getattr(pool, "_processes", {}).values() if p.pid is not None)


def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker process when a pool is running, else here.

    A worker that dies mid-solve (killed, out of memory) costs only that solve: the caller gets
    503 with Retry-After, and the pool is rebuilt for the next one.
    """
    pool = _pool
    if pool is None:
        return fn(*args, **kwargs)
    try:
        return pool.submit(fn, *args, **kwargs).result()
    except BrokenProcessPool:
        _restart(pool)
        raise ServiceUnavailable(
            f"the solver process stopped during this request; ask again in {RETRY_AFTER_S} s",
            RETRY_AFTER_S,
        ) from None


def _restart(broken: ProcessPoolExecutor) -> None:
    """Replace a broken pool once (several callers may notice it at the same time)."""
    with _lock:
        if _pool is not broken:
            return
        processes = _processes
    broken.shutdown(wait=False, cancel_futures=True)
    start(processes)


__all__ = ["active", "run", "start", "stop", "worker_pids"]
