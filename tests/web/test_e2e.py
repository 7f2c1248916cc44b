"""End to end in a real headless Chromium against a live server on 127.0.0.1: a buyer orders
and accepts a quote, a provider starts and completes the booked operation, the operator sees
the order complete on the dashboard. A failing test leaves screenshots in test-artifacts/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.web.i18n import DISPLAY_TZ
from tests.factories import PASSWORD, Tenants, created, make_resource, make_site

pytestmark = pytest.mark.slow
TIMEOUT_MS = 30_000


def _sign_in(browser: Any, base: str, email: str, locale: str = "en-US") -> Any:
    context = browser.new_context(
        base_url=base, viewport={"width": 1280, "height": 900}, locale=locale
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    return page


def test_buyer_provider_operator_in_a_browser(
    browser: Any,
    screenshots: dict[str, Any],
    live_server: str,
    engine: Engine,
    app_client: TestClient,
    tenants: Tenants,
) -> None:
    """A buyer orders and accepts, a provider runs the work, the operator sees it complete."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the browser test runs once, on SQLite; the page tests cover PostgreSQL")
    # A provider offers a 5-axis mill for the next four days (set up through the API).
    api = TestClient(app_client.app, headers=tenants["provider2"].headers)
    site = make_site(api, city="Kunshan")
    mill = make_resource(api, site["id"], rate=12000, name="DMU 50 five-axis")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    created(
        api.post(
            "/api/v1/capacity-windows",
            json={
                "resource_id": mill["id"],
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=4)).isoformat(),
            },
        )
    )

    # The buyer signs in, finds the buyer portal from the home page and submits an order.
    buyer = _sign_in(browser, live_server, tenants["buyer2"].email)
    screenshots["buyer"] = buyer
    buyer.get_by_role("link", name="Buyer portal").first.click()
    buyer.get_by_role("link", name="New order").click()
    buyer.get_by_label("Part or product").fill("Gearbox housing")
    buyer.get_by_label("Material").fill("AL6061")
    buyer.get_by_label("Quantity", exact=True).fill("12")
    due = (now + timedelta(days=3)).astimezone().strftime("%Y-%m-%dT%H:%M")
    buyer.get_by_label("Due date").fill(due)
    buyer.get_by_label("Capability of step 1").select_option("milling.cnc.5axis")
    buyer.get_by_label("Setup minutes of step 1").fill("30")
    buyer.get_by_label("Seconds per part of step 1").fill("120")
    buyer.get_by_role("button", name="Submit order").click()
    buyer.get_by_role("button", name="Get quotes").click()
    quote = buyer.locator("article.quote").first
    quote.wait_for()
    assert "CN¥" in quote.inner_text()
    quote.get_by_role("button", name=re.compile("^Accept the")).click()
    buyer.get_by_role("status").filter(has_text="Quote accepted").wait_for()
    assert buyer.locator("h1 .badge").inner_text() == "Scheduled"
    reference = buyer.locator("h1").inner_text().split(" · ")[0]

    # The provider signs in and starts, then completes, the booked operation.
    provider = _sign_in(browser, live_server, tenants["provider2"].email)
    screenshots["provider"] = provider
    provider.get_by_role("link", name="Provider portal").first.click()
    provider.get_by_role("link", name="Work orders", exact=True).click()
    row = provider.locator("tr[data-work-order]").filter(has_text=reference)
    row.get_by_role("button", name="Start").click()
    provider.get_by_role("status").filter(has_text="started").wait_for()
    row = provider.locator("tr[data-work-order]").filter(has_text=reference)
    row.get_by_role("button", name="Complete").click()
    provider.get_by_role("status").filter(has_text="completed").wait_for()
    row = provider.locator("tr[data-work-order]").filter(has_text=reference)
    assert row.locator(".badge").inner_text() == "Done"

    # The operator sees the order complete on the dashboard, charts drawn.
    operator = _sign_in(browser, live_server, tenants["operator"].email)
    screenshots["operator"] = operator
    operator.get_by_role("link", name="Operator dashboard").first.click()
    done = operator.locator(f'tr[data-order="{reference}"] .badge')
    assert done.inner_text() == "Completed"
    operator.locator("#states[data-ready]").wait_for()
    completed = operator.locator(".kpi").filter(has_text="Orders completed")
    assert completed.locator(".value").inner_text() == "1"

    # The buyer's order page shows the order completed and the escrow paid out to the provider.
    buyer.reload()
    assert buyer.locator("h1 .badge").inner_text() == "Completed"
    escrow = buyer.get_by_text("released to providers").inner_text()
    assert "released to providers CN¥0.00" not in escrow


