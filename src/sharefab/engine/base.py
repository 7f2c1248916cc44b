"""Where solver work runs: one small interface, two back ends (``local`` and ``dask``).

An ``Engine`` runs independent tasks - a picklable function of one picklable argument, in
practice ``solve_subproblem(sub)`` for one LNS neighbourhood - on its workers:

- ``submit(fn, arg) -> ticket`` starts one task; ``submit_batch(fn, args)`` starts several;
- ``wait(timeout)`` returns the tasks finished within ``timeout`` seconds as ``(ticket, result)``
  pairs, where a task that failed or whose worker was lost gives the exception instead of a
  result (the caller drops that task; nothing else is lost);
- ``slots`` is how many tasks are worth keeping in flight (the number of workers).

Engines are context managers; ``close()`` stops what the engine started. ``make_engine`` builds
one from the CLI's ``--engine``/``--address``/``--workers``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any


class EngineError(RuntimeError):
    """The engine cannot start or reach its workers; the message says what to check."""


class Engine(abc.ABC):
    """Runs independent tasks on ``slots`` workers (see the module docstring)."""

    name: str = "engine"

    @property
    @abc.abstractmethod
    def slots(self) -> int: ...

    @abc.abstractmethod
    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        """Start ``fn(arg)`` on a worker; return its ticket."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        """Tasks finished within ``timeout`` s: (ticket, result or the exception raised)."""

    def submit_batch(self, fn: Callable[[Any], Any], args: Iterable[Any]) -> list[int]:
        return [self.submit(fn, arg) for arg in args]

    def gather(self, tickets: Iterable[int], timeout: float) -> dict[int, Any]:
        """Wait for ``tickets`` (at most ``timeout`` s in all); results by ticket."""
        import time

        pending = set(tickets)
        out: dict[int, Any] = {}
        deadline = time.perf_counter() + timeout
        while pending and time.perf_counter() < deadline:
            for ticket, result in self.wait(max(0.01, deadline - time.perf_counter())):
                if ticket in pending:
                    pending.discard(ticket)
                    out[ticket] = result
        return out

    def describe(self) -> str:
        return f"{self.name} ({self.slots} worker{'s' if self.slots != 1 else ''})"

    def peak_memory_mb(self) -> float:
        """Peak resident memory of the engine's worker processes (0 when they are this one)."""
        return 0.0

    def close(self) -> None:  # noqa: B027 - engines without workers have nothing to stop
        """Stop the workers this engine started."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


ENGINES = ("local", "dask")


def make_engine(
    kind: str = "local",
    workers: int = 1,
    address: str | None = None,
    connect_timeout: float = 10.0,
) -> Engine:
    """``local`` (in process for 1 worker, else a process pool) or ``dask`` (a scheduler at
    ``address``, or a LocalCluster of ``workers`` processes on 127.0.0.1)."""
    if kind == "local":
        from sharefab.engine.local import InProcessEngine, ProcessPoolEngine

        if address:
            raise EngineError("--address only applies to --engine dask")
        return InProcessEngine() if workers <= 1 else ProcessPoolEngine(workers)
    if kind == "dask":
        from sharefab.engine.dask_engine import DaskEngine

        return DaskEngine(address=address, workers=workers, connect_timeout=connect_timeout)
    raise EngineError(f"unknown engine {kind!r}; use one of: {', '.join(ENGINES)}")
