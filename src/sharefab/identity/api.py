"""Routes: /api/v1/organizations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from sharefab.identity import repository, service
from sharefab.identity.schemas import OrganizationCreate, OrganizationPublic, OrganizationUpdate
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate

router = APIRouter(prefix="/organizations", tags=["organizations"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_organization(session: SessionDep, body: OrganizationCreate) -> OrganizationPublic:
    """Register an organisation (a provider, a buyer, or both)."""
    return OrganizationPublic.model_validate(service.create_organization(session, body))


@router.get("")
def list_organizations(
    session: SessionDep,
    page: PageDep,
    role: Annotated[Literal["provider", "buyer"] | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
) -> Page[OrganizationPublic]:
    """List organisations, filtered by role or name."""
    rows, total = paginate(session, repository.list_organizations(role, q), page)
    items = [OrganizationPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{organization_id}")
def get_organization(session: SessionDep, organization_id: int) -> OrganizationPublic:
    """One organisation."""
    return OrganizationPublic.model_validate(service.get_organization(session, organization_id))


@router.patch("/{organization_id}")
def update_organization(
    session: SessionDep, organization_id: int, body: OrganizationUpdate
) -> OrganizationPublic:
    """Change an organisation's name, roles or country."""
    org = service.update_organization(session, organization_id, body)
    return OrganizationPublic.model_validate(org)


@router.delete("/{organization_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_organization(session: SessionDep, organization_id: int) -> None:
    """Remove an organisation and everything it owns."""
    service.delete_organization(session, organization_id)
