"""Dependencies that authenticate a request and authorise it by scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from sharefab.audit.recorder import Actor, set_actor
from sharefab.identity import auth_service
from sharefab.identity.principal import Principal
from sharefab.kit.api import READ_METHODS, SessionDep
from sharefab.kit.errors import Forbidden, Unauthorized

API_KEY_HEADER = "x-api-key"


def get_principal(request: Request, session: SessionDep) -> Principal:
    """The caller, from `Authorization: Bearer <token or API key>` or `X-API-Key`."""
    header = request.headers.get("authorization", "")
    api_key = request.headers.get(API_KEY_HEADER)
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized(
                "use `Authorization: Bearer <access token>`; sign in at /api/v1/auth/token"
            )
        credential = credential.strip()
        if credential.startswith("sfk_"):
            principal = auth_service.principal_from_api_key(session, credential)
        else:
            principal = auth_service.principal_from_token(session, credential)
    elif api_key:
        principal = auth_service.principal_from_api_key(session, api_key.strip())
    else:
        raise Unauthorized(
            "sign in first: POST /api/v1/auth/token gives an access token to send as "
            "`Authorization: Bearer <token>` (machines use an API key)"
        )
    request.state.principal = principal
    set_actor(
        session,
        Actor(
            principal.user_id, principal.organization_id, getattr(request.state, "request_id", None)
        ),
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def scoped(area: str) -> Callable[[Request, Principal], None]:
    """A router dependency: API keys need `read` for reads and `<area>:write` for writes."""

    def check(request: Request, principal: CurrentPrincipal) -> None:
        needed = "read" if request.method in READ_METHODS else f"{area}:write"
        if not principal.may(needed):
            raise Forbidden(f"this API key lacks the scope '{needed}'; create a key that has it")

    return check