def test_provider_publishes_and_withdraws_capacity_by_drag(
    browser: Any,
    screenshots: dict[str, Any],
    live_server: str,
    engine: Engine,
    app_client: TestClient,
    tenants: Tenants,
) -> None:
    """Dragging across a resource's row publishes a window; clicking a window withdraws it."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the browser test runs once, on SQLite; the page tests cover PostgreSQL")
    api = TestClient(app_client.app, headers=tenants["provider2"].headers)
    site = make_site(api, city="Kunshan")
    mill = make_resource(api, site["id"], name="DMU 50 five-axis")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {
        "resource_id": mill["id"],
        "starts_at": (day + timedelta(days=2, hours=1)).isoformat(),
        "ends_at": (day + timedelta(days=2, hours=9)).isoformat(),
    }
    created(api.post("/api/v1/capacity-windows", json=window))

    def windows() -> int:
        resp = api.get("/api/v1/capacity-windows", params={"resource_id": mill["id"]})
        return int(resp.json()["total"])

    page = _sign_in(browser, live_server, tenants["provider2"].email)
    screenshots["provider"] = page
    page.goto("/provider/calendar")
    page.locator("#calendar[data-ready]").wait_for()

    def pixel(moment: datetime) -> tuple[float, float]:
        x, y = page.evaluate(
            """([t]) => echarts.getInstanceByDom(document.getElementById("calendar"))
                 .convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [t, 0])""",
            [moment.timestamp() * 1000],
        )
        box = page.locator("#calendar").bounding_box()
        return box["x"] + x, box["y"] + y

    # Drag over day 4, 01:00 to 09:00 UTC, on the mill's row: the publish form fills in.
    x0, y = pixel(day + timedelta(days=4, hours=1))
    x1, _ = pixel(day + timedelta(days=4, hours=9))
    page.mouse.move(x0, y - 4)
    page.mouse.down()
    page.mouse.move(x1, y + 4, steps=10)
    page.mouse.up()
    # The form holds a default span before any drag: wait for the drag's own values.
    page.locator("#publish-form.highlight").wait_for()
    # a screen pixel is ~20 minutes of the two-week calendar: the span is the drag's to 30 min
    for field, hour in (("#w-start", 1), ("#w-end", 9)):
        shown = datetime.fromisoformat(page.locator(field).input_value())
        dragged = (day + timedelta(days=4, hours=hour)).astimezone(DISPLAY_TZ)
        assert abs(shown - dragged.replace(tzinfo=None)) <= timedelta(minutes=30), field
    assert page.locator("#w-resource").input_value() == str(mill["id"])
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("status").filter(has_text="Published").wait_for()
    assert windows() == 2

    # Click the first window: the withdraw form selects it; withdraw.
    page.goto("/provider/calendar")
    page.locator("#calendar[data-ready]").wait_for()
    cx, cy = pixel(day + timedelta(days=2, hours=5))
    page.mouse.click(cx, cy)
    assert page.locator("#withdraw-id").input_value() != ""
    page.get_by_role("button", name="Withdraw", exact=True).click()
    page.get_by_role("status").filter(has_text="Window withdrawn").wait_for()
    assert windows() == 1
