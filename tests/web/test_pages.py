"""Each role's pages through forms: they render for their role, keep tenants apart, need a
CSRF token on every form, speak Chinese or English, and drive the same services as the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.web.i18n import Formatter, from_accept_language
from tests.factories import (
    Tenants,
    created,
    make_resource,
    make_site,
    order_body,
    slipped_orders,
)
from tests.jobs.support import wait_for
from tests.web.conftest import PageClient


def _api(app_client: TestClient, tenants: Tenants, name: str) -> TestClient:
    return TestClient(app_client.app, headers=tenants[name].headers)


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _capacity(app_client: TestClient, tenants: Tenants, name: str = "provider2") -> int:
    """A provider with a 5-axis mill offered for the next four days; returns the resource id."""
    api = _api(app_client, tenants, name)
    site = make_site(api, city="Kunshan")
    mill = make_resource(api, site["id"], rate=12000)
    now = _now()
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
    return int(mill["id"])


class TestRolePages:
    def test_each_role_page_renders_for_its_role(self, pages: dict[str, PageClient]) -> None:
        """Buyer, provider and operator pages render (200, HTML) for organisations in the role."""
        for who, url in [
            ("buyer2", "/buyer"),
            ("buyer2", "/buyer/orders/new"),
            ("provider2", "/provider"),
            ("provider2", "/provider/calendar"),
            ("provider2", "/provider/work-orders"),
            ("provider2", "/provider/earnings"),
            ("operator", "/operator"),
            ("operator", "/plan"),
        ]:
            resp = pages[who].get(url)
            assert resp.status_code == 200, (who, url, resp.text[:500])
            assert resp.headers["content-type"].startswith("text/html")

    def test_home_links_to_the_viewers_portals(self, pages: dict[str, PageClient]) -> None:
        """A new user finds their role's pages from the home page (and not the others')."""
        buyer = pages["buyer2"].get("/").text
        assert 'href="/buyer"' in buyer
        assert 'href="/operator"' not in buyer
        operator = pages["operator"].get("/").text
        assert 'href="/operator"' in operator
        assert 'href="/plan"' in operator

    def test_another_roles_page_is_refused(self, pages: dict[str, PageClient]) -> None:
        """A buyer-only organisation gets a 403 page for the provider portal and dashboard."""
        assert pages["buyer2"].get("/provider").status_code == 403
        assert pages["buyer2"].get("/operator").status_code == 403
        assert pages["provider2"].get("/buyer").status_code == 403

    def test_anonymous_visitor_is_sent_to_sign_in(self, app_client: TestClient) -> None:
        """A page needing a session redirects to the sign-in form, remembering where to go."""
        resp = app_client.get("/buyer", follow_redirects=False)
        assert resp.status_code == 303
        assert resp.headers["location"] == "/login?next=/buyer"


class TestTenantIsolation:
    def test_another_buyers_order_is_a_404_page(
        self, app_client: TestClient, tenants: Tenants, pages: dict[str, PageClient]
    ) -> None:
        """Acme's order page does not exist for buyer2: a 404 page, as in the API."""
        acme = _api(app_client, tenants, "acme")
        order = created(acme.post("/api/v1/orders", json=order_body("PO-SECRET")))
        resp = pages["buyer2"].get(f"/buyer/orders/{order['id']}")
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("text/html")
        assert "PO-SECRET" not in resp.text
        assert pages["acme"].get(f"/buyer/orders/{order['id']}").status_code == 200
        quotes = pages["buyer2"].post(f"/buyer/orders/{order['id']}/quotes")
        assert quotes.status_code == 404

    def test_another_providers_work_and_resources_are_404(
        self, app_client: TestClient, tenants: Tenants, pages: dict[str, PageClient]
    ) -> None:
        """Rival cannot report events or breakdowns on provider2's resources (404 pages)."""
        mill = _capacity(app_client, tenants)
        resp = pages["rival"].post("/provider/breakdown", {"resource_id": mill, "repair_hours": 2})
        assert resp.status_code == 404
        resp = pages["rival"].post("/provider/work-orders/999/events", {"type": "started"})
        assert resp.status_code == 404


