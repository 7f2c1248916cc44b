"""Routes: /api/v1/auth, /me, /organizations, /users, /api-keys."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, status
from fastapi.responses import JSONResponse

from sharefab.identity import auth_service, repository, service
from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.identity.models import User
from sharefab.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    MemberPublic,
    MePublic,
    OrganizationCreate,
    OrganizationPublic,
    OrganizationUpdate,
    RefreshRequest,
    TokenResponse,
    UserCreate,
    UserPublic,
)
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.problems import problem_response
from sharefab.kit.repository import paginate, paginate_rows

auth_router = APIRouter(prefix="/auth", tags=["auth"], responses=PROBLEM_RESPONSES)
router = APIRouter(responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("identity"))])


def _member(user: User, membership: object) -> MemberPublic:
    return MemberPublic(
        **UserPublic.model_validate(user).model_dump(),
        organization_id=membership.organization_id,  # type: ignore[attr-defined]
        role=membership.role,  # type: ignore[attr-defined]
    )


# --- auth ---------------------------------------------------------------------------------


@auth_router.post("/token", response_model=TokenResponse, responses={401: {}, 429: {}})
def token(
    session: SessionDep,
    username: Annotated[str, Form(description="E-mail address", max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    grant_type: Annotated[Literal["password"], Form()] = "password",
    organization_id: Annotated[int | None, Form(description="Act for this organisation")] = None,
) -> TokenResponse | JSONResponse:
    """Sign in (OAuth2 password flow): an access token and a refresh token."""
    outcome = auth_service.login(session, username, password, organization_id)
    if isinstance(outcome, auth_service.LoginRefusal):
        status_code = 429 if outcome.retry_after else 401
        headers = (
            {"Retry-After": str(outcome.retry_after)}
            if outcome.retry_after
            else {"WWW-Authenticate": 'Bearer realm="sharefab"'}
        )
        return problem_response(
            {
                "type": "https://sharefab.dev/problems/"
                + ("rate-limited" if outcome.retry_after else "unauthorized"),
                "title": "Too many requests" if outcome.retry_after else "Unauthorized",
                "status": status_code,
                "detail": outcome.detail,
            },
            headers=headers,
        )
    return TokenResponse(
        access_token=outcome.access_token,
        expires_in=outcome.expires_in,
        refresh_token=outcome.refresh_token,
        organization_id=outcome.organization_id,
    )


@auth_router.post("/refresh", responses={401: {}})
def refresh(session: SessionDep, body: RefreshRequest) -> TokenResponse:
    """Trade a refresh token for new tokens (the old refresh token stops working)."""
    pair = auth_service.refresh(session, body.refresh_token)
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        organization_id=pair.organization_id,
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, body: RefreshRequest) -> None:
    """Revoke a refresh token."""
    auth_service.logout(session, body.refresh_token)


# --- me -----------------------------------------------------------------------------------


@router.get("/me", tags=["auth"])
def me(session: SessionDep, principal: CurrentPrincipal) -> MePublic:
    """Who the caller is, for which organisation and in which role."""
    org = service.get_organization(session, principal, principal.organization_id)
    user = session.get(User, principal.user_id) if principal.user_id else None
    return MePublic(
        user=UserPublic.model_validate(user) if user else None,
        organization=OrganizationPublic.model_validate(org),
        role=principal.role,
        api_key_id=principal.api_key_id,
        scopes=sorted(principal.scopes) if principal.scopes is not None else None,
    )


# --- organisations ------------------------------------------------------------------------


@router.post("/organizations", status_code=status.HTTP_201_CREATED, tags=["organizations"])
def create_organization(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: OrganizationCreate
) -> OrganizationPublic:
    """Onboard an organisation (operator only)."""

    def produce() -> Any:
        return OrganizationPublic.model_validate(
            service.create_organization(session, principal, body)
        )

    return idem.run(produce)


@router.get("/organizations", tags=["organizations"])
def list_organizations(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    role: Annotated[Literal["provider", "buyer"] | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
) -> Page[OrganizationPublic]:
    """Organisations the caller may see (all of them for the operator)."""
    rows, total = paginate(session, service.visible_organizations(principal, role, q), page)
    items = [OrganizationPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/organizations/{organization_id}", tags=["organizations"])
def get_organization(
    session: SessionDep, principal: CurrentPrincipal, organization_id: int
) -> OrganizationPublic:
    """One organisation."""
    org = service.get_organization(session, principal, organization_id)
    return OrganizationPublic.model_validate(org)


@router.patch("/organizations/{organization_id}", tags=["organizations"])
def update_organization(
    session: SessionDep, principal: CurrentPrincipal, organization_id: int, body: OrganizationUpdate
) -> OrganizationPublic:
    """Change an organisation's name or country (its admins), or roles (the operator)."""
    org = service.update_organization(session, principal, organization_id, body)
    return OrganizationPublic.model_validate(org)


@router.delete(
    "/organizations/{organization_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["organizations"],
)
def delete_organization(
    session: SessionDep, principal: CurrentPrincipal, organization_id: int
) -> None:
    """Remove an organisation and everything it owns (operator only)."""
    service.delete_organization(session, principal, organization_id)


# --- users --------------------------------------------------------------------------------


@router.post("/users", status_code=status.HTTP_201_CREATED, tags=["users"])
def create_user(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: UserCreate
) -> MemberPublic:
    """Add a user to your organisation (admins)."""

    def produce() -> Any:
        user, membership = service.create_user(session, principal, body)
        return _member(user, membership)

    return idem.run(produce)


@router.get("/users", tags=["users"])
def list_users(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> Page[MemberPublic]:
    """Users of your organisation, with their roles."""
    rows, total = paginate_rows(session, service.visible_members(principal), page)
    items = [_member(u, m) for u, m in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/users/{user_id}", tags=["users"])
def get_user(session: SessionDep, principal: CurrentPrincipal, user_id: int) -> MemberPublic:
    """One user of your organisation."""
    user, membership = service.get_member(session, principal, user_id)
    return _member(user, membership)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["users"])
def remove_user(session: SessionDep, principal: CurrentPrincipal, user_id: int) -> None:
    """Take a user out of your organisation (admins)."""
    service.remove_member(session, principal, user_id)


# --- API keys -----------------------------------------------------------------------------


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, tags=["api-keys"])
def create_api_key(
    session: SessionDep, principal: CurrentPrincipal, body: ApiKeyCreate
) -> ApiKeyCreated:
    """Create a scoped API key for a machine; the key is shown once.

    Not idempotent on purpose: replaying would mean storing the key itself. A retry makes a
    second key; revoke the one you did not receive.
    """
    row, key = auth_service.create_api_key(session, principal, body.name, body.scopes)
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


@router.get("/api-keys", tags=["api-keys"])
def list_api_keys(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> Page[ApiKeyPublic]:
    """Your organisation's API keys (without the keys)."""
    rows, total = paginate(session, repository.api_keys_of(principal.organization_id), page)
    items = [ApiKeyPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.delete("/api-keys/{key_id}", tags=["api-keys"])
def revoke_api_key(session: SessionDep, principal: CurrentPrincipal, key_id: int) -> ApiKeyPublic:
    """Revoke an API key at once."""
    return ApiKeyPublic.model_validate(auth_service.revoke_api_key(session, principal, key_id))
