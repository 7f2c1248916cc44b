"""`sharefab check` prints each check's outcome and exits 1 on any violation."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from sharefab.cli import app
from sharefab.integrity import run_checks
from sharefab.kit.db import unit_of_work
from tests.factories import Tenants
from tests.integrity.test_service import build_world

runner = CliRunner()


def test_check_passes_then_names_the_broken_check(
    app_client: TestClient, tenants: Tenants, engine: Engine
) -> None:
    """A healthy database passes all five checks; a tampered audit entry fails one, exit 1."""
    build_world(app_client, tenants)
    url = engine.url.render_as_string(hide_password=False)
    ok = runner.invoke(app, ["check", "--database", url])
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("ok  ") == 5
    assert "all 5 integrity checks passed" in ok.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action = 'tampered' WHERE seq = 2"))
    bad = runner.invoke(app, ["check", "--database", url])
    assert bad.exit_code == 1
    assert "FAIL audit-chain" in bad.output
    assert "broken at seq 2" in bad.output
    assert "1 of 5 integrity checks failed" in bad.output
    assert "Traceback" not in bad.output


def test_empty_database_passes(engine: Engine) -> None:
    """A freshly migrated database passes every check."""
    with unit_of_work(engine, write=False) as s:
        assert [r.name for r in run_checks(s) if not r.ok] == []
