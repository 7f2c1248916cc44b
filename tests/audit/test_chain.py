"""The audit log: every change is recorded, and tampering is found by `sharefab audit verify`."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from sharefab.audit.models import AuditEntry
from sharefab.audit.service import verify_chain
from sharefab.cli import app
from sharefab.kit.db import unit_of_work
from tests.factories import Tenants, created, make_site


def _verify(engine: Engine) -> tuple[int, str]:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["audit", "verify", "--database", url])
    return result.exit_code, result.output


def _changes(client: TestClient) -> int:
    site = make_site(client)
    client.patch(f"/api/v1/sites/{site['id']}", json={"name": "Plant 9"})
    created(client.post("/api/v1/sites", json={"name": "B", "latitude": 1, "longitude": 2}))
    return int(site["id"])


def test_changes_are_recorded_with_actor(
    client: TestClient, engine: Engine, tenants: Tenants
) -> None:
    """Creating and renaming a site leaves entries naming who did it, before and after."""
    site_id = _changes(client)
    with unit_of_work(engine, write=False) as s:
        rows = list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "sites", AuditEntry.entity_id == str(site_id)
                )
            )
        )
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[1].before == {"name": "Plant 1"}
    assert (rows[1].after or {}).get("name") == "Plant 9"
    assert rows[1].actor_user_id == tenants["acme"].user_id
    assert rows[1].actor_organization_id == tenants["acme"].org_id
    assert rows[1].request_id


def test_secrets_never_enter_the_log(client: TestClient, engine: Engine) -> None:
    """Password hashes are redacted in the audit log."""
    body = {"email": "new@acme.example", "full_name": "N", "password": "long-enough-pw"}
    created(client.post("/api/v1/users", json=body))
    with unit_of_work(engine, write=False) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "users")).all()[-1]
    assert (entry.after or {}).get("password_hash") == "[redacted]"


def test_intact_chain_verifies(client: TestClient, engine: Engine) -> None:
    """An untouched log verifies with exit code 0."""
    _changes(client)
    code, out = _verify(engine)
    assert code == 0, out
    assert "intact" in out


def test_edited_row_is_found(client: TestClient, engine: Engine) -> None:
    """Changing what an entry says is reported at that entry's seq."""
    _changes(client)
    with engine.begin() as conn:
        seq = conn.execute(
            text("SELECT seq FROM audit_log WHERE entity = 'sites' ORDER BY seq LIMIT 1")
        ).scalar()
        conn.execute(text("UPDATE audit_log SET actor_user_id = 999 WHERE seq = :s"), {"s": seq})
    code, out = _verify(engine)
    assert code == 1
    assert f"seq {seq}" in out
    assert "changed" in out


def test_deleted_row_is_found(client: TestClient, engine: Engine) -> None:
    """Deleting an entry from the middle is reported at the gap."""
    _changes(client)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    code, out = _verify(engine)
    assert code == 1
    assert "seq 3 was expected" in out


def test_deleted_tail_is_found(client: TestClient, engine: Engine) -> None:
    """Deleting the newest entry is caught by the chain head."""
    _changes(client)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)"))
    code, out = _verify(engine)
    assert code == 1
    assert "head" in out


def test_reordered_rows_are_found(client: TestClient, engine: Engine) -> None:
    """Swapping the order of two entries breaks the chain."""
    _changes(client)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = -1"))
    with unit_of_work(engine, write=False) as s:
        result = verify_chain(s)
    assert not result.ok
    assert result.broken_seq in (2, 3)


def test_head_exports(client: TestClient, engine: Engine) -> None:
    """`sharefab audit head` prints the newest seq and hash as JSON."""
    _changes(client)
    url = engine.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(app, ["audit", "head", "--database", url]).output
    assert '"seq"' in out
    assert '"hash"' in out
