"""Queries on organisations."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sharefab.identity.models import ApiKey, Organization


def slug_taken(session: Session, slug: str) -> bool:
    """Whether an organisation already uses `slug`."""
    return session.scalar(select(func.count()).where(Organization.slug == slug)) != 0


def list_organizations(role: str | None = None, q: str | None = None) -> Select[Organization]:
    """Organisations, optionally only providers or buyers, or those whose name contains `q`."""
    stmt = select(Organization).order_by(Organization.id)
    if role == "provider":
        stmt = stmt.where(Organization.is_provider.is_(True))
    elif role == "buyer":
        stmt = stmt.where(Organization.is_buyer.is_(True))
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            func.lower(Organization.name).like(pattern)
            | func.lower(func.coalesce(Organization.name_local, "")).like(pattern)
        )
    return stmt


def api_keys_of(organization_id: int) -> Select[ApiKey]:
    """An organisation's API keys, oldest first."""
    return select(ApiKey).where(ApiKey.organization_id == organization_id).order_by(ApiKey.id)
