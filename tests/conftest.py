"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when given).

`SHAREFAB_TEST_POSTGRES_URL` adds PostgreSQL to every test that uses `engine`, `session` or
`client`. Under `CI=true` an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.app import create_app
from sharefab.audit import recorder as audit_recorder
from sharefab.capacity.service import sync_taxonomy
from sharefab.kit.db import Base, build_engine, session_factory, unit_of_work
from sharefab.kit.migrate import upgrade
from sharefab.kit.settings import get_settings
from sharefab.market import live
from sharefab.models import import_all_models
from tests.factories import Tenants, make_tenants

POSTGRES_URL = os.environ.get("SHAREFAB_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"
KEEP_TABLES = {"capabilities", "alembic_version"}

os.environ.setdefault("SHAREFAB_SECRET_KEY", "test-signing-key-not-for-production-0123456789")
os.environ.setdefault("SHAREFAB_RATE_LIMIT_PER_MINUTE", "1000000")
os.environ.setdefault("SHAREFAB_RATE_LIMIT_BURST", "1000000")
get_settings.cache_clear()
import_all_models()
audit_recorder.install()


def _backends() -> list[object]:
    backends: list[object] = ["sqlite"]
    if POSTGRES_URL or IN_CI:
        backends.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return backends


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head with the taxonomy loaded, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    with unit_of_work(engine) as session:
        sync_taxonomy(session)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """The PostgreSQL test database, migrated once per run."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but SHAREFAB_TEST_POSTGRES_URL is not set; start PostgreSQL")
        pytest.skip("SHAREFAB_TEST_POSTGRES_URL not set")
    engine = build_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at SHAREFAB_TEST_POSTGRES_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    with unit_of_work(engine) as session:
        sync_taxonomy(session)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    names = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    live.forget(engine)  # its live plan held the rows just wiped


@pytest.fixture(params=_backends())
def engine(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Engine]:
    """A clean migrated database with the taxonomy, on each configured backend."""
    if request.param == "sqlite":
        path = tmp_path / "sharefab.db"
        shutil.copyfile(sqlite_template, path)
        eng = build_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("postgres_engine")
        _truncate(eng)
        yield eng


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test commits what it wants kept."""
    s = session_factory(engine)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def tenants(engine: Engine) -> Tenants:
    """The operator and four organisations, each with a signed-in admin (see factories)."""
    return make_tenants(engine)


@pytest.fixture
def app_client(engine: Engine) -> Iterator[TestClient]:
    """An HTTP client with no credentials (anonymous)."""
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(app_client: TestClient, tenants: Tenants) -> TestClient:
    """An HTTP client signed in as an admin of `acme`, a provider and buyer."""
    app_client.headers.update(tenants["acme"].headers)
    return app_client
