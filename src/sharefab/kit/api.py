"""What every router shares: the request-scoped session and the error responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from sharefab.kit.db import WRITE_OPTION, session_factory
from sharefab.kit.settings import get_settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; it commits after the endpoint returns, before the response.

    Writes take SQLite's write lock at the first statement, so two writers never interleave.
    """
    engine = request.app.state.engine
    session = session_factory(engine)()
    if request.method not in READ_METHODS:
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

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found", "content": {"application/problem+json": {}}},
    409: {"description": "Conflict", "content": {"application/problem+json": {}}},
    422: {"description": "Invalid input", "content": {"application/problem+json": {}}},
}
