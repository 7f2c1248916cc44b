"""Exception handlers that turn every error into `application/problem+json` (RFC 9457)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sharefab.kit.errors import (
    Conflict,
    InternalError,
    InvalidInput,
    LostRace,
    ServiceUnavailable,
    SharefabError,
    TooManyRequests,
    Unauthorized,
)
from sharefab.kit.middleware import RACE_HEADER

log = logging.getLogger("sharefab.api")
PROBLEM_JSON = "application/problem+json"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response with the problem media type."""
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "operations", 2, "seq")` -> `body.operations[2].seq`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if error.get("type") == "extra_forbidden":
        msg = "unknown field; remove it (see the schema at /docs)"
    elif error.get("type") == "missing":
        msg = "required; add this field"
    elif error.get("type") == "json_invalid":
        msg = "the body is not valid JSON; " + str(error.get("ctx", {}).get("error", "check it"))
    elif error.get("type") in {"int_type", "int_from_float"}:
        msg += " (money and counts are whole numbers; send minor units as an integer)"
    return msg


async def _sharefab_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SharefabError)
    headers: dict[str, str] = {}
    if isinstance(exc, LostRace):  # run again, whole, by RetryRacesMiddleware
        headers[RACE_HEADER.decode()] = "lost update"
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="sharefab"'
    if isinstance(exc, TooManyRequests):  # and ServiceUnavailable
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(exc.problem(request.url.path), headers=headers or None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": field_path(e.get("loc", ())), "message": _message(e)} for e in exc.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return problem_response(
        {
            "type": "https://sharefab.dev/problems/invalid-input",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{first['field']}: {first['message']}{more}",
            "instance": request.url.path,
            "errors": errors,
        }
    )


BODY_PARSE_FAILED = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 400 and detail == BODY_PARSE_FAILED:
        # FastAPI's answer to a body it cannot decode (bytes that are not UTF-8, a broken form):
        # the same 422 as any other unreadable body, naming the body as the field to fix.
        message = (
            "the body could not be read; send UTF-8 JSON with Content-Type: application/json "
            "(or a URL-encoded form where the operation takes one)"
        )
        return problem_response(
            {
                "type": "https://sharefab.dev/problems/invalid-input",
                "title": "Invalid input",
                "status": 422,
                "detail": f"body: {message}",
                "instance": request.url.path,
                "errors": [{"field": "body", "message": message}],
            }
        )
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}; see /docs for the API"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}; see /docs"
    return problem_response(
        {
            "type": "about:blank",
            "title": detail if len(detail) < 60 else "Request failed",
            "status": exc.status_code,
            "detail": detail,
            "instance": request.url.path,
        },
        headers=getattr(exc, "headers", None),
    )


# PostgreSQL errors that mean "another transaction won a race", not "this request is wrong":
# the request may succeed if it runs again from the start (kit/middleware.py).
RACES = {
    "40P01": "deadlock",
    "40001": "serialization failure",
    "23P01": "exclusion race",
}


def lost_race(exc: Exception) -> str | None:
    """The kind of race a database error reports, or None if it is not one."""
    return RACES.get(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")


def _translated(
    make: Callable[[], SharefabError], level: int, what: str
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler that logs an infrastructure exception and answers it as a typed error."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        race = lost_race(exc)
        log.log(
            logging.WARNING if race else level,
            "%s on %s %s: %s",
            race or what,
            request.method,
            request.url.path,
            exc,
            exc_info=level >= logging.ERROR and not race,
        )
        response = await _sharefab_error(request, make())
        if race:  # run again, whole, by RetryRacesMiddleware; the header is not sent out
            response.headers[RACE_HEADER.decode()] = race
        return response

    return handler


_integrity_error = _translated(
    lambda: Conflict(
        "the change conflicts with existing data (a duplicate, an overlap, or a row still in "
        "use); reload the objects involved and try again"
    ),
    logging.WARNING,
    "integrity error",
)
_out_of_range = _translated(
    lambda: InvalidInput(
        "a number in the request is out of range (ids, counts and amounts are 64-bit "
        "integers); check the ids and values you sent"
    ),
    logging.INFO,
    "value out of range",
)
_operational_error = _translated(
    lambda: ServiceUnavailable(
        "the database is busy or unreachable; retry in a few seconds", retry_after=2
    ),
    logging.ERROR,
    "database unavailable",
)
# A client that hangs up while its body is read (a timeout, a load tester stopping) is not a
# server failure: logged as information, answered as a client error nobody will read.
_client_gone = _translated(
    lambda: SharefabError("the client closed the connection before its request was read"),
    logging.INFO,
    "client disconnected",
)
_unexpected = _translated(
    lambda: InternalError("the server failed on this request and wrote nothing; it is logged"),
    logging.ERROR,
    "unexpected error",
)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem+json."""
    app.add_exception_handler(SharefabError, _sharefab_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
