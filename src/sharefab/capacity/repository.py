"""Queries on capabilities, sites, resources and capacity windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from sharefab.capacity.models import (
    Capability,
    CapacityWindow,
    Downtime,
    Resource,
    ResourceCapability,
    ResourceKind,
    Site,
)


def capability_codes(session: Session) -> set[str]:
    """Every code in the taxonomy table."""
    return set(session.scalars(select(Capability.code)))


def list_capabilities(family: str | None, q: str | None) -> Select[Capability]:
    """Capabilities, by family or by a fragment of code or name."""
    stmt = select(Capability).order_by(Capability.code)
    if family:
        stmt = stmt.where(Capability.family == family)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(Capability.code.like(pattern) | Capability.name.ilike(pattern))
    return stmt


def list_sites(organization_id: int | None, region: str | None) -> Select[Site]:
    """Sites, by owner or region."""
    stmt = select(Site).order_by(Site.id)
    if organization_id is not None:
        stmt = stmt.where(Site.organization_id == organization_id)
    if region:
        stmt = stmt.where(Site.region == region)
    return stmt


def count_resources(session: Session, resource_ids: set[int]) -> int:
    """How many of `resource_ids` exist."""
    if not resource_ids:
        return 0
    stmt = select(func.count()).select_from(Resource).where(Resource.id.in_(resource_ids))
    return int(session.scalar(stmt) or 0)


def list_resources(
    *,
    organization_id: int | None = None,
    site_id: int | None = None,
    capability: str | None = None,
    kind: ResourceKind | None = None,
    active: bool | None = None,
) -> Select[Resource]:
    """Resources filtered by owner, site, capability, kind and whether they are active."""
    stmt = select(Resource).order_by(Resource.id)
    if organization_id is not None:
        stmt = stmt.where(Resource.organization_id == organization_id)
    if site_id is not None:
        stmt = stmt.where(Resource.site_id == site_id)
    if kind is not None:
        stmt = stmt.where(Resource.kind == kind)
    if active is not None:
        stmt = stmt.where(Resource.is_active.is_(active))
    if capability:
        stmt = stmt.where(
            Resource.id.in_(
                select(ResourceCapability.resource_id).where(
                    ResourceCapability.capability_code == capability
                )
            )
        )
    return stmt


def replace_capabilities(session: Session, resource: Resource) -> None:
    """Delete a resource's capability rows before new ones are attached."""
    session.execute(delete(ResourceCapability).where(ResourceCapability.resource_id == resource.id))
    session.expire(resource, ["capabilities"])


def list_windows(
    *,
    resource_id: int | None = None,
    organization_id: int | None = None,
    starts_before: datetime | None = None,
    ends_after: datetime | None = None,
) -> Select[CapacityWindow]:
    """Windows, by resource, owner, and the span they touch."""
    stmt = select(CapacityWindow).order_by(CapacityWindow.resource_id, CapacityWindow.starts_at)
    if resource_id is not None:
        stmt = stmt.where(CapacityWindow.resource_id == resource_id)
    if organization_id is not None:
        stmt = stmt.where(CapacityWindow.organization_id == organization_id)
    if starts_before is not None:
        stmt = stmt.where(CapacityWindow.starts_at < starts_before)
    if ends_after is not None:
        stmt = stmt.where(CapacityWindow.ends_at > ends_after)
    return stmt


def overlapping_windows(
    session: Session,
    resource_id: int,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> list[CapacityWindow]:
    """Windows of one resource that share time with `[starts_at, ends_at)`."""
    stmt = select(CapacityWindow).where(
        CapacityWindow.resource_id == resource_id,
        CapacityWindow.starts_at < ends_at,
        CapacityWindow.ends_at > starts_at,
    )
    if exclude_id is not None:
        stmt = stmt.where(CapacityWindow.id != exclude_id)
    return list(session.scalars(stmt.order_by(CapacityWindow.starts_at)))


def search_candidates(
    session: Session, capability: str, active_only: bool = True
) -> list[tuple[Resource, ResourceCapability, Site]]:
    """Resources offering `capability` (active ones by default), with capability row and site."""
    stmt = (
        select(Resource, ResourceCapability, Site)
        .join(ResourceCapability, ResourceCapability.resource_id == Resource.id)
        .join(Site, Site.id == Resource.site_id)
        .where(ResourceCapability.capability_code == capability)
        .order_by(Resource.id)
    )
    if active_only:
        stmt = stmt.where(Resource.is_active.is_(True))
    return [(r, rc, s) for r, rc, s in session.execute(stmt)]


def windows_in_span(
    session: Session, resource_ids: Sequence[int], starts_at: datetime, ends_at: datetime
) -> list[CapacityWindow]:
    """Windows of the given resources that touch `[starts_at, ends_at)`."""
    if not resource_ids:
        return []
    stmt = select(CapacityWindow).where(
        CapacityWindow.resource_id.in_(resource_ids),
        CapacityWindow.starts_at < ends_at,
        CapacityWindow.ends_at > starts_at,
    )
    return list(session.scalars(stmt))


def downtimes_in_span(
    session: Session, resource_ids: Sequence[int], starts_at: datetime, ends_at: datetime
) -> list[Downtime]:
    """Downtimes of the given resources that touch `[starts_at, ends_at)`."""
    if not resource_ids:
        return []
    stmt = select(Downtime).where(
        Downtime.resource_id.in_(resource_ids),
        Downtime.starts_at < ends_at,
        Downtime.ends_at > starts_at,
    )
    return list(session.scalars(stmt))
