"""Use cases on the audit log: verify the chain, export its head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharefab.audit.models import AuditEntry, AuditHead
from sharefab.audit.recorder import GENESIS, link_hash


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain: how many links held and the first that broke."""

    entries: int
    ok: bool
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS


def _as_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor_user_id": e.actor_user_id,
        "actor_organization_id": e.actor_organization_id,
        "request_id": e.request_id,
        "action": e.action,
        "entity": e.entity,
        "entity_id": e.entity_id,
        "before": e.before,
        "after": e.after,
    }


def verify_chain(session: Session, batch: int = 5000) -> Verification:
    """Walk the log in seq order and report the first link that does not hold."""
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    prev_hash, expected_seq, count, last_id = GENESIS, 1, 0, 0
    while True:
        stmt = select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id)
        rows = list(session.scalars(stmt.limit(batch)))
        if not rows:
            break
        for e in rows:
            last_id, count = e.id, count + 1
            reason = _link_problem(e, expected_seq, prev_hash)
            if reason:
                return Verification(count, False, e.seq, e.id, reason, head_seq, head_hash)
            prev_hash, expected_seq = e.hash, expected_seq + 1
        session.expunge_all()
    if expected_seq - 1 != head_seq or prev_hash != head_hash:
        reason = (
            f"the chain ends at seq {expected_seq - 1} but its head says seq {head_seq} "
            "(entries at the end were deleted, or the head was changed)"
        )
        return Verification(count, False, expected_seq, None, reason, head_seq, head_hash)
    return Verification(count, True, head_seq=head_seq, head_hash=head_hash)


def _link_problem(e: AuditEntry, expected_seq: int, prev_hash: str) -> str:
    """Why entry `e` breaks the chain, or '' when it holds."""
    if e.seq != expected_seq:
        return (
            f"entry id {e.id} has seq {e.seq} where seq {expected_seq} was expected "
            "(an entry was deleted, inserted or reordered)"
        )
    if e.prev_hash != prev_hash:
        return f"seq {e.seq} does not link to the entry before it"
    if link_hash(prev_hash, _as_dict(e)) != e.hash:
        return f"seq {e.seq} was changed after it was written (hash mismatch)"
    return ""


def chain_head(session: Session) -> dict[str, Any]:
    """The newest link (seq and hash), to anchor elsewhere."""
    head = session.get(AuditHead, 1)
    if head is None:
        return {"seq": 0, "hash": GENESIS, "at": None}
    last = session.scalar(select(AuditEntry).where(AuditEntry.seq == head.seq))
    return {"seq": head.seq, "hash": head.hash, "at": last.at.isoformat() if last else None}
