"""Cookie sessions for the pages: a signed, HttpOnly, SameSite=Lax cookie, and CSRF tokens.

The session cookie is a JWT for the `sharefab-web` audience (never accepted by the API as a
bearer token). Every form carries a CSRF token: before sign-in a double-submit token (cookie
and field must match), after sign-in an HMAC of the session id.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt
from fastapi import Request, Response

from sharefab.identity.security import ALGORITHM, secret_key, sign
from sharefab.kit.settings import get_settings
from sharefab.kit.types import utcnow

SESSION_COOKIE = "sharefab_session"
CSRF_COOKIE = "sharefab_csrf"
WEB_AUDIENCE = "sharefab-web"


@dataclass(frozen=True)
class WebSession:
    """Who is signed in to the pages."""

    user_id: int
    organization_id: int
    session_id: str

    @property
    def csrf_token(self) -> str:
        """The token every form of this session must carry."""
        return sign(f"csrf:{self.session_id}")


def start_session(response: Response, user_id: int, organization_id: int) -> WebSession:
    """Set the session cookie for a user who just signed in."""
    settings = get_settings()
    now = utcnow()
    session = WebSession(user_id, organization_id, secrets.token_hex(16))
    claims = {
        "sub": str(user_id),
        "org": organization_id,
        "sid": session.session_id,
        "aud": WEB_AUDIENCE,
        "iss": settings.jwt_issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=settings.session_hours)).timestamp()),
    }
    response.set_cookie(
        SESSION_COOKIE,
        jwt.encode(claims, secret_key(), algorithm=ALGORITHM),
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/")
    return session


def end_session(response: Response) -> None:
    """Clear the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def read_session(request: Request) -> WebSession | None:
    """The signed-in session, or None (a forged or expired cookie is ignored)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        claims = jwt.decode(
            raw,
            secret_key(),
            algorithms=[ALGORITHM],
            audience=WEB_AUDIENCE,
            issuer=get_settings().jwt_issuer,
            options={"require": ["exp", "sub", "sid", "aud", "iss"]},
        )
        return WebSession(int(claims["sub"]), int(claims["org"]), str(claims["sid"]))
    except (jwt.PyJWTError, KeyError, ValueError):
        return None


def anonymous_csrf(request: Request, response: Response) -> str:
    """A double-submit token for forms shown before sign-in (set as a cookie too)."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        secure=get_settings().cookie_secure,
        samesite="strict",
        path="/",
    )
    return token


def csrf_ok(request: Request, session: WebSession | None, submitted: str | None) -> bool:
    """Whether a submitted form token matches the session's (or the pre-sign-in cookie)."""
    if not submitted:
        return False
    expected = session.csrf_token if session else request.cookies.get(CSRF_COOKIE)
    return bool(expected) and hmac.compare_digest(expected or "", submitted)
