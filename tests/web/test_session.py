"""Cookie sessions for the pages: sign in and out through forms, protected against CSRF."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import PASSWORD, Tenants


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def test_sign_in_and_out(app_client: TestClient, tenants: Tenants) -> None:
    """The login form signs a user in with an HttpOnly SameSite cookie; sign-out ends it."""
    form = app_client.get("/login")
    resp = app_client.post(
        "/login",
        data={"email": "admin@acme.example", "password": PASSWORD, "csrf_token": _token(form.text)},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"]
    assert "sharefab_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = app_client.get("/")
    assert "admin@acme.example" in home.text
    out = app_client.post("/logout", data={"csrf_token": _token(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert "admin@acme.example" not in app_client.get("/").text


def test_login_without_csrf_is_refused(app_client: TestClient, tenants: Tenants) -> None:
    """A sign-in form posted without its CSRF token (as from another site) is refused."""
    resp = app_client.post("/login", data={"email": "admin@acme.example", "password": PASSWORD})
    assert resp.status_code == 403
    assert "sharefab_session" not in resp.headers.get("set-cookie", "")


def test_logout_needs_session_csrf(app_client: TestClient, tenants: Tenants) -> None:
    """Sign-out with a wrong CSRF token keeps the session."""
    form = app_client.get("/login")
    app_client.post(
        "/login",
        data={"email": "admin@acme.example", "password": PASSWORD, "csrf_token": _token(form.text)},
    )
    assert app_client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert "admin@acme.example" in app_client.get("/").text


def test_wrong_password_shows_message(app_client: TestClient, tenants: Tenants) -> None:
    """A wrong password re-shows the form with the reason and no session."""
    form = app_client.get("/login")
    resp = app_client.post(
        "/login",
        data={"email": "admin@acme.example", "password": "nope", "csrf_token": _token(form.text)},
    )
    assert resp.status_code == 401
    assert "wrong e-mail or password" in resp.text


def test_session_cookie_is_not_an_api_token(app_client: TestClient, tenants: Tenants) -> None:
    """The page cookie cannot be replayed as a bearer token against the API."""
    form = app_client.get("/login")
    resp = app_client.post(
        "/login",
        data={"email": "admin@acme.example", "password": PASSWORD, "csrf_token": _token(form.text)},
        follow_redirects=False,
    )
    cookie = resp.cookies["sharefab_session"]
    api = app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {cookie}"})
    assert api.status_code == 401
