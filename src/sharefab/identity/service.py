"""Use cases on organisations."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.orm import Session

from sharefab.identity import repository
from sharefab.identity.models import Organization
from sharefab.identity.schemas import OrganizationCreate, OrganizationUpdate
from sharefab.kit.errors import Conflict, field_error
from sharefab.kit.repository import get_or_404


def slugify(text: str) -> str:
    """A URL-safe handle from a name (`Kunshan Hengda Precision` -> `kunshan-hengda-precision`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:70]
    return slug or "org"


def create_organization(session: Session, data: OrganizationCreate) -> Organization:
    """Register an organisation; its slug must be unique."""
    if data.slug is not None:
        if repository.slug_taken(session, data.slug):
            raise Conflict(
                f"slug '{data.slug}' is taken by another organisation; choose another",
                errors=[field_error("body.slug", "already taken")],
            )
        slug = data.slug
    else:
        base = slugify(data.name)
        slug, n = base, 1
        while repository.slug_taken(session, slug):
            n += 1
            slug = f"{base}-{n}"
    org = Organization(**data.model_dump(exclude={"slug"}), slug=slug)
    session.add(org)
    session.flush()
    return org


def get_organization(session: Session, organization_id: int) -> Organization:
    """The organisation, or 404."""
    return get_or_404(session, Organization, organization_id, "organization")


def update_organization(
    session: Session, organization_id: int, data: OrganizationUpdate
) -> Organization:
    """Change the given fields of an organisation."""
    org = get_organization(session, organization_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is None and key != "name_local":
            continue
        setattr(org, key, value)
    session.flush()
    return org


def delete_organization(session: Session, organization_id: int) -> None:
    """Remove an organisation and everything it owns (refused while it has live bookings)."""
    org = get_organization(session, organization_id)
    session.delete(org)
    session.flush()
