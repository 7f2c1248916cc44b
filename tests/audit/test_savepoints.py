"""Savepoints inside a transaction neither append to the audit chain early nor lose entries."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.audit.models import AuditEntry, AuditHead
from sharefab.audit.service import verify_chain
from sharefab.identity.models import Organization
from sharefab.kit.db import session_factory, unit_of_work


def _slugs(engine: Engine) -> list[str]:
    with unit_of_work(engine, write=False) as s:
        assert verify_chain(s).ok
        rows = s.scalars(select(AuditEntry).where(AuditEntry.entity == "organizations"))
        return sorted(str(e.after["slug"]) for e in rows if e.after)


def test_released_savepoint_does_not_take_the_chain_lock(engine: Engine) -> None:
    """After a savepoint is released the chain head is untouched until the real commit (on
    PostgreSQL another writer can still lock it: the old early append deadlocked writers)."""
    with unit_of_work(engine, write=False) as r:
        before = r.scalar(select(AuditHead.seq))
    s = session_factory(engine)()
    try:
        s.add(Organization(name="Outer", slug="outer"))
        s.flush()
        with s.begin_nested():
            s.add(Organization(name="Inner", slug="inner"))
        assert s.scalar(select(AuditHead.seq)) == before  # nothing appended yet
        if engine.dialect.name == "postgresql":
            with engine.connect() as other:
                other.execute(text("SET lock_timeout = '2s'"))
                other.execute(text("SELECT 1 FROM audit_head FOR UPDATE"))  # not held by s
                other.rollback()
        s.commit()
    finally:
        s.close()
    assert _slugs(engine) == ["inner", "outer"]


def _add_then_fail(s: Session) -> None:
    with s.begin_nested():
        s.add(Organization(name="Dropped", slug="dropped"))
        s.flush()
        raise RuntimeError("undo the savepoint")


def test_rolled_back_savepoint_keeps_the_rest_of_the_transaction_audited(engine: Engine) -> None:
    """A savepoint that rolls back forgets only its own changes; the others are still recorded."""
    with unit_of_work(engine) as s:
        s.add(Organization(name="Kept", slug="kept"))
        s.flush()
        with pytest.raises(RuntimeError):
            _add_then_fail(s)
        s.add(Organization(name="After", slug="after"))
    assert _slugs(engine) == ["after", "kept"]
