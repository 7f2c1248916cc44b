"""Queries on ratings and credit scores."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sharefab.reputation.models import CreditScore, PartyRole, Rating


def scores_in_role(
    session: Session, organization_ids: list[int], role: PartyRole
) -> list[CreditScore]:
    """The stored scores of several organisations in one role."""
    return list(
        session.scalars(
            select(CreditScore).where(
                CreditScore.organization_id.in_(organization_ids), CreditScore.role == role
            )
        )
    )


def score_of(
    session: Session, organization_id: int, role: PartyRole, *, lock: bool = False
) -> CreditScore | None:
    """The stored score of an organisation in one role."""
    stmt = select(CreditScore).where(
        CreditScore.organization_id == organization_id, CreditScore.role == role
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def scores_of(session: Session, organization_id: int) -> list[CreditScore]:
    """Every stored score of an organisation."""
    stmt = select(CreditScore).where(CreditScore.organization_id == organization_id)
    return list(session.scalars(stmt.order_by(CreditScore.role)))


def get_or_create_score(session: Session, template: CreditScore) -> CreditScore:
    """The score row for the template's organisation and role, locked; created if new.

    A concurrent creator loses inside a savepoint and reads the winner's row.
    """
    found = score_of(session, template.organization_id, template.role, lock=True)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(template)
            session.flush()
    except IntegrityError:
        found = score_of(session, template.organization_id, template.role, lock=True)
        if found is None:
            raise
        return found
    return template


def rating_exists(session: Session, order_id: int, rater_id: int, ratee_id: int) -> bool:
    """Whether the rater already rated the ratee for this order."""
    stmt = select(Rating.id).where(
        Rating.order_id == order_id,
        Rating.rater_organization_id == rater_id,
        Rating.ratee_organization_id == ratee_id,
    )
    return session.scalar(stmt) is not None


def list_ratings(
    *,
    organization_id: int | None = None,
    order_id: int | None = None,
    direction: str | None = None,
) -> Select[Rating]:
    """Ratings given by or about an organisation (all when None), oldest first.

    `direction`: "given" (by the organisation), "received" (about it), or None (both).
    """
    stmt = select(Rating).order_by(Rating.id)
    if organization_id is not None:
        given = Rating.rater_organization_id == organization_id
        received = Rating.ratee_organization_id == organization_id
        if direction == "given":
            stmt = stmt.where(given)
        elif direction == "received":
            stmt = stmt.where(received)
        else:
            stmt = stmt.where(or_(given, received))
    if order_id is not None:
        stmt = stmt.where(Rating.order_id == order_id)
    return stmt
