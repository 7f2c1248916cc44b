"""Errors a user can cause: typed, carrying their HTTP status, rendered as problem+json (RFC 9457).

Each error's `detail` says what was wrong and what to change. `errors` lists the offending
fields as `{"field": "body.operations[2].predecessors", "message": "..."}`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SharefabError(Exception):
    """Base of every error a caller can cause; subclasses set the status and title."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    type_slug: ClassVar[str] = "bad-request"

    def __init__(
        self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {
            "type": f"https://sharefab.dev/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class InvalidInput(SharefabError):
    """The request is well-formed but a value breaks a rule (a window ending before it starts)."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class NotFound(SharefabError):
    """The object does not exist (or the caller may not know it exists)."""

    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(SharefabError):
    """The request clashes with the current state (overlap, duplicate, illegal transition)."""

    status = 409
    title = "Conflict"
    type_slug = "conflict"


def field_error(field: str, message: str) -> dict[str, str]:
    """One entry of a problem's `errors` list."""
    return {"field": field, "message": message}


class Unauthorized(SharefabError):
    """No valid credentials were presented."""

    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(SharefabError):
    """The caller is known but its role does not allow this."""

    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class TooManyRequests(SharefabError):
    """The caller sent too much too fast; `retry_after` says when to try again."""

    status = 429
    title = "Too many requests"
    type_slug = "rate-limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(TooManyRequests):
    """The database is busy or unreachable; `retry_after` says when to try again."""

    status = 503
    title = "Service unavailable"
    type_slug = "unavailable"


class LostRace(ServiceUnavailable):
    """Another transaction changed what this one was about to change, so nothing was written.

    The API runs the request again from the start (kit/middleware.py, RetryRacesMiddleware);
    if it keeps losing, the client gets 503 with Retry-After.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail, retry_after=1)


class InternalError(SharefabError):
    """The server failed; nothing was written (the transaction rolled back)."""

    status = 500
    title = "Internal error"
    type_slug = "internal"
