"""Use cases on the taxonomy, sites, resources, capacity windows and capacity search."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sharefab.capacity import repository
from sharefab.capacity.models import (
    Capability,
    CapacityWindow,
    Downtime,
    Resource,
    ResourceCapability,
    Site,
)
from sharefab.capacity.schemas import (
    CapacityMatch,
    FreeSpan,
    ResourceCapabilityIn,
    ResourceCreate,
    ResourceUpdate,
    SiteCreate,
    SiteUpdate,
    WindowCreate,
    WindowUpdate,
)
from sharefab.capacity.taxonomy import load_taxonomy
from sharefab.identity.principal import Principal, get_readable, tenant_filters, writable
from sharefab.kit.errors import Conflict, InvalidInput, NotFound, field_error
from sharefab.kit.geo import haversine_km
from sharefab.kit.timespan import Span, clip, minutes, subtract
from sharefab.market import service as market

# --- taxonomy -----------------------------------------------------------------------------


def sync_taxonomy(session: Session) -> int:
    """Insert or update every capability of the shipped taxonomy; returns how many there are."""
    existing = {c.code: c for c in session.scalars(select(Capability))}
    taxonomy = load_taxonomy()
    for cap in taxonomy.capabilities:
        row = existing.get(cap.code)
        if row is None:
            row = Capability(code=cap.code)
            session.add(row)
        row.family = cap.family
        row.name = cap.name
        row.name_zh = cap.name_zh
        row.description = cap.description
    session.flush()
    return len(taxonomy.capabilities)


def get_capability(session: Session, code: str) -> Capability:
    """One capability, or 404 with the closest codes as suggestions."""
    row = session.get(Capability, code)
    if row is None:
        raise NotFound(unknown_capability_message(session, code))
    return row


def unknown_capability_message(session: Session, code: str) -> str:
    """'unknown capability X; did you mean ...' with the closest known codes."""
    close = difflib.get_close_matches(code, sorted(repository.capability_codes(session)), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown capability code '{code}'{hint} (GET /api/v1/capabilities lists the taxonomy)"


def check_capability_codes(session: Session, codes: list[tuple[str, str]]) -> None:
    """Reject codes not in the taxonomy; `codes` pairs each code with its field path."""
    known = repository.capability_codes(session)
    errors = [
        field_error(field, unknown_capability_message(session, code))
        for code, field in codes
        if code not in known
    ]
    if errors:
        raise InvalidInput(errors[0]["message"], errors=errors)


# --- sites --------------------------------------------------------------------------------


def create_site(session: Session, principal: Principal, data: SiteCreate) -> Site:
    """Add a factory location to the caller's organisation."""
    site = Site(organization_id=principal.organization_id, **data.model_dump())
    session.add(site)
    session.flush()
    return site


def get_site(session: Session, principal: Principal, site_id: int) -> Site:
    """A site the caller may see, or 404."""
    return get_readable(session, principal, Site, site_id, "site")


def visible_sites(
    principal: Principal, organization_id: int | None, region: str | None
) -> Select[Site]:
    """Sites the caller may list."""
    narrowed = tenant_filters(principal, {"organization_id": organization_id})
    return repository.list_sites(narrowed["organization_id"], region)


