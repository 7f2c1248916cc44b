"""Pages: home, sign in, sign out. Each form is CSRF-protected; the session is a cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sharefab.identity import auth_service
from sharefab.identity.models import Organization, User
from sharefab.kit.api import SessionDep
from sharefab.kit.errors import Unauthorized
from sharefab.web.session import (
    WebSession,
    anonymous_csrf,
    csrf_ok,
    end_session,
    read_session,
    start_session,
)

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def _me(db: SessionDep, session: WebSession | None) -> dict[str, Any] | None:
    if session is None:
        return None
    try:
        principal = auth_service.principal_for(db, session.user_id, session.organization_id)
    except Unauthorized:
        return None
    user = db.get(User, session.user_id)
    org = db.get(Organization, principal.organization_id)
    return {
        "email": user.email if user else "",
        "organization": org.name if org else "",
        "role": principal.role.value,
    }


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: SessionDep) -> Response:
    """The home page: who is signed in, and where to go."""
    session = read_session(request)
    me = _me(db, session)
    context = {"me": me, "csrf_token": session.csrf_token if session and me else ""}
    return templates.TemplateResponse(request, "home.html", context)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The sign-in form."""
    return _with_csrf(request, "login.html", {"me": None})


def _with_csrf(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    holder = Response()
    token = anonymous_csrf(request, holder)
    response = templates.TemplateResponse(
        request, template, {**context, "csrf_token": token}, status_code=status_code
    )
    for key, value in holder.headers.items():
        if key == "set-cookie":
            response.headers.append(key, value)
    return response


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the password and start a cookie session."""
    if not csrf_ok(request, None, csrf_token):
        return _with_csrf(
            request,
            "login.html",
            {"me": None, "error": "The form expired; please sign in again.", "email": email},
            status_code=403,
        )
    outcome = auth_service.authenticate(db, email, password)
    if isinstance(outcome, auth_service.LoginRefusal):
        return _with_csrf(
            request,
            "login.html",
            {"me": None, "error": outcome.detail, "email": email},
            status_code=429 if outcome.retry_after else 401,
        )
    user_id, organization_id = outcome
    response = RedirectResponse("/", status_code=303)
    start_session(response, user_id, organization_id)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the cookie session (the form must carry the session's CSRF token)."""
    session = read_session(request)
    if session is not None and not csrf_ok(request, session, csrf_token):
        return Response("CSRF token missing or wrong; reload the page", status_code=403)
    response = RedirectResponse("/login", status_code=303)
    end_session(response)
    return response
