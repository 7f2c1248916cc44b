"""A short Locust run (the load test's mix, low rate; Locust as its own process) against the
app served by uvicorn on PostgreSQL: no failure, no 5xx, and the database's integrity checks
pass afterwards. The stepped run is bench/reliability/load.py."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.integrity.service import run_checks
from sharefab.kit.db import unit_of_work
from tests.factories import Tenants, created, make_resource, make_site, make_window, order_body
from tests.servers import serving

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "bench" / "reliability" / "locustfile.py"
SECONDS = 20  # long enough that a contended machine, where a quote takes seconds, still plays 30+


@pytest.fixture
def pg_engine(engine: Engine) -> Engine:
    """The load test runs on PostgreSQL, as deployed."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the load test runs on PostgreSQL (set SHAREFAB_TEST_POSTGRES_URL)")
    return engine


@pytest.fixture
def served(pg_engine: Engine) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (in a thread of this process: real sockets, real
    connection pool; the code is already imported, so it starts at once)."""
    with serving(pg_engine, keep_alive=75) as url:
        yield url


def _market(app_client: TestClient, tenants: Tenants) -> None:
    """Two providers with mills and anodising lines open for a week; buyers with draft orders."""
    for name in ("provider2", "rival"):
        c = TestClient(app_client.app, headers=tenants[name].headers)
        site = make_site(c, city=name)
        for k in range(2):
            mill = make_resource(c, site["id"], name=f"{name} mill {k}")
            line = make_resource(c, site["id"], code="coating.anodize", kind="line")
            for day in range(7):
                make_window(c, mill["id"], 24 * day + 8, 24 * day + 20)
                make_window(c, line["id"], 24 * day + 8, 24 * day + 20)
    for name in ("buyer2", "acme"):
        c = TestClient(app_client.app, headers=tenants[name].headers)
        for k in range(3):
            created(c.post("/api/v1/orders", json=order_body(f"{name}-{k}", quantity=2 + k)))


def test_short_load_run(
    pg_engine: Engine, tenants: Tenants, app_client: TestClient, served: str, tmp_path: Path
) -> None:
    """Buyers browse, quote, order and accept for 20 s at ~6 req/s: every answer is expected
    (no failure, no 5xx), and afterwards no booking overlaps, plans are whole, the ledger
    balances and the audit chain verifies."""
    _market(app_client, tenants)
    buyers = tmp_path / "buyers.json"
    buyers.write_text(
        json.dumps(
            [{"authorization": tenants[n].headers["Authorization"]} for n in ("buyer2", "acme")]
        )
    )
    status_file = tmp_path / "status.json"
    env = {
        **os.environ,
        "SHAREFAB_LOAD_BUYERS": str(buyers),
        "SHAREFAB_LOAD_USER_RATE": "1",
        "SHAREFAB_LOAD_STATUS_FILE": str(status_file),
    }
    cmd = [
        str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", served,
        "-u", "6", "-r", "6", "-t", f"{SECONDS}s", "--only-summary", "--stop-timeout", "10",
        "--csv", str(tmp_path / "run"), "--loglevel", "WARNING",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=SECONDS + 60)
    with open(tmp_path / "run_stats.csv", encoding="utf-8") as fh:
        rows = {f"{r['Type']} {r['Name']}": r for r in csv.DictReader(fh)}
    total = rows.pop(" Aggregated")
    report = json.loads(status_file.read_text())
    assert int(total["Failure Count"]) == 0, done.stdout + done.stderr
    answers: dict[str, dict[str, int]] = report["status"]
    server_errors = {n: c for n, codes in answers.items() for c in codes if int(c) >= 500}
    assert not server_errors, answers
    assert int(total["Request Count"]) >= 30, answers
    groups = report["groups"]
    assert groups["read"]["count"] > 0
    assert groups["quote"]["count"] > 0, answers
    assert answers.get("POST /orders/{id}/quotes", {}).get("201", 0) > 0, answers
    with unit_of_work(pg_engine, write=False) as s:
        results = run_checks(s)
    assert [r.name for r in results if not r.ok] == [], [
        (r.name, [v.message for v in r.violations]) for r in results if not r.ok
    ]