def update_site(session: Session, principal: Principal, site_id: int, data: SiteUpdate) -> Site:
    """Change the given fields of one of the caller's sites."""
    site = get_site(session, principal, site_id)
    writable(principal, site.organization_id, "site", site_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(site, key, value)
    session.flush()
    return site


def delete_site(session: Session, principal: Principal, site_id: int) -> None:
    """Remove a site and its resources; refused while any of them holds a booking."""
    site = get_site(session, principal, site_id)
    writable(principal, site.organization_id, "site", site_id)
    resource_ids = list(session.scalars(select(Resource.id).where(Resource.site_id == site.id)))
    if market.resources_have_bookings(session, resource_ids):
        raise Conflict(
            f"site {site_id} has resources with live bookings; cancel or finish them first"
        )
    session.delete(site)
    session.flush()


# --- resources ----------------------------------------------------------------------------


def _capability_rows(caps: list[ResourceCapabilityIn]) -> list[ResourceCapability]:
    return [
        ResourceCapability(
            capability_code=c.code,
            materials=sorted(set(c.materials)),
            max_envelope_mm=list(c.max_envelope_mm) if c.max_envelope_mm else None,
            tolerance_um=c.tolerance_um,
            certifications=sorted(set(c.certifications)),
        )
        for c in caps
    ]


def create_resource(session: Session, principal: Principal, data: ResourceCreate) -> Resource:
    """Add a resource to one of the caller's sites."""
    site = session.get(Site, data.site_id)
    if site is None or not principal.owns(site.organization_id):
        raise InvalidInput(
            f"site {data.site_id} is not one of your sites; create the site first or pick another",
            errors=[field_error("body.site_id", "not one of your sites")],
        )
    check_capability_codes(
        session,
        [(c.code, f"body.capabilities[{i}].code") for i, c in enumerate(data.capabilities)],
    )
    resource = Resource(
        organization_id=site.organization_id,
        **data.model_dump(exclude={"capabilities"}),
        capabilities=_capability_rows(data.capabilities),
    )
    session.add(resource)
    session.flush()
    return resource


def get_resource(session: Session, principal: Principal, resource_id: int) -> Resource:
    """A resource the caller may see, or 404."""
    return get_readable(session, principal, Resource, resource_id, "resource")


def visible_resources(principal: Principal, **filters: Any) -> Select[Resource]:
    """Resources the caller may list."""
    return repository.list_resources(**tenant_filters(principal, filters))


def update_resource(
    session: Session, principal: Principal, resource_id: int, data: ResourceUpdate
) -> Resource:
    """Change the given fields; a capability list given replaces the old one."""
    resource = get_resource(session, principal, resource_id)
    writable(principal, resource.organization_id, "resource", resource_id)
    values = data.model_dump(exclude_unset=True, exclude={"capabilities"})
    for key, value in values.items():
        if value is not None:
            setattr(resource, key, value)
    if data.capabilities is not None:
        check_capability_codes(
            session,
            [(c.code, f"body.capabilities[{i}].code") for i, c in enumerate(data.capabilities)],
        )
        repository.replace_capabilities(session, resource)
        resource.capabilities = _capability_rows(data.capabilities)
    session.flush()
    session.refresh(resource)
    return resource


def delete_resource(session: Session, principal: Principal, resource_id: int) -> None:
    """Remove a resource; refused while it holds a booking."""
    resource = get_resource(session, principal, resource_id)
    writable(principal, resource.organization_id, "resource", resource_id)
    if market.resources_have_bookings(session, [resource.id]):
        raise Conflict(
            f"resource {resource_id} holds live bookings; cancel or finish them, "
            "or mark it inactive instead"
        )
    session.delete(resource)
    session.flush()


# --- capacity windows ---------------------------------------------------------------------


def _no_overlap(
    session: Session, resource_id: int, starts_at: datetime, ends_at: datetime, exclude: int | None
) -> None:
    clash = repository.overlapping_windows(session, resource_id, starts_at, ends_at, exclude)
    if clash:
        other = clash[0]
        raise Conflict(
            f"the window overlaps window {other.id} of resource {resource_id} "
            f"({other.starts_at.isoformat()} to {other.ends_at.isoformat()}); "
            "move it, or change that window instead",
            errors=[field_error("body.starts_at", f"overlaps window {other.id}")],
        )


def create_window(session: Session, principal: Principal, data: WindowCreate) -> CapacityWindow:
    """Offer a span of one of the caller's resources; windows of one resource never overlap."""
    resource = session.get(Resource, data.resource_id)
    if resource is None or not principal.owns(resource.organization_id):
        raise InvalidInput(
            f"resource {data.resource_id} is not one of your resources; pick one of yours",
            errors=[field_error("body.resource_id", "not one of your resources")],
        )
    _no_overlap(session, resource.id, data.starts_at, data.ends_at, None)
    window = CapacityWindow(organization_id=resource.organization_id, **data.model_dump())
    session.add(window)
    session.flush()
    return window


def get_window(session: Session, principal: Principal, window_id: int) -> CapacityWindow:
    """A capacity window the caller may see, or 404."""
    return get_readable(session, principal, CapacityWindow, window_id, "capacity window")


def visible_windows(principal: Principal, **filters: Any) -> Select[CapacityWindow]:
    """Windows the caller may list."""
    return repository.list_windows(**tenant_filters(principal, filters))


def update_window(
    session: Session, principal: Principal, window_id: int, data: WindowUpdate
) -> CapacityWindow:
    """Move or re-note a window; the result must still be positive and overlap-free."""
    window = get_window(session, principal, window_id)
    writable(principal, window.organization_id, "capacity window", window_id)
    starts_at = data.starts_at or window.starts_at
    ends_at = data.ends_at or window.ends_at
    if ends_at <= starts_at:
        raise InvalidInput(
            "ends_at must be after starts_at; a window needs a positive length",
            errors=[field_error("body.ends_at", "must be after starts_at")],
        )
    _no_overlap(session, window.resource_id, starts_at, ends_at, window.id)
    window.starts_at, window.ends_at = starts_at, ends_at
    if data.note is not None:
        window.note = data.note
    session.flush()
    return window


def delete_window(session: Session, principal: Principal, window_id: int) -> None:
    """Withdraw one of the caller's windows."""
    window = get_window(session, principal, window_id)
    writable(principal, window.organization_id, "capacity window", window_id)
    session.delete(window)
    session.flush()


# --- capacity search ----------------------------------------------------------------------


def search_capacity(
    session: Session,
    principal: Principal,
    *,
    capability: str,
    starts_at: datetime,
    ends_at: datetime,
    material: str | None = None,
    near_site_id: int | None = None,
    min_free_minutes: int = 1,
    max_distance_km: float | None = None,
) -> list[CapacityMatch]:
    """Resources offering `capability` (and `material`) with free time in the span.

    Free time is the offered windows inside `[starts_at, ends_at)` minus live bookings.
    Results come nearest first when `near_site_id` is given, else most free time first.
    """
    if ends_at <= starts_at:
        raise InvalidInput(
            "end must be after start; search a span of positive length",
            errors=[field_error("query.end", "must be after start")],
        )
    get_capability(session, capability)
    origin = None
    if near_site_id is not None:
        origin = session.get(Site, near_site_id)
        if origin is None or not principal.can_read(origin.organization_id):
            raise InvalidInput(
                f"site {near_site_id} does not exist; pass the id of a site as near_site",
                errors=[field_error("query.near_site", "no such site")],
            )
    candidates = [
        (r, rc, s)
        for r, rc, s in repository.search_candidates(session, capability)
        if material is None or _material_ok(rc.materials, material)
    ]
    ids = [r.id for r, _, _ in candidates]
    offered: dict[int, list[tuple[datetime, datetime]]] = {i: [] for i in ids}
    for w in repository.windows_in_span(session, ids, starts_at, ends_at):
        span = clip((w.starts_at, w.ends_at), (starts_at, ends_at))
        if span:
            offered[w.resource_id].append(span)
    booked = market.booked_spans(session, ids, starts_at, ends_at)

    matches: list[CapacityMatch] = []
    for resource, rc, site in candidates:
        free = [s for s in subtract(offered[resource.id], booked.get(resource.id, [])) if s]
        free_minutes = sum(minutes(s) for s in free)
        if free_minutes < min_free_minutes:
            continue
        distance = (
            round(haversine_km(origin.latitude, origin.longitude, site.latitude, site.longitude), 1)
            if origin
            else None
        )
        if max_distance_km is not None and distance is not None and distance > max_distance_km:
            continue
        # The shop window: another provider's identity stays hidden until a quote names it.
        known = principal.can_read(resource.organization_id)
        matches.append(
            CapacityMatch(
                resource_id=resource.id if known else None,
                resource_name=resource.name if known else None,
                resource_class=resource.resource_class,
                kind=resource.kind,
                organization_id=resource.organization_id if known else None,
                site_id=site.id if known else None,
                site_name=site.name if known else None,
                city=site.city,
                region=site.region,
                distance_km=distance,
                hourly_rate_minor=resource.hourly_rate_minor,
                currency=resource.currency,
                free_minutes=free_minutes,
                free_spans=[
                    FreeSpan(starts_at=a, ends_at=b, minutes=minutes((a, b))) for a, b in free
                ],
                materials=rc.materials,
                tolerance_um=rc.tolerance_um,
                certifications=rc.certifications,
            )
        )
    if origin is not None:
        matches.sort(key=lambda m: (m.distance_km or 0.0, -m.free_minutes))
    else:
        matches.sort(key=lambda m: -m.free_minutes)
    return matches


def _material_ok(materials: list[str], wanted: str) -> bool:
    """A resource with no material list takes any material; else the material must be listed."""
    return not materials or wanted.lower() in {m.lower() for m in materials}


# --- availability (for matching and replanning) -------------------------------------------


def candidates_for(
    session: Session, capability: str
) -> list[tuple[Resource, ResourceCapability, Site]]:
    """Every resource offering `capability` (active or not), with its capability row and site."""
    return repository.search_candidates(session, capability, active_only=False)


def resources_exist(session: Session, resource_ids: set[int]) -> bool:
    """Whether every one of `resource_ids` still exists (read now, not from the session's cache)."""
    return repository.count_resources(session, resource_ids) == len(resource_ids)


def unavailable_spans(
    session: Session, resource_ids: list[int], starts_at: datetime, ends_at: datetime
) -> tuple[dict[int, list[Span]], dict[int, list[Span]]]:
    """Per resource: its offered windows, and its downtimes, touching the span."""
    windows: dict[int, list[Span]] = {i: [] for i in resource_ids}
    for w in repository.windows_in_span(session, resource_ids, starts_at, ends_at):
        windows[w.resource_id].append((w.starts_at, w.ends_at))
    down: dict[int, list[Span]] = {i: [] for i in resource_ids}
    for d in repository.downtimes_in_span(session, resource_ids, starts_at, ends_at):
        down[d.resource_id].append((d.starts_at, d.ends_at))
    return windows, down


def add_downtime(
    session: Session, resource_id: int, starts_at: datetime, ends_at: datetime, reason: str
) -> Downtime:
    """Mark a resource unavailable for a span (a breakdown)."""
    row = Downtime(resource_id=resource_id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    session.add(row)
    session.flush()
    return row


def end_downtime(
    session: Session, resource_id: int, at: datetime
) -> list[tuple[datetime, datetime]]:
    """Cut short the downtimes of a resource that are running at `at` (it was repaired);
    returns the spans that became free (empty: it was not down)."""
    rows = repository.downtimes_in_span(session, [resource_id], at, at + timedelta(seconds=1))
    freed = []
    for row in rows:
        end = max(row.starts_at + timedelta(seconds=1), at)
        freed.append((end, row.ends_at))
        row.ends_at = end
    session.flush()
    return freed


def taxonomy(session: Session) -> list[Capability]:
    """Every capability of the taxonomy, by code (for pickers)."""
    return list(session.scalars(repository.list_capabilities(None, None)))


def family_names() -> dict[str, tuple[str, str]]:
    """Each capability family's (English, Chinese) name, by family code."""
    return {f.code: (f.name, f.name_zh) for f in load_taxonomy().families}
