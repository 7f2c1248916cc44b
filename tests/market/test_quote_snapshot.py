"""A quote is planned from a read snapshot: other clients' writes go on meanwhile, and the
order is re-checked before the quotes are stored (against a real server, on each backend)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.kit.db import unit_of_work
from sharefab.market import quoting
from sharefab.market.models import Quote
from tests.factories import (
    T0,
    Tenants,
    created,
    iso,
    make_resource,
    make_site,
    make_window,
    order_body,
)
from tests.servers import serving

HOLD_SECONDS = 8.0


@pytest.fixture
def server_url(engine: Engine) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a thread (real connections, real locks)."""
    with serving(engine) as url:
        yield url


class HeldSolve:
    """Wraps the real placement: the first one waits (at most HOLD_SECONDS) until the test has
    done its concurrent write, and records whether that write finished while it was held."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.solving = threading.Event()
        self.write_done = threading.Event()
        self.write_finished_during_solve: bool | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.solving.is_set():
            self.solving.set()
            self.write_finished_during_solve = self.write_done.wait(HOLD_SECONDS)
        return self.real(*args, **kwargs)


def _setup(app_client: TestClient, tenants: Tenants) -> tuple[TestClient, int, int, TestClient]:
    provider = TestClient(app_client.app, headers=tenants["provider2"].headers)
    site = make_site(provider)
    mill = make_resource(provider, site["id"])
    line = make_resource(provider, site["id"], code="coating.anodize", kind="line")
    for day in range(3):
        make_window(provider, mill["id"], 24 * day + 8, 24 * day + 20)
        make_window(provider, line["id"], 24 * day + 8, 24 * day + 20)
    buyer = TestClient(app_client.app, headers=tenants["buyer2"].headers)
    order = created(buyer.post("/api/v1/orders", json=order_body(quantity=4)))
    return provider, mill["id"], order["id"], buyer


def _quote_in_thread(
    url: str, headers: dict[str, str], order_id: int
) -> tuple[threading.Thread, list[httpx.Response]]:
    out: list[httpx.Response] = []

    def run() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            out.append(c.post(f"/api/v1/orders/{order_id}/quotes", headers=headers))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_writes_go_on_while_a_quote_solves(
    engine: Engine,
    tenants: Tenants,
    app_client: TestClient,
    server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A provider publishes a window and the buyer edits the order's notes while a quote is
    being solved: both finish at once (no write lock held by the solve), the quote still comes."""
    _provider, mill_id, order_id, _buyer = _setup(app_client, tenants)
    held = HeldSolve(quoting.place)
    monkeypatch.setattr(quoting, "place", held)
    thread, answers = _quote_in_thread(server_url, tenants["buyer2"].headers, order_id)
    assert held.solving.wait(30), "the quote never reached the placement"
    with httpx.Client(base_url=server_url, timeout=60) as c:
        started = time.monotonic()
        window = c.post(
            "/api/v1/capacity-windows",
            headers=tenants["provider2"].headers,
            json={
                "resource_id": mill_id,
                "starts_at": iso(T0 + timedelta(days=5, hours=8)),
                "ends_at": iso(T0 + timedelta(days=5, hours=20)),
            },
        )
        edit = c.patch(
            f"/api/v1/orders/{order_id}",
            headers=tenants["buyer2"].headers,
            json={"notes": "deliver to gate 2"},
        )
        took = time.monotonic() - started
    held.write_done.set()
    thread.join(60)
    assert window.status_code == 201, window.text
    assert edit.status_code == 200, edit.text
    assert held.write_finished_during_solve, f"the writes waited for the solve ({took:.1f} s)"
    assert took < HOLD_SECONDS / 2
    assert answers, "the quote request did not answer"
    assert answers[0].status_code == 201, answers[0].text
    assert answers[0].json()[0]["total_minor"] > 0


def test_order_changed_during_solve_is_409(
    engine: Engine,
    tenants: Tenants,
    app_client: TestClient,
    server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the buyer moves the due date while its quotes are solved, no stale quote is stored:
    the quote request answers 409 (ask again) and the next request quotes the new order."""
    _provider, _mill, order_id, buyer = _setup(app_client, tenants)
    held = HeldSolve(quoting.place)
    monkeypatch.setattr(quoting, "place", held)
    thread, answers = _quote_in_thread(server_url, tenants["buyer2"].headers, order_id)
    assert held.solving.wait(30), "the quote never reached the placement"
    with httpx.Client(base_url=server_url, timeout=60) as c:
        edit = c.patch(
            f"/api/v1/orders/{order_id}",
            headers=tenants["buyer2"].headers,
            json={"due_at": iso(T0 + timedelta(days=12))},
        )
    held.write_done.set()
    thread.join(60)
    assert edit.status_code == 200, edit.text
    assert answers, "the quote request did not answer"
    assert answers[0].status_code == 409, answers[0].text
    assert "changed while its quotes were being computed" in answers[0].json()["detail"]
    with unit_of_work(engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Quote)) == 0
    again = buyer.post(f"/api/v1/orders/{order_id}/quotes")
    assert again.status_code == 201, again.text
