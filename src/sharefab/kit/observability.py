"""Operability: Prometheus metrics and structured JSON logs carrying the request id.

Metrics (scraped at `/metrics`): request latency per route template, method and status class;
solver runs and their durations; booking conflicts; idempotent replays. Logs are one JSON
object per line with the request id of the request that wrote them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# set (to an empty directory) before the server's processes start: their metrics are summed
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

HTTP_LATENCY = Histogram(
    "sharefab_http_request_duration_seconds",
    "Time to answer a request, by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SOLVER_RUNS = Histogram(
    "sharefab_solver_run_seconds",
    "Solver runs (quotes, replans, re-optimisations) and their durations",
    ["purpose", "status"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0),
)
BOOKING_CONFLICTS = Counter(
    "sharefab_booking_conflicts_total", "Accepts refused because a slot was taken meanwhile"
)
TRANSACTION_RETRIES = Counter(
    "sharefab_transaction_retries_total",
    "Write requests run again, whole, after their transaction lost a race",
    ["reason"],
)
IDEMPOTENT_REPLAYS = Counter(
    "sharefab_idempotent_replays_total", "Requests answered from a stored Idempotency-Key"
)


def metrics_response() -> Response:
    """The Prometheus exposition of every metric: of all the server's processes when it runs
    several (``PROMETHEUS_MULTIPROC_DIR``: each process writes its values there)."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Times every HTTP request under its route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        token = REQUEST_ID.set(scope.get("state", {}).get("request_id"))

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            template = route_template(scope)
            HTTP_LATENCY.labels(scope["method"], template, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )
            REQUEST_ID.reset(token)


def route_template(scope: Scope) -> str:
    """`/api/v1/orders/{order_id}` for `/api/v1/orders/42`; "unmatched" when no route matched
    (so unknown paths never grow the metric's label set)."""
    if scope.get("route") is None:
        return "unmatched"
    names = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    return "/".join(f"{{{names[p]}}}" if p in names else p for p in scope["path"].split("/"))


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """Send the platform's logs to stderr as JSON lines (idempotent)."""
    root = logging.getLogger("sharefab")
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


class timed:  # noqa: N801 - used as a context manager: `with timed("quote"):`
    """Observe a solver run's duration under `purpose`; the status is set by the caller."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.status = "ok"

    def __enter__(self) -> timed:
        self.started = time.perf_counter()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        status = "error" if exc_type else self.status
        SOLVER_RUNS.labels(self.purpose, status).observe(time.perf_counter() - self.started)
