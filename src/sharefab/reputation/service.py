"""Use cases of reputation: record what happened, rate counter-parties, read credit scores.

The marketplace and execution call the `record_*` functions and `rate` inside their own
transaction (these write, never commit). Each recorded event updates the counts behind the
organisation's score in one role and recomputes the score by the published formula
(`formula.py`, `docs/credit-score.md`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from sharefab.identity import service as identity
from sharefab.identity.principal import Principal
from sharefab.kit.errors import Conflict, InvalidInput, field_error
from sharefab.kit.types import utcnow
from sharefab.reputation import formula, repository
from sharefab.reputation.models import CreditScore, PartyRole, Rating

RATEABLE_STATUSES = frozenset({"completed", "delivered", "closed"})
PROVIDER_FIELDS = (
    "operations",
    "on_time_operations",
    "quantity_done",
    "quantity_scrapped",
    "response_samples",
    "response_minutes_total",
    "disputes",
    "rating_count",
    "rating_points",
)
BUYER_FIELDS = (
    "orders_placed",
    "orders_cancelled",
    "payments",
    "payments_on_time",
    "disputes",
    "rating_count",
    "rating_points",
)


def _count(value: Any, name: str) -> int:
    """A whole, non-negative count; floats and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number (an int), not {type(value).__name__}")
    if value < 0:
        raise InvalidInput(f"{name} must not be negative, got {value}")
    return value


# --- scores ---------------------------------------------------------------------------------


def provider_inputs(row: CreditScore) -> formula.ProviderInputs:
    """The formula's provider inputs held by a score row."""
    return formula.ProviderInputs(**{f: getattr(row, f) or 0 for f in PROVIDER_FIELDS})


def buyer_inputs(row: CreditScore) -> formula.BuyerInputs:
    """The formula's buyer inputs held by a score row."""
    return formula.BuyerInputs(**{f: getattr(row, f) or 0 for f in BUYER_FIELDS})


def compute(row: CreditScore) -> int:
    """The score the formula gives for the row's inputs in its role."""
    if row.role == PartyRole.provider:
        return formula.provider_score(provider_inputs(row))
    return formula.buyer_score(buyer_inputs(row))


def components(row: CreditScore) -> dict[str, float]:
    """Each component of the row's score, in [0, 1]."""
    parts = (
        formula.provider_components(provider_inputs(row))
        if row.role == PartyRole.provider
        else formula.buyer_components(buyer_inputs(row))
    )
    return {k: round(float(v), 6) for k, v in parts.items()}


def _blank(organization_id: int, role: PartyRole) -> CreditScore:
    row = CreditScore(organization_id=organization_id, role=role, updated_at=utcnow())
    for name in {*PROVIDER_FIELDS, *BUYER_FIELDS}:
        setattr(row, name, 0)
    row.formula_version = formula.FORMULA_VERSION
    row.score = compute(row)
    return row


def _bump(session: Session, organization_id: int, role: PartyRole, **increments: int) -> None:
    """Add `increments` to the organisation's counts in `role` and recompute its score."""
    _count(organization_id, "organization_id")
    row = repository.get_or_create_score(session, _blank(organization_id, role))
    for name, delta in increments.items():
        setattr(row, name, (getattr(row, name) or 0) + delta)
    row.formula_version = formula.FORMULA_VERSION
    row.score = compute(row)
    row.updated_at = utcnow()
    session.flush()


def _score(session: Session, organization_id: int, role: PartyRole) -> CreditScore:
    found = repository.score_of(session, organization_id, role)
    return found if found is not None else _blank(organization_id, role)


def provider_score(session: Session, org_id: int) -> CreditScore:
    """The organisation's provider score with its inputs (the prior's score if no history;
    such a row is not added to the session)."""
    return _score(session, org_id, PartyRole.provider)


def buyer_score(session: Session, org_id: int) -> CreditScore:
    """The organisation's buyer score with its inputs (the prior's score if no history)."""
    return _score(session, org_id, PartyRole.buyer)


def matching_weight(session: Session, org_id: int) -> float:
    """The multiplier matching applies to a provider, `0.5 + score / 2000` in [0.5, 1.0];
    0.889 for a provider with no history (score 778)."""
    return formula.matching_weight(provider_score(session, org_id).score)


def matching_weights(session: Session, org_ids: list[int]) -> dict[int, float]:
    """`matching_weight` of several providers in one read."""
    found = {
        r.organization_id: r
        for r in repository.scores_in_role(session, org_ids, PartyRole.provider)
    }
    return {
        o: formula.matching_weight(
            (found[o] if o in found else _blank(o, PartyRole.provider)).score
        )
        for o in org_ids
    }


# --- events ---------------------------------------------------------------------------------


def record_operation_outcome(
    session: Session,
    *,
    provider_org_id: int,
    on_time: bool,
    quantity_done: int,
    quantity_scrapped: int,
    response_minutes: int | None,
) -> None:
    """A provider completed an operation: on time or not (by its promised end), good units
    done, units scrapped, and minutes from commit to start if known."""
    if not isinstance(on_time, bool):
        raise InvalidInput(f"on_time must be true or false, got {on_time!r}")
    increments = {
        "operations": 1,
        "on_time_operations": int(on_time),
        "quantity_done": _count(quantity_done, "quantity_done"),
        "quantity_scrapped": _count(quantity_scrapped, "quantity_scrapped"),
    }
    if response_minutes is not None:
        increments["response_samples"] = 1
        increments["response_minutes_total"] = _count(response_minutes, "response_minutes")
    _bump(session, provider_org_id, PartyRole.provider, **increments)


