"""The ``dask`` engine: tasks on a Dask distributed cluster.

``DaskEngine(address="tcp://HOST:8786")`` connects to a running scheduler and fails within
``connect_timeout`` seconds, with a one-line message, when nothing answers there. Without an
address it starts a ``LocalCluster`` of ``workers`` single-threaded worker processes bound to
127.0.0.1 (no dashboard) and stops it on ``close()``. A task whose worker is lost is retried by
Dask on another worker or comes back as an error; either way the caller only loses that task.
See ``docs/engine.md`` for a scheduler and workers on several machines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sharefab.engine.base import Engine, EngineError
from sharefab.engine.local import peak_rss, warm_up


class DaskEngine(Engine):
    name = "dask"

    def __init__(
        self, address: str | None = None, workers: int = 2, connect_timeout: float = 10.0
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise EngineError("the dask engine needs `dask[distributed]` installed") from exc
        self.address = address
        self._cluster: Any = None
        if address:
            try:
                self.client = Client(address, timeout=connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise EngineError(
                    f"no Dask scheduler answers at {address} (waited {connect_timeout:g} s): "
                    "start one with `dask scheduler` and check host, port and firewall"
                ) from exc
        else:
            self._cluster = LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self.client = Client(self._cluster, set_as_default=False)
        self.client.run(warm_up)
        self._futures: dict[Any, int] = {}
        self._next = 0
        self._slots = 0
        self._slots_at = 0.0

    @property
    def slots(self) -> int:
        now = time.monotonic()
        if now - self._slots_at > 2.0 or not self._slots:
            try:
                self._slots = max(1, sum(self.client.nthreads().values()))
            except Exception:  # scheduler gone: keep the last known value
                self._slots = max(1, self._slots)
            self._slots_at = now
        return self._slots

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> int:
        self._next += 1
        future = self.client.submit(fn, arg, pure=False)
        self._futures[future] = self._next
        return self._next

    def wait(self, timeout: float) -> list[tuple[int, Any]]:
        from distributed import wait as dask_wait

        if not self._futures:
            return []
        try:
            with self.client.as_current():
                done, _ = dask_wait(
                    list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED"
                )
        except TimeoutError:
            return []
        out: list[tuple[int, Any]] = []
        for future in done:
            ticket = self._futures.pop(future)
            try:
                out.append((ticket, future.result(timeout=5)))
            except Exception as exc:  # task error, cancelled, or its worker was lost
                out.append((ticket, exc))
        return out

    def peak_memory_mb(self) -> float:
        try:
            peaks = self.client.run(peak_rss)
        except Exception:
            return 0.0
        return float(sum(mb for _, mb in peaks.values()))

    def describe(self) -> str:
        where = self.address or "LocalCluster on 127.0.0.1"
        return f"dask ({self.slots} workers, {where})"

    def close(self) -> None:
        for future in list(self._futures):
            future.cancel()
        self._futures.clear()
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
