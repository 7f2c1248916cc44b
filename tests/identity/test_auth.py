"""Signing in: tokens, refresh rotation, throttled logins, API keys, request limits."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sharefab.app import create_app
from sharefab.identity import security
from sharefab.identity.models import LoginThrottle
from sharefab.kit.db import unit_of_work
from sharefab.kit.settings import get_settings
from sharefab.kit.types import utcnow
from tests.factories import PASSWORD, Tenants, created, problem


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: TestClient, email: str, password: str = PASSWORD) -> object:
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


class TestAccessTokens:
    def test_sign_in_and_use(self, app_client: TestClient, tenants: Tenants) -> None:
        """The password flow gives a bearer token that opens the API for that organisation."""
        body = _login(app_client, "admin@acme.example").json()  # type: ignore[attr-defined]
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 15 * 60
        me = app_client.get("/api/v1/me", headers=_bearer(body["access_token"])).json()
        assert me["organization"]["id"] == tenants["acme"].org_id

    def test_anonymous_is_401_with_hint(self, app_client: TestClient, tenants: Tenants) -> None:
        """Without credentials the API answers 401 saying how to sign in, with WWW-Authenticate."""
        resp = app_client.get("/api/v1/resources")
        assert "/api/v1/auth/token" in problem(resp, 401)["detail"]
        assert resp.headers["www-authenticate"].startswith("Bearer")

    def test_wrong_password(self, app_client: TestClient, tenants: Tenants) -> None:
        """A wrong password is 401 without saying which of the two was wrong."""
        detail = problem(_login(app_client, "admin@acme.example", "nope"), 401)["detail"]
        assert "e-mail or password" in detail

    @pytest.mark.parametrize(
        "case", ["expired", "audience", "issuer", "alg-none", "tampered", "garbage"]
    )
    def test_bad_tokens_rejected(self, app_client: TestClient, tenants: Tenants, case: str) -> None:
        """Expired, wrong-audience, wrong-issuer, alg none, tampered and garbage tokens get 401."""
        acme = tenants["acme"]
        key = security.secret_key()
        now = utcnow()
        claims = {
            "sub": str(acme.user_id),
            "org": acme.org_id,
            "iss": "sharefab",
            "aud": "sharefab-api",
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        }
        if case == "expired":
            claims["exp"] = int((now - timedelta(seconds=1)).timestamp())
            token = jwt.encode(claims, key, algorithm="HS256")
        elif case == "audience":
            token = jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="HS256")
        elif case == "issuer":
            token = jwt.encode({**claims, "iss": "evil"}, key, algorithm="HS256")
        elif case == "alg-none":
            header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            token = f"{header}.{payload}."
        elif case == "tampered":
            good = jwt.encode(claims, key, algorithm="HS256")
            head, payload, sig = good.split(".")
            forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
            forged["org"] = tenants["rival"].org_id
            body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
            token = f"{head}.{body}.{sig}"
        else:
            token = "not-a-token"
        resp = app_client.get("/api/v1/me", headers=_bearer(token))
        problem(resp, 401)

    def test_token_of_removed_member_stops_working(
        self, client: TestClient, tenants: Tenants
    ) -> None:
        """A valid token stops working once its user leaves the organisation."""
        body = {"email": "temp@acme.example", "full_name": "T", "password": "long-enough-pw"}
        user = created(client.post("/api/v1/users", json=body))
        token = _login(client, "temp@acme.example", "long-enough-pw").json()["access_token"]  # type: ignore[attr-defined]
        assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
        client.delete(f"/api/v1/users/{user['id']}")
        problem(client.get("/api/v1/me", headers=_bearer(token)), 401)


class TestRefresh:
    def test_rotation_and_logout(self, app_client: TestClient, tenants: Tenants) -> None:
        """A refresh token works once (rotation); after logout the new one is dead too."""
        first = _login(app_client, "admin@acme.example").json()  # type: ignore[attr-defined]
        second = app_client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert second.status_code == 200
        problem(
            app_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
            401,
        )
        new = second.json()["refresh_token"]
        assert (
            app_client.post("/api/v1/auth/logout", json={"refresh_token": new}).status_code == 204
        )
        problem(app_client.post("/api/v1/auth/refresh", json={"refresh_token": new}), 401)


class TestLoginThrottle:
    def test_growing_delay_after_failures(self, app_client: TestClient, tenants: Tenants) -> None:
        """After five failures in a row the next try must wait; the right password waits too."""
        for _ in range(5):
            problem(_login(app_client, "admin@acme.example", "wrong"), 401)
        blocked = _login(app_client, "admin@acme.example")
        assert problem(blocked, 429)["detail"].startswith("too many failed sign-ins")
        assert int(blocked.headers["retry-after"]) >= 1  # type: ignore[attr-defined]

    def test_hourly_cap(self, app_client: TestClient, engine: Engine, tenants: Tenants) -> None:
        """With 100 failures this hour, the account is refused until the hour is over."""
        with unit_of_work(engine) as s:
            s.add(
                LoginThrottle(
                    email="admin@rival.example",
                    window_started_at=utcnow() - timedelta(minutes=10),
                    failures_in_window=100,
                    consecutive_failures=0,
                )
            )
        resp = _login(app_client, "admin@rival.example")
        problem(resp, 429)
        assert 2500 < int(resp.headers["retry-after"]) <= 3000  # type: ignore[attr-defined]

    def test_other_accounts_unaffected(self, app_client: TestClient, tenants: Tenants) -> None:
        """Failures on one account do not slow down another."""
        for _ in range(7):
            _login(app_client, "admin@acme.example", "wrong")
        assert _login(app_client, "admin@rival.example").status_code == 200  # type: ignore[attr-defined]


class TestApiKeys:
    def test_scoped_key(self, client: TestClient, tenants: Tenants) -> None:
        """A read-only key reads but cannot write; a revoked key is refused."""
        made = created(client.post("/api/v1/api-keys", json={"name": "MES", "scopes": ["read"]}))
        key = made["key"]
        assert key.startswith("sfk_")
        listed = client.get("/api/v1/api-keys").json()["items"]
        assert "key" not in listed[0]
        assert listed[0]["prefix"] == made["prefix"]
        anon = TestClient(client.app)
        assert anon.get("/api/v1/sites", headers={"X-API-Key": key}).status_code == 200
        body = {"name": "S", "latitude": 31.0, "longitude": 120.0}
        err = problem(anon.post("/api/v1/sites", json=body, headers={"X-API-Key": key}), 403)
        assert "capacity:write" in err["detail"]
        client.delete(f"/api/v1/api-keys/{made['id']}")
        problem(anon.get("/api/v1/sites", headers={"X-API-Key": key}), 401)

    def test_write_scope_and_bearer_form(self, client: TestClient) -> None:
        """A key with capacity:write creates a site, also when sent as a bearer credential."""
        key = created(
            client.post(
                "/api/v1/api-keys", json={"name": "MES", "scopes": ["read", "capacity:write"]}
            )
        )["key"]
        anon = TestClient(client.app)
        body = {"name": "S", "latitude": 31.0, "longitude": 120.0}
        created(anon.post("/api/v1/sites", json=body, headers=_bearer(key)))

    def test_unknown_scope(self, client: TestClient) -> None:
        """An unknown scope is refused, listing the valid ones."""
        err = problem(client.post("/api/v1/api-keys", json={"name": "X", "scopes": ["root"]}), 422)
        assert "events:write" in err["detail"]

    def test_key_cannot_mint_keys(self, client: TestClient) -> None:
        """An API key cannot create further API keys or users."""
        key = created(client.post("/api/v1/api-keys", json={"name": "K", "scopes": ["read"]}))[
            "key"
        ]
        anon = TestClient(client.app)
        resp = anon.post(
            "/api/v1/api-keys", json={"name": "K2", "scopes": ["read"]}, headers={"X-API-Key": key}
        )
        problem(resp, 403)


class TestRequestLimits:
    def test_burst_gets_429_with_retry_after(
        self, engine: Engine, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A client that sends more than its burst gets 429 with Retry-After; others still pass."""
        # One token a minute: none refills while the test runs, however slow the machine
        # (at 60 a minute, a request slower than 200 ms let a sixth one through).
        monkeypatch.setenv("SHAREFAB_RATE_LIMIT_PER_MINUTE", "1")
        monkeypatch.setenv("SHAREFAB_RATE_LIMIT_BURST", "5")
        get_settings.cache_clear()
        try:
            with TestClient(create_app(engine)) as c:
                codes = [
                    c.get("/api/v1/me", headers=tenants["acme"].headers).status_code
                    for _ in range(8)
                ]
                assert codes[:5] == [200] * 5
                assert codes[5:] == [429] * 3
                last = c.get("/api/v1/me", headers=tenants["acme"].headers)
                assert int(last.headers["retry-after"]) >= 1
                assert c.get("/api/v1/me", headers=tenants["rival"].headers).status_code == 200
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()

    def test_each_of_several_processes_allows_its_share_of_the_burst(
        self, engine: Engine, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Served by 4 processes (`web_workers`), one process lets a client through for a
        quarter of the burst: over all of them the client gets the burst, not four times it."""
        monkeypatch.setenv("SHAREFAB_RATE_LIMIT_PER_MINUTE", "1")
        monkeypatch.setenv("SHAREFAB_RATE_LIMIT_BURST", "8")
        monkeypatch.setenv("SHAREFAB_WEB_WORKERS", "4")
        get_settings.cache_clear()
        try:
            with TestClient(create_app(engine)) as c:
                codes = [
                    c.get("/api/v1/me", headers=tenants["acme"].headers).status_code
                    for _ in range(4)
                ]
                assert codes == [200, 200, 429, 429]
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()

    def test_oversized_body_is_413(self, client: TestClient) -> None:
        """A body over the cap is refused with 413 before it is parsed."""
        big = {"name": "x" * 1_100_000, "latitude": 0, "longitude": 0}
        assert "larger than" in problem(client.post("/api/v1/sites", json=big), 413)["detail"]
