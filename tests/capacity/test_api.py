"""Capabilities, sites, resources, capacity windows and capacity search through the API."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharefab.capacity.models import Resource, ResourceCapability
from tests.factories import (
    T0,
    Tenants,
    iso,
    make_resource,
    make_site,
    make_window,
    problem,
)


class TestCapabilities:
    def test_taxonomy_is_served(self, client: TestClient) -> None:
        """The shipped taxonomy has at least 40 codes, readable with Chinese names."""
        page = client.get("/api/v1/capabilities", params={"limit": 500}).json()
        assert page["total"] >= 40
        five_axis = client.get("/api/v1/capabilities/milling.cnc.5axis").json()
        assert five_axis["family"] == "machining"
        assert five_axis["name_zh"]

    def test_filter_by_family(self, client: TestClient) -> None:
        """Filtering by family returns only that family's codes."""
        page = client.get("/api/v1/capabilities", params={"family": "inspection"}).json()
        assert page["items"]
        assert all(c["code"].startswith("inspection.") for c in page["items"])

    def test_unknown_code_suggests(self, client: TestClient) -> None:
        """An unknown code answers 404 with the closest codes suggested."""
        body = problem(client.get("/api/v1/capabilities/milling.cnc.5axes"), 404)
        assert "milling.cnc.5axis" in body["detail"]


class TestSites:
    def test_crud(self, client: TestClient) -> None:
        """A site is created, listed by owner, updated and deleted."""
        site = make_site(client, city="Kunshan", region="Suzhou")
        listed = client.get("/api/v1/sites").json()
        assert [s["id"] for s in listed["items"]] == [site["id"]]
        resp = client.patch(f"/api/v1/sites/{site['id']}", json={"name": "Plant 2"})
        assert resp.json()["name"] == "Plant 2"
        assert client.delete(f"/api/v1/sites/{site['id']}").status_code == 204
        problem(client.get(f"/api/v1/sites/{site['id']}"), 404)

    def test_bad_coordinates_and_zone(self, client: TestClient) -> None:
        """A latitude out of range and an unknown time zone are each named."""
        body = {"name": "X", "latitude": 95, "longitude": 120}
        assert problem(client.post("/api/v1/sites", json=body), 422)["errors"][0]["field"] == (
            "body.latitude"
        )
        body = {**body, "latitude": 31, "timezone": "Mars/Olympus"}
        assert "Mars/Olympus" in problem(client.post("/api/v1/sites", json=body), 422)["detail"]

    def test_owner_cannot_be_chosen(self, client: TestClient) -> None:
        """A site always belongs to the caller: naming another owner is refused."""
        body = {"organization_id": 2, "name": "X", "latitude": 31, "longitude": 120}
        err = problem(client.post("/api/v1/sites", json=body), 422)
        assert err["errors"][0]["field"] == "body.organization_id"

    def test_foreign_site_is_hidden(self, client: TestClient, tenants: Tenants) -> None:
        """Another organisation's site is 404 to read or change, and absent from lists."""
        theirs = make_site(client.__class__(client.app, headers=tenants["rival"].headers))
        problem(client.get(f"/api/v1/sites/{theirs['id']}"), 404)
        problem(client.patch(f"/api/v1/sites/{theirs['id']}", json={"name": "mine"}), 404)
        assert client.get("/api/v1/sites").json()["total"] == 0
        op = tenants["operator"].headers
        assert client.get(f"/api/v1/sites/{theirs['id']}", headers=op).status_code == 200
        problem(client.patch(f"/api/v1/sites/{theirs['id']}", json={"name": "x"}, headers=op), 403)


