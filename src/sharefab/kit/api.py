"""What every router shares: the request-scoped session and the error responses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from sharefab.kit.db import WRITE_OPTION, begin_read_snapshot, session_factory
from sharefab.kit.settings import get_settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_FIRST = "__sharefab_read_first__"

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def read_first(endpoint: EndpointT) -> EndpointT:
    """Mark a writing endpoint whose request starts as a read snapshot (no write lock).

    For requests that compute for long (a solve) before they write: the endpoint reads and
    computes first, then calls `kit.db.begin_write` for a short write transaction that
    re-checks what it relies on. Put it below the route decorator.
    """
    setattr(endpoint, READ_FIRST, True)
    return endpoint


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; it commits after the endpoint returns, before the response.

    Writes take SQLite's write lock at the first statement, so two writers never interleave;
    endpoints marked `read_first` start with a read snapshot and take the lock later themselves.
    """
    engine = request.app.state.engine
    session = session_factory(engine)()
    if getattr(request.scope.get("endpoint"), READ_FIRST, False):
        begin_read_snapshot(session)
    elif request.method not in READ_METHODS:
        session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# At most this many requests hold a session (and so a pooled connection) at once; the others
# wait here without occupying a worker thread, so the threads that hold connections can always
# finish and commit (no starvation of the thread pool by requests queued for the pool).
SessionDep = Annotated[
    Session,
    Depends(get_session, scope="function", max_concurrency=get_settings().db_max_concurrency),
]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


# Every API route may answer these; each is application/problem+json (see kit/problems.py).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid credentials (sign in, or send an API key)"),
    403: _problem("The caller's role or organisation kind does not allow this"),
    404: _problem("Not found"),
    409: _problem("Conflict"),
    413: _problem("The request body is larger than the server's limit"),
    422: _problem("Invalid input"),
    429: _problem("Too many requests; see Retry-After"),
    503: _problem("The database is busy or unreachable; see Retry-After"),
}
