"""A write whose transaction lost a race (deadlock, exclusion race) runs again, whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg.errors
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sharefab.capacity import service
from sharefab.capacity.models import Site
from sharefab.kit.middleware import RACE_HEADER

BODY = {"name": "Raced plant", "latitude": 31.3, "longitude": 120.6}


def _failing(times: int, error: Callable[[], Exception]) -> tuple[Callable[..., Any], list[int]]:
    """`create_site` that writes its row, then fails `times` times as if it lost a race."""
    real = service.create_site
    calls: list[int] = []

    def create_site(*args: Any, **kwargs: Any) -> Any:
        site = real(*args, **kwargs)
        calls.append(1)
        if len(calls) <= times:
            raise error()
        return site

    return create_site, calls


def _deadlock() -> Exception:
    return OperationalError("UPDATE bookings ...", {}, psycopg.errors.DeadlockDetected("deadlock"))


def _sites(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).where(Site.name == BODY["name"])) or 0


def test_a_deadlock_victim_runs_again_and_succeeds(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deadlocked twice, the request runs a third time: 201, one site, no trace of the races."""
    patched, calls = _failing(2, _deadlock)
    monkeypatch.setattr(service, "create_site", patched)
    res = client.post("/api/v1/sites", json=BODY, headers={"Idempotency-Key": "race-1"})
    assert res.status_code == 201, res.text
    assert len(calls) == 3
    assert RACE_HEADER.decode() not in res.headers
    assert _sites(session) == 1
    again = client.post("/api/v1/sites", json=BODY, headers={"Idempotency-Key": "race-1"})
    assert again.json() == res.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _sites(session) == 1


def test_a_request_that_keeps_losing_gets_503_and_writes_nothing(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After four lost attempts the client gets 503 with Retry-After; nothing was stored."""
    patched, calls = _failing(99, _deadlock)
    monkeypatch.setattr(service, "create_site", patched)
    res = client.post("/api/v1/sites", json=BODY)
    assert res.status_code == 503
    assert res.headers["content-type"].startswith("application/problem+json")
    assert int(res.headers["Retry-After"]) >= 1
    assert RACE_HEADER.decode() not in res.headers
    assert len(calls) == 4
    assert _sites(session) == 0


def test_an_ordinary_conflict_is_not_retried(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate (unique violation) is the request's own fault: one attempt, 409 at once."""

    def duplicate() -> Exception:
        return IntegrityError("INSERT ...", {}, psycopg.errors.UniqueViolation("duplicate"))

    patched, calls = _failing(99, duplicate)
    monkeypatch.setattr(service, "create_site", patched)
    res = client.post("/api/v1/sites", json=BODY)
    assert res.status_code == 409
    assert len(calls) == 1
    assert _sites(session) == 0
