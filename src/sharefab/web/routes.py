"""Pages: home, sign in, sign out, the language switch; and the router of every role's pages.

Each form is CSRF-protected; the session is a cookie.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sharefab.identity import auth_service
from sharefab.kit.api import SessionDep
from sharefab.web import i18n, pages_buyer, pages_operator, pages_plan, pages_provider
from sharefab.web.render import render, translate, viewer_of
from sharefab.web.session import (
    anonymous_csrf,
    csrf_ok,
    end_session,
    read_session,
    start_session,
)

STATIC_DIR = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)


def _local(target: str | None) -> str:
    """`target` if it is a path on this site (never another host), else the home page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: SessionDep) -> Response:
    """The home page: who is signed in, and the pages of each role."""
    return render(request, viewer_of(request, db), "home.html")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    """The sign-in form."""
    return _with_csrf(request, "login.html", {"next": _local(next) if next else ""})


def _with_csrf(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    holder = Response()
    token = anonymous_csrf(request, holder)
    response = render(
        request, None, template, {**context, "csrf_token": token}, status_code=status_code
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
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Check the password and start a cookie session."""
    if not csrf_ok(request, None, csrf_token):
        message = translate(request, "The form expired; please sign in again.")
        context = {"error": message, "email": email, "next": next}
        return _with_csrf(request, "login.html", context, status_code=403)
    outcome = auth_service.authenticate(db, email, password)
    if isinstance(outcome, auth_service.LoginRefusal):
        return _with_csrf(
            request,
            "login.html",
            {"error": outcome.detail, "email": email, "next": next},
            status_code=429 if outcome.retry_after else 401,
        )
    user_id, organization_id = outcome
    response = RedirectResponse(_local(next), status_code=303)
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


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str = "/") -> Response:
    """Choose the pages' language (remembered in a cookie for a year)."""
    response = RedirectResponse(_local(next), status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax", path="/")
    return response


router.include_router(pages_buyer.router)
router.include_router(pages_provider.router)
router.include_router(pages_operator.router)
router.include_router(pages_plan.router)
