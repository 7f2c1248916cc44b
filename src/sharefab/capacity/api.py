"""Routes: /api/v1/capabilities, /sites, /resources, /capacity-windows, /capacity/search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from sharefab.capacity import repository, service
from sharefab.capacity.models import ResourceKind
from sharefab.capacity.schemas import (
    CapabilityPublic,
    CapacityMatch,
    ResourceCreate,
    ResourcePublic,
    ResourceUpdate,
    SiteCreate,
    SitePublic,
    SiteUpdate,
    WindowCreate,
    WindowPublic,
    WindowUpdate,
)
from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate
from sharefab.kit.schemas import AwareDatetime

router = APIRouter(responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("capacity"))])


def _page(model: Any, rows: list[Any], total: int, page: Any) -> Any:
    return Page(
        items=[model.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


# --- capabilities -------------------------------------------------------------------------


@router.get("/capabilities", tags=["capabilities"])
def list_capabilities(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    family: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=80, description="Code or name contains")] = None,
) -> Page[CapabilityPublic]:
    """The process taxonomy, by family or search text."""
    rows, total = paginate(session, repository.list_capabilities(family, q), page)
    return _page(CapabilityPublic, rows, total, page)


@router.get("/capabilities/{code}", tags=["capabilities"])
def get_capability(session: SessionDep, principal: CurrentPrincipal, code: str) -> CapabilityPublic:
    """One process code."""
    return CapabilityPublic.model_validate(service.get_capability(session, code))


# --- sites --------------------------------------------------------------------------------


@router.post("/sites", status_code=status.HTTP_201_CREATED, tags=["sites"])
def create_site(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: SiteCreate
) -> SitePublic:
    """Add a factory location."""

    def produce() -> Any:
        return SitePublic.model_validate(service.create_site(session, principal, body))

    return idem.run(produce)


@router.get("/sites", tags=["sites"])
def list_sites(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    organization_id: int | None = None,
    region: Annotated[str | None, Query(max_length=120)] = None,
) -> Page[SitePublic]:
    """Sites, by owner or region."""
    rows, total = paginate(session, service.visible_sites(principal, organization_id, region), page)
    return _page(SitePublic, rows, total, page)


@router.get("/sites/{site_id}", tags=["sites"])
def get_site(session: SessionDep, principal: CurrentPrincipal, site_id: int) -> SitePublic:
    """One site."""
    return SitePublic.model_validate(service.get_site(session, principal, site_id))


@router.patch("/sites/{site_id}", tags=["sites"])
def update_site(
    session: SessionDep, principal: CurrentPrincipal, site_id: int, body: SiteUpdate
) -> SitePublic:
    """Change a site."""
    return SitePublic.model_validate(service.update_site(session, principal, site_id, body))


@router.delete("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["sites"])
def delete_site(session: SessionDep, principal: CurrentPrincipal, site_id: int) -> None:
    """Remove a site and its resources (refused while they hold bookings)."""
    service.delete_site(session, principal, site_id)


# --- resources ----------------------------------------------------------------------------


@router.post("/resources", status_code=status.HTTP_201_CREATED, tags=["resources"])
def create_resource(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: ResourceCreate
) -> ResourcePublic:
    """Add a machine, line, tool, instrument, vehicle or team to a site."""

    def produce() -> Any:
        return ResourcePublic.model_validate(service.create_resource(session, principal, body))

    return idem.run(produce)


@router.get("/resources", tags=["resources"])
def list_resources(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    organization_id: int | None = None,
    site_id: int | None = None,
    capability: Annotated[str | None, Query(max_length=80)] = None,
    kind: ResourceKind | None = None,
    active: bool | None = None,
) -> Page[ResourcePublic]:
    """Resources, by owner, site, capability, kind or state."""
    stmt = service.visible_resources(
        principal,
        organization_id=organization_id,
        site_id=site_id,
        capability=capability,
        kind=kind,
        active=active,
    )
    rows, total = paginate(session, stmt, page)
    return _page(ResourcePublic, rows, total, page)


@router.get("/resources/{resource_id}", tags=["resources"])
def get_resource(
    session: SessionDep, principal: CurrentPrincipal, resource_id: int
) -> ResourcePublic:
    """One resource with its capabilities."""
    return ResourcePublic.model_validate(service.get_resource(session, principal, resource_id))


@router.patch("/resources/{resource_id}", tags=["resources"])
def update_resource(
    session: SessionDep, principal: CurrentPrincipal, resource_id: int, body: ResourceUpdate
) -> ResourcePublic:
    """Change a resource; a capability list replaces the old one."""
    return ResourcePublic.model_validate(
        service.update_resource(session, principal, resource_id, body)
    )


@router.delete(
    "/resources/{resource_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["resources"]
)
def delete_resource(session: SessionDep, principal: CurrentPrincipal, resource_id: int) -> None:
    """Remove a resource (refused while it holds bookings)."""
    service.delete_resource(session, principal, resource_id)


# --- capacity windows ---------------------------------------------------------------------


@router.post("/capacity-windows", status_code=status.HTTP_201_CREATED, tags=["capacity"])
def create_window(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: WindowCreate
) -> WindowPublic:
    """Offer a span of a resource's time."""

    def produce() -> Any:
        return WindowPublic.model_validate(service.create_window(session, principal, body))

    return idem.run(produce)