def record_dispute(session: Session, *, provider_org_id: int, buyer_org_id: int) -> None:
    """A dispute was opened on an order: it counts against both parties."""
    _bump(session, provider_org_id, PartyRole.provider, disputes=1)
    _bump(session, buyer_org_id, PartyRole.buyer, disputes=1)


def record_order_placed(session: Session, *, buyer_org_id: int) -> None:
    """A buyer committed to an order (accepted a quote)."""
    _bump(session, buyer_org_id, PartyRole.buyer, orders_placed=1)


def record_order_cancelled(session: Session, *, buyer_org_id: int) -> None:
    """A buyer cancelled an order it had committed to."""
    _bump(session, buyer_org_id, PartyRole.buyer, orders_cancelled=1)


def record_payment(session: Session, *, buyer_org_id: int, on_time: bool) -> None:
    """A buyer paid (funded an escrow or settled), on time or late."""
    if not isinstance(on_time, bool):
        raise InvalidInput(f"on_time must be true or false, got {on_time!r}")
    _bump(session, buyer_org_id, PartyRole.buyer, payments=1, payments_on_time=int(on_time))


# --- ratings --------------------------------------------------------------------------------


def rate(
    session: Session,
    principal: Principal,
    *,
    order_id: int,
    order_status: str,
    buyer_org_id: int,
    provider_org_ids: set[int],
    ratee_org_id: int,
    score: int,
    comment: str = "",
) -> Rating:
    """The caller's organisation rates a counter-party of a finished order, once.

    The buyer rates a provider of the order, or a provider rates the buyer. The order must be
    completed, delivered or closed (409 otherwise); a second rating of the same ratee for the
    same order is refused (409); anything else that is not a party relation is 422. The ratee's
    score in that role is recomputed. (The caller has already checked the order is visible.)
    """
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInput(
            f"score must be a whole number of stars from 1 to 5, got {score!r}",
            errors=[field_error("body.score", "an integer 1-5")],
        )
    if not isinstance(comment, str) or len(comment) > 2000:
        raise InvalidInput(
            "comment must be text of at most 2000 characters",
            errors=[field_error("body.comment", "at most 2000 characters")],
        )
    status = getattr(order_status, "value", order_status)
    if status not in RATEABLE_STATUSES:
        raise Conflict(
            f"order {order_id} is {status}; rate it once it is "
            f"{', '.join(sorted(RATEABLE_STATUSES))}"
        )
    rater = principal.organization_id
    if rater == ratee_org_id:
        raise InvalidInput(
            "an organisation cannot rate itself; rate a counter-party of the order",
            errors=[field_error("body.ratee_organization_id", "your own organisation")],
        )
    if rater == buyer_org_id and ratee_org_id in provider_org_ids:
        role = PartyRole.buyer
    elif rater in provider_org_ids and ratee_org_id == buyer_org_id:
        role = PartyRole.provider
    else:
        raise InvalidInput(
            f"organisation {ratee_org_id} is not your counter-party on order {order_id}: "
            "the buyer rates the order's providers, a provider rates the buyer",
            errors=[field_error("body.ratee_organization_id", "not a counter-party")],
        )
    if repository.rating_exists(session, order_id, rater, ratee_org_id):
        raise Conflict(
            f"you already rated organisation {ratee_org_id} for order {order_id}; "
            "one rating per order and counter-party"
        )
    rating = Rating(
        order_id=order_id,
        rater_organization_id=rater,
        ratee_organization_id=ratee_org_id,
        rater_role=role,
        rater_user_id=principal.user_id,
        score=score,
        comment=comment.strip(),
    )
    session.add(rating)
    session.flush()
    ratee_role = PartyRole.provider if role == PartyRole.buyer else PartyRole.buyer
    _bump(session, ratee_org_id, ratee_role, rating_count=1, rating_points=score - 1)
    return rating


# --- what callers may see -------------------------------------------------------------------


def visible_ratings(
    principal: Principal, *, order_id: int | None = None, direction: str | None = None
) -> Select[Rating]:
    """Ratings given by or about the caller's organisation; the operator sees all."""
    organization_id = None if principal.is_operator else principal.organization_id
    if principal.is_operator and direction is not None:
        organization_id = principal.organization_id
    return repository.list_ratings(
        organization_id=organization_id, order_id=order_id, direction=direction
    )


def scores_for(
    session: Session, principal: Principal, organization_id: int
) -> tuple[int, CreditScore | None, CreditScore | None]:
    """The provider and buyer scores of an organisation the caller may see (own or operator).

    A role's score appears if the organisation plays that role or has history in it.
    """
    org = identity.get_organization(session, principal, organization_id)
    stored = {row.role: row for row in repository.scores_of(session, org.id)}
    provider = stored.get(PartyRole.provider) or (
        _blank(org.id, PartyRole.provider) if org.is_provider else None
    )
    buyer = stored.get(PartyRole.buyer) or (
        _blank(org.id, PartyRole.buyer) if org.is_buyer else None
    )
    return org.id, provider, buyer
