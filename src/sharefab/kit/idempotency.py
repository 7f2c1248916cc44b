"""`Idempotency-Key` for POSTs that create something.

The first answer to a key is stored in the same transaction as the change it made, so a retry
after a timeout or a crash either finds the change and its answer, or finds neither:
- same key, same body: the first answer is replayed (`Idempotent-Replayed: true`);
- same key, another body: 422;
- same key while the first request is still running: 409 (PostgreSQL: an advisory lock; on
  SQLite writers are serialised, so the retry waits and then gets the replay).
Keys are scoped to the caller's credential, so tenants cannot collide or read each other's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sharefab.kit.api import SessionDep
from sharefab.kit.db import begin_write
from sharefab.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from sharefab.kit.idempotency_models import IdempotencyRecord
from sharefab.kit.observability import IDEMPOTENT_REPLAYS
from sharefab.kit.problems import PROBLEM_JSON, problem_response

T = TypeVar("T")

HEADER = "Idempotency-Key"
FINAL_REFUSALS = (Conflict, Forbidden, InvalidInput, NotFound)
MAX_KEY_LENGTH = 255


@dataclass
class Idempotency:
    """The key of one request (None without the header) and how to honour it."""

    session: Session
    key: str | None
    scope: str
    request_hash: str
    path: str = ""

    def run(self, produce: Callable[[], Any], status_code: int = 201) -> Any:
        """The stored answer for a repeated key, or `produce()` stored under the key.

        A final refusal (404, 403, 409, 422: what the request itself meets) is stored too, with
        nothing of the refused work: otherwise a retry that overtook its original (both
        queued in the server) could be refused while the original, run later, succeeds, and the
        client would hold a refusal for a key whose work was done. Transient answers (429, 503,
        409 "still being processed") are not stored; a retry runs again.
        """
        if self.key is None:
            return produce()
        replay = self._lookup()
        if replay is not None:
            return replay
        try:
            with self.session.begin_nested():
                result = produce()
        except FINAL_REFUSALS as exc:
            problem = exc.problem(self.path or None)
            self._store(exc.status, problem)
            return problem_response(problem)
        self._store(status_code, jsonable_encoder(result))
        return result

    def _store(self, status_code: int, answer: Any) -> None:
        body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
        self.session.add(
            IdempotencyRecord(
                scope=self.scope,
                key=self.key,
                request_hash=self.request_hash,
                status_code=status_code,
                response_body=body,
            )
        )
        self.session.flush()

    def run_read_first(
        self, compute: Callable[[], T], store: Callable[[T], Any], status_code: int = 201
    ) -> Any:
        """For a `read_first` endpoint: `compute()` in the read snapshot, then `store(result)` in
        a short write transaction; a repeated key is answered from the first answer (checked
        before computing, and again under the write lock, where the answer is stored)."""
        if self.key is not None:
            replay = self._lookup()
            if replay is not None:
                return replay
        computed = compute()
        begin_write(self.session)
        return self.run(lambda: store(computed), status_code)

    def _lookup(self) -> JSONResponse | None:
        if self.session.get_bind().dialect.name == "postgresql":
            lock = int.from_bytes(
                hashlib.sha256(f"{self.scope}|{self.key}".encode()).digest()[:8], "big", signed=True
            )
            got = self.session.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock}
            ).scalar()
            if not got:
                raise Conflict(
                    f"a request with Idempotency-Key '{self.key}' is still being processed; "
                    "wait for it, then retry with the same key to get its answer"
                )
        record = self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == self.scope, IdempotencyRecord.key == self.key
            )
        )
        if record is None:
            return None
        if record.request_hash != self.request_hash:
            raise InvalidInput(
                f"Idempotency-Key '{self.key}' was already used with a different request; "
                "use a new key for a new request",
                errors=[field_error("header.Idempotency-Key", "reused with another body")],
            )
        IDEMPOTENT_REPLAYS.inc()
        return JSONResponse(
            json.loads(record.response_body),
            status_code=record.status_code,
            headers={"Idempotent-Replayed": "true"},
            media_type=PROBLEM_JSON if record.status_code >= 400 else None,
        )


async def idempotency(request: Request, session: SessionDep) -> Idempotency:
    """The request's Idempotency-Key (if any), scoped to its credential."""
    key = request.headers.get(HEADER)
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
            errors=[field_error("header.Idempotency-Key", "malformed")],
        )
    credential = (
        request.headers.get("authorization") or request.headers.get("x-api-key") or "anonymous"
    )
    principal = getattr(request.state, "principal", None)
    scope = (
        f"org:{principal.organization_id}"
        if principal is not None
        else "cred:" + hashlib.sha256(credential.encode()).hexdigest()[:32]
    )
    body = await request.body()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    return Idempotency(
        session=session, key=key, scope=scope, request_hash=digest, path=request.url.path
    )


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