class TestResources:
    def test_create_takes_owner_from_site(self, client: TestClient) -> None:
        """A resource belongs to its site's organisation and lists its capabilities."""
        site = make_site(client)
        res = make_resource(client, site["id"], materials=["AL6061", "SUS304"])
        assert res["organization_id"] == site["organization_id"]
        assert res["capabilities"][0]["code"] == "milling.cnc.5axis"
        assert res["capabilities"][0]["materials"] == ["AL6061", "SUS304"]

    def test_unknown_capability_suggests(self, client: TestClient, session: Session) -> None:
        """An unknown capability code is refused with a suggestion, and nothing is written."""
        site = make_site(client)
        body = {
            "site_id": site["id"],
            "name": "Lathe",
            "kind": "machine",
            "hourly_rate_minor": 9000,
            "capabilities": [{"code": "turning.cnc"}, {"code": "turnning.cnc"}],
        }
        err = problem(client.post("/api/v1/resources", json=body), 422)
        assert err["errors"][0]["field"] == "body.capabilities[1].code"
        assert "turning.cnc" in err["detail"]
        assert session.scalar(select(func.count()).select_from(Resource)) == 0
        assert session.scalar(select(func.count()).select_from(ResourceCapability)) == 0

    def test_fractional_rate_refused(self, client: TestClient) -> None:
        """A rate with a fractional minor unit is refused, saying to send an integer."""
        site = make_site(client)
        body = {
            "site_id": site["id"],
            "name": "Lathe",
            "kind": "machine",
            "hourly_rate_minor": 9000.5,
            "capabilities": [{"code": "turning.cnc"}],
        }
        err = problem(client.post("/api/v1/resources", json=body), 422)
        assert err["errors"][0]["field"] == "body.hourly_rate_minor"
        assert "integer" in err["detail"]

    def test_negative_rate_and_bad_kind(self, client: TestClient) -> None:
        """A negative rate and an unknown kind are each named."""
        site = make_site(client)
        body = {
            "site_id": site["id"],
            "name": "Lathe",
            "kind": "spaceship",
            "hourly_rate_minor": -1,
            "capabilities": [{"code": "turning.cnc"}],
        }
        fields = {
            e["field"] for e in problem(client.post("/api/v1/resources", json=body), 422)["errors"]
        }
        assert fields == {"body.kind", "body.hourly_rate_minor"}

    def test_update_replaces_capabilities(self, client: TestClient) -> None:
        """Patching the capability list replaces it; other fields change in place."""
        site = make_site(client)
        res = make_resource(client, site["id"])
        patch = {"hourly_rate_minor": 30000, "capabilities": [{"code": "turning.cnc"}]}
        out = client.patch(f"/api/v1/resources/{res['id']}", json=patch).json()
        assert out["hourly_rate_minor"] == 30000
        assert [c["code"] for c in out["capabilities"]] == ["turning.cnc"]

    def test_filter_by_capability(self, client: TestClient) -> None:
        """Listing by capability returns only resources offering it."""
        site = make_site(client)
        mill = make_resource(client, site["id"])
        make_resource(client, site["id"], code="inspection.cmm")
        page = client.get("/api/v1/resources", params={"capability": "milling.cnc.5axis"}).json()
        assert [r["id"] for r in page["items"]] == [mill["id"]]

    def test_delete(self, client: TestClient) -> None:
        """A resource without bookings can be deleted."""
        res = make_resource(client, make_site(client)["id"])
        assert client.delete(f"/api/v1/resources/{res['id']}").status_code == 204
        problem(client.get(f"/api/v1/resources/{res['id']}"), 404)


class TestWindows:
    def _resource(self, client: TestClient) -> dict:
        return make_resource(client, make_site(client)["id"])

    def test_create_list_update_delete(self, client: TestClient) -> None:
        """A window is offered, listed, moved and withdrawn."""
        res = self._resource(client)
        win = make_window(client, res["id"], 8, 16)
        page = client.get("/api/v1/capacity-windows", params={"resource_id": res["id"]}).json()
        assert [w["id"] for w in page["items"]] == [win["id"]]
        moved = client.patch(
            f"/api/v1/capacity-windows/{win['id']}",
            json={"ends_at": iso(T0 + timedelta(hours=18))},
        ).json()
        assert moved["ends_at"].startswith("2027-03-01T18:00")
        assert client.delete(f"/api/v1/capacity-windows/{win['id']}").status_code == 204

    def test_end_before_start(self, client: TestClient) -> None:
        """A window that ends before it starts is refused with the reason."""
        res = self._resource(client)
        body = {
            "resource_id": res["id"],
            "starts_at": iso(T0 + timedelta(hours=10)),
            "ends_at": iso(T0 + timedelta(hours=9)),
        }
        assert (
            "ends_at must be after"
            in problem(client.post("/api/v1/capacity-windows", json=body), 422)["detail"]
        )

    def test_naive_time_refused(self, client: TestClient) -> None:
        """A time without a zone is refused rather than guessed."""
        res = self._resource(client)
        body = {"resource_id": res["id"], "starts_at": "2027-03-01T08:00:00", "ends_at": iso(T0)}
        assert (
            "time zone"
            in problem(client.post("/api/v1/capacity-windows", json=body), 422)["detail"]
        )

    def test_overlap_is_conflict(self, client: TestClient) -> None:
        """A window overlapping another on the same resource is 409 naming the other window."""
        res = self._resource(client)
        first = make_window(client, res["id"], 8, 16)
        body = {
            "resource_id": res["id"],
            "starts_at": iso(T0 + timedelta(hours=15)),
            "ends_at": iso(T0 + timedelta(hours=20)),
        }
        err = problem(client.post("/api/v1/capacity-windows", json=body), 409)
        assert f"window {first['id']}" in err["detail"]
        make_window(client, res["id"], 16, 20)  # touching is fine: spans are half-open

    def test_moving_onto_another_is_conflict(self, client: TestClient) -> None:
        """Moving a window onto another one of the same resource is refused."""
        res = self._resource(client)
        make_window(client, res["id"], 8, 12)
        second = make_window(client, res["id"], 14, 18)
        resp = client.patch(
            f"/api/v1/capacity-windows/{second['id']}",
            json={"starts_at": iso(T0 + timedelta(hours=11))},
        )
        problem(resp, 409)


