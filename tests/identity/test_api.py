"""Organisations through the HTTP API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import make_org, problem


class TestCreateOrganization:
    def test_slug_derived_from_name(self, client: TestClient) -> None:
        """A new organisation gets a URL-safe slug made from its name."""
        org = make_org(client, "Kunshan Hengda Precision", name_local="昆山恒达精密")
        assert org["slug"] == "kunshan-hengda-precision"
        assert org["name_local"] == "昆山恒达精密"

    def test_same_name_gets_next_slug(self, client: TestClient) -> None:
        """Two organisations with one name get distinct slugs."""
        make_org(client, "Suzhou Metal")
        assert make_org(client, "Suzhou Metal")["slug"] == "suzhou-metal-2"

    def test_taken_slug_is_conflict(self, client: TestClient) -> None:
        """An explicit slug already in use is refused with 409 naming the slug."""
        make_org(client, "A", slug="acme")
        body = problem(
            client.post("/api/v1/organizations", json={"name": "B", "slug": "acme"}), 409
        )
        assert "acme" in body["detail"]

    def test_unknown_field_is_named(self, client: TestClient) -> None:
        """A typo in a field name is refused, naming the field."""
        resp = client.post("/api/v1/organizations", json={"name": "A", "is_provder": True})
        body = problem(resp, 422)
        assert body["errors"][0]["field"] == "body.is_provder"

    def test_missing_name_is_named(self, client: TestClient) -> None:
        """A missing required field is named in the problem."""
        body = problem(client.post("/api/v1/organizations", json={}), 422)
        assert "body.name" in body["detail"]

    def test_malformed_json(self, client: TestClient) -> None:
        """A body that is not JSON gets a problem saying so."""
        resp = client.post(
            "/api/v1/organizations", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert "not valid JSON" in problem(resp, 422)["detail"]


class TestListOrganizations:
    def test_filter_by_role_and_name(self, client: TestClient) -> None:
        """Listing by role returns only providers or only buyers; q matches names."""
        make_org(client, "Provider Co", is_buyer=False)
        make_org(client, "Buyer Co", is_provider=False)
        providers = client.get("/api/v1/organizations", params={"role": "provider"}).json()
        assert [o["name"] for o in providers["items"]] == ["Provider Co"]
        found = client.get("/api/v1/organizations", params={"q": "buyer"}).json()
        assert [o["name"] for o in found["items"]] == ["Buyer Co"]

    def test_pagination(self, client: TestClient) -> None:
        """Pages slice the list and report the total."""
        for i in range(5):
            make_org(client, f"Org {i}")
        page = client.get("/api/v1/organizations", params={"limit": 2, "offset": 2}).json()
        assert page["total"] == 5
        assert [o["name"] for o in page["items"]] == ["Org 2", "Org 3"]

    def test_page_size_cap(self, client: TestClient) -> None:
        """A page size above the maximum is refused with the maximum in the message."""
        body = problem(client.get("/api/v1/organizations", params={"limit": 100000}), 422)
        assert "500" in body["detail"]


class TestReadUpdateDelete:
    def test_round_trip(self, client: TestClient) -> None:
        """An organisation can be read, renamed and deleted; afterwards it is 404."""
        org = make_org(client)
        assert client.get(f"/api/v1/organizations/{org['id']}").json()["name"] == org["name"]
        resp = client.patch(f"/api/v1/organizations/{org['id']}", json={"name": "Renamed"})
        assert resp.json()["name"] == "Renamed"
        assert client.delete(f"/api/v1/organizations/{org['id']}").status_code == 204
        problem(client.get(f"/api/v1/organizations/{org['id']}"), 404)

    def test_missing_is_problem(self, client: TestClient) -> None:
        """An unknown id answers 404 as problem+json naming the id."""
        assert "999" in problem(client.get("/api/v1/organizations/999"), 404)["detail"]
