"""Routes: /api/v1/credit (scores) and /api/v1/ratings (read; the marketplace posts ratings)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep
from sharefab.kit.pagination import Page, PageDep
from sharefab.kit.repository import paginate
from sharefab.reputation import formula, service
from sharefab.reputation.models import CreditScore, PartyRole
from sharefab.reputation.schemas import CreditPublic, CreditScorePublic, RatingPublic

credit_router = APIRouter(
    prefix="/credit",
    tags=["reputation"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(scoped("reputation"))],
)
ratings_router = APIRouter(
    prefix="/ratings",
    tags=["reputation"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(scoped("reputation"))],
)


def _score(row: CreditScore | None) -> CreditScorePublic | None:
    if row is None:
        return None
    fields = service.PROVIDER_FIELDS if row.role == PartyRole.provider else service.BUYER_FIELDS
    return CreditScorePublic(
        organization_id=row.organization_id,
        role=row.role,
        score=row.score,
        has_history=row.id is not None,
        matching_weight=formula.matching_weight(row.score)
        if row.role == PartyRole.provider
        else None,
        inputs={f: getattr(row, f) or 0 for f in fields},
        components=service.components(row),
        formula_version=row.formula_version,
        updated_at=row.updated_at if row.id is not None else None,
    )


def _credit(session: SessionDep, principal: CurrentPrincipal, organization_id: int) -> CreditPublic:
    org_id, provider, buyer = service.scores_for(session, principal, organization_id)
    return CreditPublic(organization_id=org_id, provider=_score(provider), buyer=_score(buyer))


@credit_router.get("/me")
def my_credit(session: SessionDep, principal: CurrentPrincipal) -> CreditPublic:
    """Your organisation's provider and buyer scores, with their inputs and components."""
    return _credit(session, principal, principal.organization_id)


@credit_router.get("/{organization_id}")
def organization_credit(
    session: SessionDep, principal: CurrentPrincipal, organization_id: int
) -> CreditPublic:
    """An organisation's scores: your own, or any for the operator."""
    return _credit(session, principal, organization_id)


@ratings_router.get("")
def list_ratings(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    order_id: int | None = None,
    direction: Literal["given", "received"] | None = None,
) -> Page[RatingPublic]:
    """Ratings given by or about your organisation (the operator sees all)."""
    stmt = service.visible_ratings(principal, order_id=order_id, direction=direction)
    rows, total = paginate(session, stmt, page)
    items = [RatingPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