class TestCapacitySearch:
    def test_free_capacity_nearest_first_and_anonymous(
        self, client: TestClient, tenants: Tenants
    ) -> None:
        """Search lists free capacity nearest first; other providers' identities stay hidden."""
        as_rival = client.__class__(client.app, headers=tenants["rival"].headers)
        as_p2 = client.__class__(client.app, headers=tenants["provider2"].headers)
        home = make_site(client, lat=31.30, lon=120.60)  # Suzhou, the buyer's own site
        far = make_resource(as_rival, make_site(as_rival, lat=31.65, lon=120.75)["id"])
        near = make_resource(as_p2, make_site(as_p2, lat=31.32, lon=120.62)["id"])
        mine = make_resource(client, home["id"])
        make_window(as_rival, far["id"], 8, 16)
        make_window(as_p2, near["id"], 10, 12)
        make_window(client, mine["id"], 0, 1)
        params = {
            "capability": "milling.cnc.5axis",
            "start": iso(T0),
            "end": iso(T0 + timedelta(days=1)),
            "near_site": home["id"],
        }
        items = client.get("/api/v1/capacity/search", params=params).json()["items"]
        assert [(m["free_minutes"], m["distance_km"] > 0) for m in items] == [
            (60, False),
            (120, True),
            (480, True),
        ]
        assert items[0]["resource_id"] == mine["id"]
        for foreign in items[1:]:
            assert foreign["resource_id"] is None
            assert foreign["organization_id"] is None
            assert foreign["site_name"] is None
            assert foreign["hourly_rate_minor"] == 28000
            assert foreign["region"] == ""

    def test_span_clips_windows_and_material_filters(self, client: TestClient) -> None:
        """Only the part of a window inside the span counts; a material not handled excludes."""
        site = make_site(client)
        steel = make_resource(client, site["id"], materials=["SUS304"])
        alu = make_resource(client, site["id"], materials=["AL6061"])
        make_window(client, steel["id"], 8, 16)
        make_window(client, alu["id"], 8, 16)
        params = {
            "capability": "milling.cnc.5axis",
            "material": "al6061",
            "start": iso(T0 + timedelta(hours=12)),
            "end": iso(T0 + timedelta(hours=20)),
        }
        page = client.get("/api/v1/capacity/search", params=params).json()
        assert [(m["resource_id"], m["free_minutes"]) for m in page["items"]] == [(alu["id"], 240)]

    def test_foreign_site_cannot_anchor_search(self, client: TestClient, tenants: Tenants) -> None:
        """Searching near another organisation's site is refused as if it did not exist."""
        theirs = make_site(client.__class__(client.app, headers=tenants["rival"].headers))
        params = {
            "capability": "turning.cnc",
            "start": iso(T0),
            "end": iso(T0 + timedelta(hours=1)),
            "near_site": theirs["id"],
        }
        problem(client.get("/api/v1/capacity/search", params=params), 422)

    def test_bad_search_input(self, client: TestClient) -> None:
        """An unknown capability and a reversed span are each refused with the reason."""
        params = {"capability": "nope", "start": iso(T0), "end": iso(T0 + timedelta(hours=1))}
        problem(client.get("/api/v1/capacity/search", params=params), 404)
        params = {"capability": "turning.cnc", "start": iso(T0), "end": iso(T0)}
        assert (
            "end must be after start"
            in problem(client.get("/api/v1/capacity/search", params=params), 422)["detail"]
        )
