"""Fixtures of the page tests: signed-in page clients, a live server, a headless Chromium."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.factories import PASSWORD, Tenants
from tests.servers import serving

CHROMIUM = Path(os.environ.get("SHAREFAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@dataclass
class PageClient:
    """A browser-like client signed in to the pages, with its session's CSRF token."""

    http: TestClient
    csrf: str

    def get(self, url: str, **kw: Any) -> Any:
        return self.http.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """A form post carrying the session's CSRF token (redirects not followed)."""
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.http.post(url, data=body, follow_redirects=False, **kw)


def sign_in(app_client: TestClient, email: str) -> PageClient:
    """A new client of the same app, signed in through the login form."""
    http = TestClient(app_client.app, raise_server_exceptions=False)
    form = http.get("/login")
    resp = http.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    return PageClient(http, csrf_of(http.get("/").text))


@pytest.fixture
def pages(app_client: TestClient, tenants: Tenants) -> dict[str, PageClient]:
    """A signed-in page client per tenant (operator, acme, rival, buyer2, provider2)."""
    return {name: sign_in(app_client, t.email) for name, t in tenants.items()}


@pytest.fixture
def live_server(engine: Engine) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a thread); yields its base URL."""
    with serving(engine) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright.

    Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest, browser: Any) -> Iterator[dict[str, Any]]:
    """Pages registered here are saved to test-artifacts/ when the test fails."""
    pages: dict[str, Any] = {}
    yield pages
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in pages.items():
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}-{name}")
            try:
                page.screenshot(path=str(ARTIFACTS / f"{safe}.png"), full_page=True)
            except Exception as exc:  # the page may be gone; the test's own failure matters
                print(f"could not save a screenshot of {name}: {exc}")  # noqa: T201