class TestCsrf:
    def test_forms_without_the_token_are_refused(
        self, app_client: TestClient, tenants: Tenants, pages: dict[str, PageClient]
    ) -> None:
        """Posting a page form without the session's CSRF token changes nothing (403)."""
        mill = _capacity(app_client, tenants)
        http = pages["provider2"].http
        start = (_now() + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M")
        end = (_now() + timedelta(days=6, hours=4)).strftime("%Y-%m-%dT%H:%M")
        form = {"resource_id": mill, "starts_at": start, "ends_at": end}
        assert http.post("/provider/windows", data=form).status_code == 403
        forged = {**form, "csrf_token": "forged"}
        assert http.post("/provider/windows", data=forged).status_code == 403
        buyer = pages["buyer2"].http
        assert buyer.post("/buyer/orders", data={"title": "x"}).status_code == 403
        assert pages["operator"].http.post("/operator/reoptimise").status_code == 403
        ok = pages["provider2"].post("/provider/windows", form)
        assert ok.status_code == 303


class TestLanguages:
    def test_language_switch_gives_chinese_labels(self, pages: dict[str, PageClient]) -> None:
        """The language switch sets a cookie; the pages then speak Simplified Chinese."""
        page = pages["buyer2"]
        assert "Buyer portal" in page.get("/buyer").text
        resp = page.get("/lang/zh_Hans?next=/buyer", follow_redirects=False)
        assert resp.status_code == 303
        assert resp.headers["location"] == "/buyer"
        text = page.get("/buyer").text
        assert "采购方门户" in text
        assert 'lang="zh-Hans"' in text
        page.get("/lang/en")
        assert "Buyer portal" in page.get("/buyer").text

    def test_accept_language_is_the_default(self, pages: dict[str, PageClient]) -> None:
        """Without a choice, the browser's Accept-Language picks Chinese or English."""
        page = pages["provider2"]
        zh = page.get("/provider", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        assert "服务方门户" in zh.text
        en = page.get("/provider", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert "Provider portal" in en.text

    def test_accept_language_ranking(self) -> None:
        """Quality values rank the languages; unknown ones fall back to English."""
        assert from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_Hans"
        assert from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
        assert from_accept_language("fr-FR, zh;q=0.5") == "zh_Hans"
        assert from_accept_language("de, fr") == "en"
        assert from_accept_language(None) == "en"

    def test_money_and_dates_per_locale(self) -> None:
        """Money in minor units and dates read naturally in each locale."""
        moment = datetime(2027, 3, 1, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
        assert Formatter("en").money(1234567) == "CN¥12,345.67"
        assert Formatter("zh_Hans").money(1234567) == "¥12,345.67"
        assert Formatter("en").datetime(moment) == "Mar 1, 2027 10:30"
        assert Formatter("zh_Hans").datetime(moment) == "2027年3月1日 10:30"


class TestFlow:
    def test_order_to_completion_through_the_pages(
        self, app_client: TestClient, tenants: Tenants, pages: dict[str, PageClient]
    ) -> None:
        """Order form, quotes, accept, start and complete, dashboard: all through page forms."""
        _capacity(app_client, tenants)
        buyer, provider, operator = pages["buyer2"], pages["provider2"], pages["operator"]
        due = (_now() + timedelta(days=3)).astimezone().strftime("%Y-%m-%dT%H:%M")
        resp = buyer.post(
            "/buyer/orders",
            {
                "reference": "PO-WEB-1",
                "title": "Gearbox housing",
                "material": "AL6061",
                "quantity": "10",
                "due_at": due,
                "op_capability": ["milling.cnc.5axis", ""],
                "op_setup_minutes": ["30", ""],
                "op_unit_seconds": ["120", ""],
                "op_quantity": ["", ""],
            },
        )
        assert resp.status_code == 303, resp.text
        order_url = resp.headers["location"]
        order_id = int(order_url.rsplit("/", 1)[1])
        assert buyer.post(f"{order_url}/quotes").status_code == 303
        page = buyer.get(order_url).text
        assert "Accept this quote" in page
        quote_id = int(page.split('action="/buyer/quotes/')[1].split("/")[0])
        assert buyer.post(f"/buyer/quotes/{quote_id}/accept").status_code == 303
        assert 'class="badge scheduled"' in buyer.get(order_url).text

        work = provider.get("/provider/work-orders").text
        booking_id = int(work.split('data-work-order="')[1].split('"')[0])
        for kind in ("started", "completed"):
            resp = provider.post(f"/provider/work-orders/{booking_id}/events", {"type": kind})
            assert resp.status_code == 303
            assert resp.headers["location"] == "/provider/work-orders"
        assert 'class="badge done"' in provider.get("/provider/work-orders").text
        assert 'class="badge completed"' in buyer.get(order_url).text
        earnings = provider.get("/provider/earnings").text
        assert "Paid to provider" in earnings

        board = operator.get("/operator").text
        row = board.split('data-order="PO-WEB-1"')[1].split("</tr>")[0]
        assert 'class="badge completed"' in row
        plan = operator.get(f"/plan?order={order_id}", headers={"HX-Request": "true"})
        assert plan.status_code == 200
        assert "<html" not in plan.text  # HTMX gets the chart fragment only
        assert "PO-WEB-1" in plan.text

    def test_late_quote_says_what_it_allows_for_slip(
        self, app_client: TestClient, tenants: Tenants, engine: Engine, pages: dict[str, PageClient]
    ) -> None:
        """When late plans have lately slipped half their lead time, a quote that cannot meet
        the due date shows the hours it added to its planned finish, and why."""
        _capacity(app_client, tenants)
        slipped_orders(engine, tenants["acme"].org_id, [0.5] * 40)
        now = _now()
        body = order_body("PO-LATE", release_at=now.isoformat())
        body["due_at"] = (now + timedelta(hours=1)).isoformat()  # a day's milling: late
        body["operations"] = body["operations"][:1]
        order = created(_api(app_client, tenants, "buyer2").post("/api/v1/orders", json=body))
        buyer = pages["buyer2"]
        assert buyer.post(f"/buyer/orders/{order['id']}/quotes").status_code == 303
        page = buyer.get(f"/buyer/orders/{order['id']}").text
        assert "h after the planned finish: late orders' plans have slipped that far" in page

    def test_failed_action_shows_the_reason_and_changes_nothing(
        self, app_client: TestClient, tenants: Tenants, pages: dict[str, PageClient]
    ) -> None:
        """Asking for quotes with no capacity anywhere shows why, and the order stays a draft."""
        buyer = pages["buyer2"]
        order = created(
            _api(app_client, tenants, "buyer2").post("/api/v1/orders", json=order_body("PO-NOCAP"))
        )
        resp = buyer.post(f"/buyer/orders/{order['id']}/quotes")
        assert resp.status_code == 303
        page = buyer.get(f"/buyer/orders/{order['id']}").text
        assert "no resource can do it" in page
        assert 'class="badge draft"' in page

    def test_order_form_errors_keep_the_input(self, pages: dict[str, PageClient]) -> None:
        """An order without a routing step is re-shown with the reason and the typed values."""
        resp = pages["buyer2"].post(
            "/buyer/orders",
            {
                "reference": "PO-EMPTY",
                "title": "Bracket",
                "quantity": "5",
                "due_at": "2027-03-10T18:00",
                "op_capability": [""],
            },
        )
        assert resp.status_code == 422
        assert "routing" in resp.text
        assert 'value="Bracket"' in resp.text

    def test_reoptimise_starts_a_job_the_panel_follows(self, pages: dict[str, PageClient]) -> None:
        """The dashboard's re-optimise button (an HTMX post) starts a job and answers with the
        jobs panel, which polls until the job's report shows."""
        resp = pages["operator"].post("/operator/reoptimise")
        assert resp.status_code == 200
        assert 'id="jobs-panel"' in resp.text
        assert 'data-state="queued"' in resp.text or 'data-state="running"' in resp.text
        assert 'hx-trigger="every 2s"' in resp.text
        wait_for(
            lambda: "Re-optimisation finished" in pages["operator"].get("/operator/jobs").text,
            what="the report in the jobs panel",
        )

    def test_the_search_box_asks_the_job_for_the_search(
        self, pages: dict[str, PageClient], app_client: TestClient, tenants: Tenants
    ) -> None:
        """Ticking "with the cluster planner's search" starts a job that asks for it; the
        plain button starts one that does not."""
        page = pages["operator"].get("/operator").text
        assert 'name="search"' in page
        assert "with the cluster planner" in page
        op = _api(app_client, tenants, "operator")
        for data, wanted in (({"search": "1"}, True), ({}, False)):
            assert pages["operator"].post("/operator/reoptimise", data).status_code == 200
            job = op.get("/api/v1/jobs", params={"limit": 1}).json()["items"][0]
            assert job["params"]["search"] is wanted
            wait_for(
                lambda job_id=job["id"]: (
                    op.get(f"/api/v1/jobs/{job_id}").json()["state"] not in ("queued", "running")
                ),
                what="the job to end",
            )


class TestAssets:
    def test_vendored_assets_are_served(self, app_client: TestClient) -> None:
        """ECharts and htmx come from the package (no CDN): a closed network works."""
        for path in (
            "/static/vendor/echarts/echarts.min.js",
            "/static/vendor/htmx/htmx.min.js",
            "/static/app.js",
            "/static/app.css",
        ):
            assert app_client.get(path).status_code == 200, path
        page = app_client.get("/login").text
        assert "//cdn" not in page
        assert "https://" not in page.split("<body")[0]


class TestProviderSetup:
    def test_sites_and_resources_are_added_by_form(self, pages: dict[str, PageClient]) -> None:
        """A provider adds a site, then a resource at it, and sees both on its overview."""
        provider = pages["provider2"]
        site = {"name": "Plant 7", "city": "Taicang", "latitude": "31.45", "longitude": "121.1"}
        assert provider.post("/provider/sites", site).status_code == 303
        page = provider.get("/provider").text
        site_id = page.split('id="r-site" name="site_id" required><option value="')[1]
        resource = {
            "site_id": site_id.split('"')[0],
            "name": "Trumpf TruLaser 3030",
            "kind": "machine",
            "hourly_rate": "180",
            "capability": "sheet.laser_cut",
            "materials": "SPCC, SUS304",
        }
        assert provider.post("/provider/resources", resource).status_code == 303
        page = provider.get("/provider").text
        assert "Plant 7" in page
        assert "Trumpf TruLaser 3030" in page
        assert "sheet.laser_cut" in page

    def test_a_bad_form_says_what_to_fix(self, pages: dict[str, PageClient]) -> None:
        """A site without coordinates is refused with a message; nothing is added."""
        provider = pages["provider2"]
        resp = provider.post("/provider/sites", {"name": "Nowhere"})
        assert resp.status_code == 303
        page = provider.get("/provider").text
        assert "latitude and longitude" in page
        assert "Nowhere" not in page.split("Sites and resources")[1].split("Add a resource")[0]


class TestCatalog:
    def test_every_message_has_a_chinese_translation_compiled(self) -> None:
        """Every string of the pages is translated in zh_Hans, and the shipped .mo matches."""
        from babel.messages.pofile import read_po

        from sharefab.web.i18n import LOCALE_DIR, translations

        with open(LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po", "rb") as f:
            catalog = read_po(f, locale="zh_Hans")
        with open(LOCALE_DIR / "messages.pot", "rb") as f:
            template = read_po(f)
        compiled = translations("zh_Hans")
        assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}
        for message in catalog:
            if message.id:
                assert message.string, f"{message.id!r} has no Chinese translation"
                assert compiled.gettext(str(message.id)) == message.string, (
                    f"{message.id!r}: the .mo is stale; run pybabel compile"
                )

    def test_every_string_in_the_sources_is_in_the_catalog(self) -> None:
        """No label of a template or page module was added without a Chinese translation."""
        from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

        from sharefab.web.i18n import LOCALE_DIR, translations

        keywords = {**DEFAULT_KEYWORDS, "translate": (2,), "N_": None}
        found = list(
            extract_from_dir(
                str(LOCALE_DIR.parent),
                method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2")],
                options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
                keywords=keywords,
            )
        )
        assert len(found) > 200  # the extraction saw the templates and the page modules
        compiled = translations("zh_Hans")
        missing = sorted(
            {str(m[2]) for m in found if isinstance(m[2], str) and compiled.gettext(m[2]) == m[2]}
        )
        assert missing == [], "add these to messages.po and compile: " + "; ".join(missing)


class _Controls(HTMLParser):
    """Collects form controls and the ids that a <label for=...> names."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.labelled.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "wrapped": "1" if self.label_depth else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1


class TestAccessibility:
    def test_every_control_has_a_label(
        self, app_client: TestClient, tenants: Tenants, pages: dict[str, PageClient]
    ) -> None:
        """Each visible input, select and textarea of every page has a label or aria-label."""
        _capacity(app_client, tenants)
        for who, url in [
            ("buyer2", "/buyer/orders/new"),
            ("provider2", "/provider"),
            ("provider2", "/provider/calendar"),
            ("provider2", "/provider/work-orders"),
            ("operator", "/plan"),
        ]:
            parser = _Controls()
            parser.feed(pages[who].get(url).text)
            assert parser.controls, url
            for control in parser.controls:
                named = (
                    control.get("aria-label")
                    or control.get("wrapped")
                    or control.get("id") in parser.labelled
                )
                assert named, f"{url}: control {control} has no label"
