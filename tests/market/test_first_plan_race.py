"""Two first accepts at once share the one active plan instead of one failing."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.kit.db import session_factory, unit_of_work
from sharefab.market import service
from sharefab.market.models import Plan


def test_concurrent_first_use_makes_one_active_plan(engine: Engine) -> None:
    """While one transaction holds a new plan 1 uncommitted, another asking for the active plan
    waits and then gets that same plan (it used to fail on the unique version: a 409 accept)."""
    first = session_factory(engine)()
    first.connection()
    mine = service.active_plan(first)
    found: list[int] = []
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with unit_of_work(engine) as s:
                found.append(service.active_plan(s).id)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(timeout=1.0)  # it waits on the first transaction (PostgreSQL: the unique version)
    first.commit()
    first.close()
    t.join(timeout=30)
    assert errors == []
    assert found == [mine.id]
    with unit_of_work(engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 1