@router.get("/capacity-windows", tags=["capacity"])
def list_windows(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    resource_id: int | None = None,
    organization_id: int | None = None,
    starts_before: AwareDatetime | None = None,
    ends_after: AwareDatetime | None = None,
) -> Page[WindowPublic]:
    """Windows, by resource, owner, or the span they touch."""
    stmt = service.visible_windows(
        principal,
        resource_id=resource_id,
        organization_id=organization_id,
        starts_before=starts_before,
        ends_after=ends_after,
    )
    rows, total = paginate(session, stmt, page)
    return _page(WindowPublic, rows, total, page)


@router.get("/capacity-windows/{window_id}", tags=["capacity"])
def get_window(session: SessionDep, principal: CurrentPrincipal, window_id: int) -> WindowPublic:
    """One window."""
    return WindowPublic.model_validate(service.get_window(session, principal, window_id))


@router.patch("/capacity-windows/{window_id}", tags=["capacity"])
def update_window(
    session: SessionDep, principal: CurrentPrincipal, window_id: int, body: WindowUpdate
) -> WindowPublic:
    """Move or re-note a window."""
    return WindowPublic.model_validate(service.update_window(session, principal, window_id, body))


@router.delete(
    "/capacity-windows/{window_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["capacity"]
)
def delete_window(session: SessionDep, principal: CurrentPrincipal, window_id: int) -> None:
    """Withdraw a window."""
    service.delete_window(session, principal, window_id)


@router.get("/capacity/search", tags=["capacity"])
def search_capacity(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    capability: Annotated[str, Query(max_length=80, description="Taxonomy code")],
    start: Annotated[AwareDatetime, Query(description="Span start (with time zone)")],
    end: Annotated[AwareDatetime, Query(description="Span end (with time zone)")],
    material: Annotated[str | None, Query(max_length=80)] = None,
    near_site: Annotated[int | None, Query(description="Sort nearest to this site")] = None,
    max_distance_km: Annotated[float | None, Query(gt=0)] = None,
    min_free_minutes: Annotated[int, Query(ge=1, le=525600)] = 1,
) -> Page[CapacityMatch]:
    """Which resources with capability X (and material Y) have free time between A and B."""
    matches = service.search_capacity(
        session,
        principal,
        capability=capability,
        starts_at=start,
        ends_at=end,
        material=material,
        near_site_id=near_site,
        min_free_minutes=min_free_minutes,
        max_distance_km=max_distance_km,
    )
    items = matches[page.offset : page.offset + page.limit]
    return Page(items=items, total=len(matches), limit=page.limit, offset=page.offset)
