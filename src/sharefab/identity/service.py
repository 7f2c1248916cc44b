"""Use cases on organisations and users, each authorised for the calling principal.

An object the caller may not see is answered as not found, never as forbidden, so that its
existence is not confirmed; forbidden is only for objects the caller can see but not change.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sharefab.identity import repository, security
from sharefab.identity.models import Membership, Organization, Role, User
from sharefab.identity.principal import Principal
from sharefab.identity.schemas import OrganizationCreate, OrganizationUpdate, UserCreate
from sharefab.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error


def slugify(text: str) -> str:
    """A URL-safe handle from a name (`Kunshan Hengda Precision` -> `kunshan-hengda-precision`)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:70]
    return slug or "org"


def unique_slug(session: Session, name: str) -> str:
    """A slug from `name` that no organisation uses yet."""
    base = slugify(name)
    slug, n = base, 1
    while repository.slug_taken(session, slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- organisations ------------------------------------------------------------------------


def create_organization(
    session: Session, principal: Principal, data: OrganizationCreate
) -> Organization:
    """Onboard an organisation (the operator's job); its slug must be unique."""
    if not principal.is_operator:
        raise Forbidden("only the platform operator onboards organisations; ask the operator")
    if data.slug is not None and repository.slug_taken(session, data.slug):
        raise Conflict(
            f"slug '{data.slug}' is taken by another organisation; choose another",
            errors=[field_error("body.slug", "already taken")],
        )
    slug = data.slug or unique_slug(session, data.name)
    org = Organization(**data.model_dump(exclude={"slug"}), slug=slug)
    session.add(org)
    session.flush()
    return org


def visible_organizations(
    principal: Principal, role: str | None = None, q: str | None = None
) -> Select[Organization]:
    """The organisations the caller may list: all for the operator, else its own."""
    stmt = repository.list_organizations(role, q)
    if not principal.is_operator:
        stmt = stmt.where(Organization.id == principal.organization_id)
    return stmt


def get_organization(session: Session, principal: Principal, organization_id: int) -> Organization:
    """An organisation the caller may see, or 404."""
    org = session.get(Organization, organization_id)
    if org is None or not (principal.is_operator or principal.owns(org.id)):
        raise NotFound(f"organization {organization_id} does not exist")
    return org


def organization_name(session: Session, organization_id: int) -> str:
    """An organisation's display name (for counter-parties a quote or booking names)."""
    org = session.get(Organization, organization_id)
    return org.name if org else f"organization {organization_id}"


def organization_names(session: Session, organization_ids: list[int]) -> dict[int, str]:
    """Display names of several organisations in one read."""
    if not organization_ids:
        return {}
    rows = session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(organization_ids))
    )
    names: dict[int, str] = dict(rows.all())
    return {o: names.get(o, f"organization {o}") for o in organization_ids}


def organization_exists(session: Session, organization_id: int) -> bool:
    """Whether an organisation with this id exists (for checks that need no visibility)."""
    return session.get(Organization, organization_id) is not None


def update_organization(
    session: Session, principal: Principal, organization_id: int, data: OrganizationUpdate
) -> Organization:
    """Change an organisation's name, roles or country (its admins, or the operator)."""
    org = get_organization(session, principal, organization_id)
    if not principal.is_admin:
        raise Forbidden("only an admin of the organisation can change it")
    values = data.model_dump(exclude_unset=True)
    if not principal.is_operator:
        for field in ("is_provider", "is_buyer"):
            if field in values and values[field] != getattr(org, field):
                raise Forbidden(f"only the operator changes {field}; ask the operator")
    for key, value in values.items():
        if value is None and key != "name_local":
            continue
        setattr(org, key, value)
    session.flush()
    return org


def delete_organization(session: Session, principal: Principal, organization_id: int) -> None:
    """Remove an organisation and everything it owns (operator only)."""
    org = get_organization(session, principal, organization_id)
    if not principal.is_operator:
        raise Forbidden("only the platform operator removes organisations")
    if org.is_operator:
        raise Conflict("the operator's own organisation cannot be removed")
    session.delete(org)
    session.flush()


# --- users --------------------------------------------------------------------------------


def create_user(
    session: Session, principal: Principal, data: UserCreate
) -> tuple[User, Membership]:
    """Add a user to the caller's organisation (admins), or to any (the operator)."""
    if not principal.is_admin or principal.api_key_id is not None:
        raise Forbidden("only an admin of the organisation can add users")
    organization_id = principal.organization_id
    if data.organization_id is not None and data.organization_id != organization_id:
        if not principal.is_operator:
            raise InvalidInput(
                "you can add users to your own organisation only; leave organization_id out",
                errors=[field_error("body.organization_id", "not your organisation")],
            )
        organization_id = data.organization_id
    org = session.get(Organization, organization_id)
    if org is None:
        raise InvalidInput(
            f"organization {organization_id} does not exist",
            errors=[field_error("body.organization_id", "no such organisation")],
        )
    if data.role == Role.operator and not org.is_operator:
        raise InvalidInput(
            "the operator role exists only in the operator's organisation; use admin or member",
            errors=[field_error("body.role", "operator role outside the operator")],
        )
    if session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise Conflict(
            f"{data.email} is already registered; sign in with it or use another address",
            errors=[field_error("body.email", "already registered")],
        )
    user = User(
        email=data.email,
        full_name=data.full_name,
        password_hash=security.hash_password(data.password),
    )
    session.add(user)
    session.flush()
    member = Membership(user_id=user.id, organization_id=org.id, role=data.role)
    session.add(member)
    session.flush()
    return user, member


def visible_members(principal: Principal) -> Select[User, Membership]:
    """Users with their membership: the caller's organisation, or all for the operator."""
    stmt = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.id, Membership.organization_id)
    )
    if not principal.is_operator:
        stmt = stmt.where(Membership.organization_id == principal.organization_id)
    return stmt


def get_member(session: Session, principal: Principal, user_id: int) -> tuple[User, Membership]:
    """A user in the caller's organisation (or any, for the operator), or 404."""
    row = session.execute(visible_members(principal).where(User.id == user_id)).first()
    if row is None:
        raise NotFound(f"user {user_id} does not exist")
    user, membership = row
    return user, membership


def remove_member(session: Session, principal: Principal, user_id: int) -> None:
    """Take a user out of the organisation; a user left in none is deactivated."""
    user, member = get_member(session, principal, user_id)
    if not principal.is_admin or principal.api_key_id is not None:
        raise Forbidden("only an admin of the organisation can remove users")
    if user.id == principal.user_id:
        raise Conflict("you cannot remove yourself; ask another admin")
    session.delete(member)
    session.flush()
    if session.scalar(select(Membership.id).where(Membership.user_id == user.id)) is None:
        user.is_active = False
    session.flush()
