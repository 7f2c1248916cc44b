"""Organisations and users through the HTTP API, as the operator and as tenants."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Tenants, created, problem


def _org(client: TestClient, tenants: Tenants, name: str, **kw: object) -> dict:
    body = {"name": name, "is_provider": True, "is_buyer": True, **kw}
    resp = client.post("/api/v1/organizations", json=body, headers=tenants["operator"].headers)
    return created(resp)


class TestOnboarding:
    def test_operator_onboards_with_derived_slug(
        self, client: TestClient, tenants: Tenants
    ) -> None:
        """The operator registers an organisation; its slug comes from its name."""
        org = _org(client, tenants, "Kunshan Hengda Precision", name_local="昆山恒达精密")
        assert org["slug"] == "kunshan-hengda-precision"
        assert org["name_local"] == "昆山恒达精密"
        assert _org(client, tenants, "Kunshan Hengda Precision")["slug"] == (
            "kunshan-hengda-precision-2"
        )

    def test_tenant_cannot_onboard(self, client: TestClient) -> None:
        """A provider's admin cannot register organisations."""
        assert (
            "operator"
            in problem(client.post("/api/v1/organizations", json={"name": "X"}), 403)["detail"]
        )

    def test_taken_slug_is_conflict(self, client: TestClient, tenants: Tenants) -> None:
        """An explicit slug already in use is refused with 409 naming the slug."""
        resp = client.post(
            "/api/v1/organizations",
            json={"name": "B", "slug": "acme"},
            headers=tenants["operator"].headers,
        )
        assert "acme" in problem(resp, 409)["detail"]

    def test_unknown_field_is_named(self, client: TestClient, tenants: Tenants) -> None:
        """A typo in a field name is refused, naming the field."""
        resp = client.post(
            "/api/v1/organizations",
            json={"name": "A", "is_provder": True},
            headers=tenants["operator"].headers,
        )
        assert problem(resp, 422)["errors"][0]["field"] == "body.is_provder"

    def test_malformed_json(self, client: TestClient) -> None:
        """A body that is not JSON gets a problem saying so."""
        resp = client.post(
            "/api/v1/organizations", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert "not valid JSON" in problem(resp, 422)["detail"]


class TestVisibility:
    def test_tenant_lists_only_itself(self, client: TestClient, tenants: Tenants) -> None:
        """A tenant's list of organisations holds only its own; the operator sees all five."""
        own = client.get("/api/v1/organizations").json()
        assert [o["slug"] for o in own["items"]] == ["acme"]
        everyone = client.get("/api/v1/organizations", headers=tenants["operator"].headers).json()
        assert everyone["total"] == 5
        providers = client.get(
            "/api/v1/organizations",
            params={"role": "provider"},
            headers=tenants["operator"].headers,
        ).json()
        assert {o["slug"] for o in providers["items"]} == {"acme", "rival", "provider2"}

    def test_foreign_org_is_not_found(self, client: TestClient, tenants: Tenants) -> None:
        """Another organisation answers 404, exactly like one that does not exist."""
        foreign = problem(client.get(f"/api/v1/organizations/{tenants['rival'].org_id}"), 404)
        missing = problem(client.get("/api/v1/organizations/999"), 404)
        assert foreign["title"] == missing["title"]

    def test_pagination(self, client: TestClient, tenants: Tenants) -> None:
        """Pages slice the list and report the total."""
        page = client.get(
            "/api/v1/organizations",
            params={"limit": 2, "offset": 2},
            headers=tenants["operator"].headers,
        ).json()
        assert page["total"] == 5
        assert len(page["items"]) == 2

    def test_page_size_cap(self, client: TestClient) -> None:
        """A page size above the maximum is refused with the maximum in the message."""
        assert (
            "500"
            in problem(client.get("/api/v1/organizations", params={"limit": 10**5}), 422)["detail"]
        )


class TestChange:
    def test_admin_renames_but_cannot_change_roles(
        self, client: TestClient, tenants: Tenants
    ) -> None:
        """An admin renames its organisation; turning itself into a buyer needs the operator."""
        org_id = tenants["provider2"].org_id
        h = tenants["provider2"].headers
        assert (
            client.patch(f"/api/v1/organizations/{org_id}", json={"name": "P2"}, headers=h).json()[
                "name"
            ]
            == "P2"
        )
        problem(
            client.patch(f"/api/v1/organizations/{org_id}", json={"is_buyer": True}, headers=h), 403
        )
        ok = client.patch(
            f"/api/v1/organizations/{org_id}",
            json={"is_buyer": True},
            headers=tenants["operator"].headers,
        )
        assert ok.json()["is_buyer"] is True

    def test_only_operator_deletes(self, client: TestClient, tenants: Tenants) -> None:
        """A tenant cannot delete itself; the operator can, and then it is gone."""
        org_id = tenants["acme"].org_id
        problem(client.delete(f"/api/v1/organizations/{org_id}"), 403)
        op = tenants["operator"].headers
        assert client.delete(f"/api/v1/organizations/{org_id}", headers=op).status_code == 204
        problem(client.get(f"/api/v1/organizations/{org_id}", headers=op), 404)


class TestUsers:
    def test_admin_adds_member_who_can_sign_in(self, client: TestClient, tenants: Tenants) -> None:
        """An admin adds a member; the member signs in and sees the same organisation."""
        body = {"email": "Li.Wei@Acme.example", "full_name": "Li Wei", "password": "s3cret-long-pw"}
        user = created(client.post("/api/v1/users", json=body))
        assert user["email"] == "li.wei@acme.example"
        assert user["role"] == "member"
        assert "password" not in user
        assert "password_hash" not in user
        token = client.post(
            "/api/v1/auth/token",
            data={"username": "li.wei@acme.example", "password": "s3cret-long-pw"},
        ).json()["access_token"]
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["organization"]["slug"] == "acme"
        assert me["role"] == "member"

    def test_member_cannot_add_users(self, client: TestClient, tenants: Tenants) -> None:
        """A member (not admin) is refused when adding users."""
        body = {"email": "m@acme.example", "full_name": "M", "password": "long-enough-pw"}
        member = created(client.post("/api/v1/users", json=body))
        token = client.post(
            "/api/v1/auth/token", data={"username": member["email"], "password": "long-enough-pw"}
        ).json()["access_token"]
        other = {"email": "x@acme.example", "full_name": "X", "password": "long-enough-pw"}
        problem(
            client.post("/api/v1/users", json=other, headers={"Authorization": f"Bearer {token}"}),
            403,
        )

    def test_duplicate_email_and_weak_password(self, client: TestClient) -> None:
        """A registered e-mail is 409; a short password is 422 naming the field."""
        taken = {"email": "admin@rival.example", "full_name": "X", "password": "long-enough-pw"}
        problem(client.post("/api/v1/users", json=taken), 409)
        weak = {"email": "new@acme.example", "full_name": "X", "password": "short"}
        assert problem(client.post("/api/v1/users", json=weak), 422)["errors"][0]["field"] == (
            "body.password"
        )

    def test_users_are_per_organisation(self, client: TestClient, tenants: Tenants) -> None:
        """A tenant lists only its own users; another's user is 404."""
        listed = client.get("/api/v1/users").json()
        assert [u["email"] for u in listed["items"]] == ["admin@acme.example"]
        problem(client.get(f"/api/v1/users/{tenants['rival'].user_id}"), 404)

    def test_removed_user_cannot_sign_in(self, client: TestClient) -> None:
        """A user taken out of their only organisation can no longer sign in."""
        body = {"email": "gone@acme.example", "full_name": "G", "password": "long-enough-pw"}
        user = created(client.post("/api/v1/users", json=body))
        assert client.delete(f"/api/v1/users/{user['id']}").status_code == 204
        resp = client.post(
            "/api/v1/auth/token",
            data={"username": "gone@acme.example", "password": "long-enough-pw"},
        )
        problem(resp, 401)
