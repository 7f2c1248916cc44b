"""What every page shares: who is viewing, the template environment, flash messages, CSRF
checks on forms, and error pages (another tenant's object is a 404 page, as in the API)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from sharefab.identity import auth_service
from sharefab.identity.models import Organization, User
from sharefab.identity.principal import Principal
from sharefab.kit.api import SessionDep
from sharefab.kit.errors import SharefabError, Unauthorized
from sharefab.web import i18n
from sharefab.web.session import WebSession, csrf_ok, read_session

FLASH_COOKIE = "sharefab_flash"

env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
templates = Jinja2Templates(env=env)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a page and the organisation they act for."""

    principal: Principal
    session: WebSession
    email: str
    name: str
    organization: str

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    @property
    def roles(self) -> list[str]:
        p = self.principal
        return [
            r
            for r, on in (
                ("operator", p.is_operator),
                ("provider", p.is_provider),
                ("buyer", p.is_buyer),
            )
            if on
        ]


class LoginRequired(Exception):
    """The page needs a signed-in user."""


class WrongRole(SharefabError):
    """The page belongs to a role the viewer's organisation does not play."""

    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class BadCsrf(SharefabError):
    """A form arrived without the session's CSRF token."""

    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


def viewer_of(request: Request, db: Session) -> Viewer | None:
    """The signed-in viewer, or None (an ended membership or disabled account signs out)."""
    session = read_session(request)
    if session is None:
        return None
    try:
        principal = auth_service.principal_for(db, session.user_id, session.organization_id)
    except Unauthorized:
        return None
    user = db.get(User, session.user_id)
    org = db.get(Organization, principal.organization_id)
    locale = i18n.negotiate(request)
    org_name = ""
    if org is not None:
        org_name = (org.name_local if locale == "zh_Hans" and org.name_local else org.name) or ""
    return Viewer(
        principal=principal,
        session=session,
        email=user.email if user else "",
        name=user.full_name if user else "",
        organization=org_name,
    )


def current_viewer(request: Request, db: SessionDep) -> Viewer:
    """The signed-in viewer; anonymous visitors are sent to sign in."""
    viewer = viewer_of(request, db)
    if viewer is None:
        raise LoginRequired()
    return viewer


async def checked_viewer(request: Request, db: SessionDep) -> Viewer:
    """The signed-in viewer of a form post that carries the session's CSRF token (a form
    field `csrf_token`, or the `X-CSRF-Token` header HTMX sends)."""
    viewer = current_viewer(request, db)
    form = await request.form()
    submitted = request.headers.get("x-csrf-token") or str(form.get("csrf_token") or "")
    if not csrf_ok(request, viewer.session, submitted):
        raise BadCsrf("the form's security token is missing or old; reload the page and retry")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
PostViewerDep = Annotated[Viewer, Depends(checked_viewer)]


def need_role(viewer: Viewer, role: str) -> None:
    """Refuse a role's page to an organisation that does not play the role."""
    if role not in viewer.roles:
        raise WrongRole(f"this page is for {role}s; your organisation is not one")


def context_for(request: Request, viewer: Viewer | None) -> dict[str, Any]:
    """What every template gets: the viewer, translations, formatting, flash, CSRF token."""
    locale = i18n.negotiate(request)
    catalog = i18n.translations(locale)
    flash = None
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        try:
            flash = json.loads(raw)
        except ValueError:
            flash = None
    return {
        "me": viewer,
        "csrf_token": viewer.csrf_token if viewer else "",
        "locale": locale,
        "html_lang": "zh-Hans" if locale == "zh_Hans" else "en",
        "locales": i18n.LOCALES,
        "fmt": i18n.Formatter(locale),
        "flash": flash if isinstance(flash, dict) else None,
        "path": request.url.path,
        "full_path": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "t": catalog.gettext,
        "label": lambda key: catalog.gettext(i18n.STATUS_LABELS.get(str(key), str(key))),
        **i18n.jinja_gettext(catalog),
    }


def render(
    request: Request,
    viewer: Viewer | None,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """A page from `template` with the shared context; a shown flash message is cleared."""
    full = {**context_for(request, viewer), **(context or {})}
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def translate(request: Request, message: str, **variables: Any) -> str:
    """A message of the page layer in the request's language."""
    text = i18n.translations(i18n.negotiate(request)).gettext(message)
    return text % variables if variables else text


def redirect(url: str, message: str | None = None, kind: str = "ok") -> Response:
    """303 to `url`, showing `message` once on the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE,
            json.dumps({"kind": kind, "text": message}, ensure_ascii=True),
            max_age=60,
            httponly=True,
            samesite="lax",
            path="/",
        )
    return response


def failed(db: Session, url: str, exc: SharefabError) -> Response:
    """Undo what the failed action wrote, then go back to `url` with the reason."""
    db.rollback()
    return redirect(url, exc.detail, kind="error")


class PageRoute(APIRoute):
    """A page: anonymous visitors go to sign-in; errors render as pages, not problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = quote(request.url.path, safe="/")
                return RedirectResponse(f"/login?next={target}", status_code=303)
            except SharefabError as exc:
                return error_page(request, exc.status, exc.detail)

        return page_handler


def error_page(request: Request, status: int, detail: str) -> Response:
    """An error as a page (the viewer is shown as anonymous: the session may be gone)."""
    response = templates.TemplateResponse(
        request,
        "error.html",
        {**context_for(request, None), "status": status, "detail": detail},
        status_code=status,
    )
    return response


def html(text: str, status_code: int = 200) -> HTMLResponse:
    """A bare HTML fragment (for HTMX swaps)."""
    return HTMLResponse(text, status_code=status_code)
