"""Take the README's screenshots of the portals against the demo data.

Seeds the demo cluster into a temporary SQLite file (as `sharefab seed --book 30` does), serves
it on 127.0.0.1, signs in as each demo account in Debian's headless Chromium and saves PNGs to
docs/screenshots/. Run: `.venv/bin/python scripts/screenshots.py` (about a minute).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 960}


def _serve(db_path: Path) -> tuple[str, Any]:
    import uvicorn

    from sharefab.app import create_app
    from sharefab.kit.db import build_engine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(build_engine(f"sqlite:///{db_path}")),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _seed(db_path: Path) -> None:
    from sharefab.platform_cli import migrate_and_load_taxonomy, open_database
    from sharefab.seed import seed_cluster

    engine = open_database(f"sqlite:///{db_path}")
    migrate_and_load_taxonomy(engine)
    print(seed_cluster(engine, size="demo", seed=7, book=30).describe())
    engine.dispose()


def _page(browser: Any, base: str, email: str, locale: str = "en-US") -> Any:
    from sharefab.seed import DEMO_PASSWORD

    context = browser.new_context(base_url=base, viewport=VIEWPORT, locale=locale)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail" if locale.startswith("en") else "电子邮箱").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    return page


def _shot(page: Any, name: str, full: bool = False) -> None:
    page.wait_for_timeout(1500)  # let the charts finish their entry animation
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print("saved", path.relative_to(ROOT))


def main() -> int:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
        return 1
    os.environ.setdefault("SHAREFAB_SECRET_KEY", "screenshots-only-0123456789abcdef0123456789")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "demo.db"
        _seed(db_path)
        base, server = _serve(db_path)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)

            # Buyer: a draft order gets three quotes, shown side by side.
            buyer = _page(browser, base, "buyer@sharefab.demo")
            buyer.goto("/buyer")
            for row in buyer.locator("tr").filter(has_text="Draft").all()[:6]:
                href = row.locator("a").first.get_attribute("href")
                buyer.goto(href)
                buyer.get_by_role("button", name="Get quotes").click()
                buyer.wait_for_load_state()
                if buyer.locator("article.quote").count() >= 2:
                    break
            buyer.locator("#quotes").scroll_into_view_if_needed()
            buyer.evaluate("window.scrollTo(0, 0)")
            _shot(buyer, "buyer-quotes")

            # Provider: run a work order so the Gantt and earnings have colour, then shoot.
            provider = _page(browser, base, "provider@sharefab.demo")
            provider.goto("/provider/work-orders")
            for label in ("Start", "Complete", "Start"):
                button = provider.locator("tr[data-work-order] button").filter(has_text=label)
                if button.count():
                    button.first.click()
                    provider.wait_for_load_state()
            _shot(provider, "provider-work-orders")
            provider.goto("/provider/calendar")
            _shot(provider, "provider-calendar")

            # Operator: the dashboard (in Chinese too) and the plan explorer.
            operator = _page(browser, base, "operator@sharefab.demo")
            operator.goto("/plan")
            _shot(operator, "plan-explorer")
            chinese = _page(browser, base, "operator@sharefab.demo", locale="zh-CN")
            chinese.goto("/operator")
            _shot(chinese, "operator-dashboard-zh")
            browser.close()
        server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
