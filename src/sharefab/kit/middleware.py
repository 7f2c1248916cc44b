"""ASGI middleware: request ids, request body caps, per-client rate limits, and whole-request
retries of transactions that lost a race.

Each answers a refusal as problem+json (413 for an oversized body, 429 with `Retry-After` for a
burst), before the request reaches a route or the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sharefab.kit.observability import TRANSACTION_RETRIES

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


async def _send_problem(
    send: Send, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    raw = [(b"content-type", b"application/problem+json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body.encode()})


class RequestIdMiddleware:
    """Gives each request an id (or keeps a sane `X-Request-ID`) and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            given if given and len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
        )
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyTooLarge(Exception):
    """The client sent more bytes than the cap."""


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, whether or not they declare a length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = (
            f"the request body is larger than {self.max_bytes} bytes; send less "
            "(split the work into several requests)"
        )
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_problem(send, 413, "Payload too large", detail)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_problem(send, 413, "Payload too large", detail)


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; thread-safe."""

    rate: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str, now: float | None = None) -> float:
        """0 if a request may pass now, else the seconds until one may."""
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, last = self.buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                if len(self.buckets) > 100_000:  # forget idle clients
                    self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 60}
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class RateLimitMiddleware:
    """Per-client token buckets (by credential, else by address): bursts get 429."""

    def __init__(self, app: ASGIApp, per_minute: int, burst: int) -> None:
        self.app = app
        self.bucket = TokenBucket(rate=per_minute / 60.0, burst=burst)

    @staticmethod
    def client_key(scope: Scope) -> str:
        headers: dict[bytes, Any] = dict(scope["headers"])
        credential = headers.get(b"authorization") or headers.get(b"x-api-key")
        if credential:
            return "c:" + hashlib.sha256(credential).hexdigest()[:32]
        client = scope.get("client")
        return "a:" + (client[0] if client else "unknown")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.bucket.take(self.client_key(scope))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            await _send_problem(
                send,
                429,
                "Too many requests",
                f"too many requests from this client; wait {retry} s and slow down",
                {"Retry-After": str(retry)},
            )
            return
        await self.app(scope, receive, send)


# Set by the problem handlers (kit/problems.py) on an answer caused by a lost race; read and
# removed by RetryRacesMiddleware, never sent to the client.
RACE_HEADER = b"x-sharefab-race"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RetryRacesMiddleware:
    """Runs a write request again, whole, when its transaction lost a race to another one.

    On PostgreSQL two transactions can deadlock (one is rolled back), or slip past each other's
    checks so that the bookings' exclusion constraint refuses the second. Nothing of the loser
    was written, so the honest fix is to run the request again from the start, with a new
    transaction that sees the winner's rows: it then succeeds, or gets a final answer (stored
    under its Idempotency-Key like any other). Retrying only the failed statement inside the
    old transaction is not enough: the loser keeps its locks and meets the same cycle again.

    The body is read once and replayed; an attempt's answer reaches the client only if it is
    not marked as a lost race, or if it is the last attempt (then 503 or 409 as before).
    """

    def __init__(self, app: ASGIApp, attempts: int = 4, base_delay: float = 0.05) -> None:
        self.app = app
        self.attempts = max(1, attempts)
        self.base_delay = base_delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        body: list[Message] = []
        while True:
            message = await receive()
            body.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        for attempt in range(self.attempts):
            lost = await self._attempt(
                scope, body, receive, send, last=attempt + 1 == self.attempts
            )
            if lost is None:
                return
            TRANSACTION_RETRIES.labels(lost).inc()
            await anyio.sleep(self.base_delay * 2**attempt * random.uniform(0.5, 1.5))

    async def _attempt(
        self, scope: Scope, body: list[Message], receive: Receive, send: Send, last: bool
    ) -> str | None:
        """One run of the app; the race's reason if its answer was held back for a retry."""
        pending = iter(body)
        lost: str | None = None

        async def replay() -> Message:
            return next(pending, None) or await receive()

        async def forward(message: Message) -> None:
            nonlocal lost
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                race = next((v for k, v in headers if k == RACE_HEADER), None)
                if race is not None:
                    message = {**message, "headers": [h for h in headers if h[0] != RACE_HEADER]}
                    if not last:
                        lost = race.decode("latin-1")
                        return
            if lost is None:
                await send(message)

        await self.app({**scope}, replay, forward)
        return lost
