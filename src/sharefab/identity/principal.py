"""Who is calling: a user acting for one organisation, or an API key of an organisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from sharefab.identity.models import Role
from sharefab.kit.errors import Forbidden, NotFound
from sharefab.kit.repository import get_or_404


class Owned(Protocol):
    """A row that belongs to an organisation."""

    organization_id: int


OwnedT = TypeVar("OwnedT", bound=Owned)

# What an API key may be allowed to do; users may do all of it within their role.
SCOPES = {
    "read": "read the organisation's objects",
    "capacity:write": "publish and withdraw capacity windows, manage resources",
    "orders:write": "submit and change orders",
    "events:write": "report shop-floor events",
}


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as every service sees it."""

    organization_id: int
    role: Role
    is_operator: bool
    is_provider: bool
    is_buyer: bool
    user_id: int | None = None
    api_key_id: int | None = None
    scopes: frozenset[str] | None = None  # None: a user, bounded by role only

    def may(self, scope: str) -> bool:
        """Whether an API key's scopes (or a user's role) allow `scope`."""
        return self.scopes is None or scope in self.scopes

    @property
    def is_admin(self) -> bool:
        """An admin of its organisation, or the platform operator."""
        return self.role in (Role.admin, Role.operator)

    def owns(self, organization_id: int) -> bool:
        """Whether the object's owner is the caller's organisation."""
        return self.organization_id == organization_id

    def can_read(self, organization_id: int) -> bool:
        """Own objects, or anything for the operator."""
        return self.is_operator or self.organization_id == organization_id


def readable(principal: Principal, owner_id: int, label: str, key: object) -> None:
    """Raise NotFound unless the caller may see an object owned by `owner_id`."""
    if not principal.can_read(owner_id):
        raise NotFound(f"{label} {key} does not exist")


def writable(principal: Principal, owner_id: int, label: str, key: object) -> None:
    """Raise NotFound if the caller may not see the object, Forbidden if it may only read it."""
    readable(principal, owner_id, label, key)
    if not principal.owns(owner_id):
        raise Forbidden(f"{label} {key} belongs to another organisation; only its owner changes it")


def get_readable(
    session: Session, principal: Principal, model: type[OwnedT], key: int, label: str
) -> OwnedT:
    """The row of `model` with id `key` if the caller may see it; NotFound otherwise."""
    row = get_or_404(session, model, key, label)
    readable(principal, row.organization_id, label, key)
    return row


def tenant_filters(principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    """List filters narrowed to the caller's own organisation, unless it is the operator."""
    if not principal.is_operator:
        filters["organization_id"] = principal.organization_id
    return filters
