"""Records every row change a session flushes as a link of the hash chain, in the same
transaction as the change itself (so an entry exists exactly when the change does).

The actor comes from `session.info["actor"]`, set by the request or job that owns the session.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from sharefab.audit.models import AuditEntry, AuditHead
from sharefab.kit.types import utcnow

GENESIS = "0" * 64
REDACTED = "[redacted]"
SECRET_COLUMNS = frozenset({"password_hash", "key_hash", "token_hash"})
NOT_AUDITED = frozenset({"audit_log", "audit_head", "login_throttles", "alembic_version"})


@dataclass(frozen=True)
class Actor:
    """Who causes the changes of a session."""

    user_id: int | None = None
    organization_id: int | None = None
    request_id: str | None = None


SYSTEM = Actor()


def set_actor(session: Session, actor: Actor) -> None:
    """Attribute the session's changes to `actor`."""
    session.info["actor"] = actor


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _row(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {
        col.key: REDACTED if col.key in SECRET_COLUMNS else _plain(getattr(obj, col.key))
        for col in mapper.column_attrs
    }


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        secret = attr.key in SECRET_COLUMNS
        before[attr.key] = REDACTED if secret else _plain(old)
        after[attr.key] = REDACTED if secret else _plain(new)
    return before, after


def _identity(obj: Any) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(k) for k in key)


def canonical(entry: dict[str, Any]) -> str:
    """The exact text an entry's hash covers."""
    fields = (
        "seq",
        "at",
        "actor_user_id",
        "actor_organization_id",
        "request_id",
        "action",
        "entity",
        "entity_id",
        "before",
        "after",
    )
    body = {k: _plain(entry[k]) for k in fields}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical text."""
    return hashlib.sha256((prev_hash + "\n" + canonical(entry)).encode()).hexdigest()


def _collect(session: Session) -> list[dict[str, Any]]:
    actor: Actor = session.info.get("actor", SYSTEM)
    now = utcnow()
    pending: list[dict[str, Any]] = []

    def add(action: str, obj: Any, before: Any, after: Any) -> None:
        table = getattr(obj, "__tablename__", None)
        if table is None or table in NOT_AUDITED:
            return
        pending.append(
            {
                "at": now,
                "actor_user_id": actor.user_id,
                "actor_organization_id": actor.organization_id,
                "request_id": actor.request_id,
                "action": action,
                "entity": table,
                "entity_id": _identity(obj),
                "before": before,
                "after": after,
            }
        )

    for obj in session.new:
        add("create", obj, None, _row(obj))
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                add("update", obj, before, after)
    for obj in session.deleted:
        add("delete", obj, _row(obj), None)
    return pending


PENDING = "audit_pending"
MARKS = "audit_savepoint_marks"


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    """Remember what this flush changed; the chain is written just before commit."""
    pending = _collect(session)
    if pending:
        session.info.setdefault(PENDING, []).extend(pending)


def _before_commit(session: Session) -> None:
    """Append the transaction's changes to the chain as the last thing before commit.

    Taking the chain's lock last (and holding it only until the commit) keeps every other lock
    a transaction takes (rows, exclusion checks) outside it: appends are serialised without
    ever being part of a deadlock.

    SQLAlchemy also fires this when a savepoint (`begin_nested`) is released; that is not the
    end of the transaction, so nothing is appended then (taking the chain's lock there would
    hold it while the transaction goes on to lock rows: a deadlock with other writers).
    """
    if session.in_nested_transaction():
        return
    session.flush()
    session.info.pop(MARKS, None)
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    conn = session.connection()
    head_stmt = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
    if conn.dialect.name == "postgresql":
        head_stmt = head_stmt.with_for_update()
    head = conn.execute(head_stmt).first()
    if head is None:
        conn.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    rows = []
    for entry in pending:
        seq += 1
        entry["seq"] = seq
        entry["prev_hash"] = prev
        entry["hash"] = prev = link_hash(prev, entry)
        rows.append(entry)
    conn.execute(insert(AuditEntry), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def _forget(session: Session, *_args: object) -> None:
    """A rolled-back transaction leaves nothing to record (a savepoint: see `_rolled_back`)."""
    if session.in_nested_transaction():
        return
    session.info.pop(PENDING, None)
    session.info.pop(MARKS, None)


def _savepoint(session: Session, transaction: SessionTransaction) -> None:
    """Remember how much was pending when a savepoint began."""
    if transaction.nested:
        marks = session.info.setdefault(MARKS, {})
        marks[id(transaction)] = len(session.info.get(PENDING, []))


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: forget only what was changed inside it."""
    if not previous.nested:
        return
    mark = session.info.get(MARKS, {}).pop(id(previous), None)
    if mark is not None and PENDING in session.info:
        del session.info[PENDING][mark:]


def install() -> None:
    """Record the changes of every session (idempotent)."""
    for name, fn in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_rollback", _forget),
        ("after_transaction_create", _savepoint),
        ("after_soft_rollback", _rolled_back),
    ):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
