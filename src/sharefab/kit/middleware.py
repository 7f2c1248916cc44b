"""ASGI middleware: request ids, request body caps and per-client rate limits.

Each answers a refusal as problem+json (413 for an oversized body, 429 with `Retry-After` for a
burst), before the request reaches a route or the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
