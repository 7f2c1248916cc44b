"""The published credit-score formula (docs/credit-score.md), as pure functions.

Each component is a rate in [0, 1] smoothed towards a prior (Bayesian, with pseudo-counts):
`(successes + prior_mean × prior_weight) / (trials + prior_weight)`, so an organisation with no
history gets the prior, and evidence moves it. The score is `1000 × Σ weight × component`,
rounded half up. Arithmetic is exact (fractions), so the documented examples hold to the digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

FORMULA_VERSION = 1

# Provider components: weight, prior mean, prior weight (pseudo-observations).
PROVIDER_WEIGHTS = {
    "on_time": Fraction(35, 100),
    "quality": Fraction(25, 100),
    "rating": Fraction(20, 100),
    "disputes": Fraction(10, 100),
    "response": Fraction(10, 100),
}
BUYER_WEIGHTS = {
    "payment": Fraction(40, 100),
    "commitment": Fraction(30, 100),
    "rating": Fraction(20, 100),
    "disputes": Fraction(10, 100),
}

ON_TIME_PRIOR = (Fraction(3, 4), 4)  # 3 of 4 pseudo-operations on time
QUALITY_PRIOR = (Fraction(9, 10), 50)  # 45 good of 50 pseudo-units
RATING_PRIOR = (Fraction(3, 4), 2)  # two pseudo-ratings of 4 stars ((4 - 1) / 4 = 0.75)
PROVIDER_DISPUTE_PRIOR = (Fraction(1, 10), 5)  # half a dispute in 5 pseudo-operations
RESPONSE_PRIOR = (240, 2)  # two pseudo-samples of 4 hours
RESPONSE_HALF_MINUTES = 240  # a mean response of 4 h scores 0.5
PAYMENT_PRIOR = (Fraction(4, 5), 4)
COMMITMENT_PRIOR = (Fraction(4, 5), 4)
BUYER_DISPUTE_PRIOR = (Fraction(1, 10), 4)


def smoothed(successes: int | Fraction, trials: int, prior: tuple[Fraction, int]) -> Fraction:
    """`(successes + mean × weight) / (trials + weight)` for a prior (mean, weight)."""
    mean, weight = prior
    return (Fraction(successes) + mean * weight) / (trials + weight)


def round_half_up(value: Fraction) -> int:
    """The nearest integer, halves going up (exact, no float)."""
    return int((value + Fraction(1, 2)).__floor__())


def _clamp(value: Fraction) -> Fraction:
    return max(Fraction(0), min(Fraction(1), value))


@dataclass(frozen=True)
class ProviderInputs:
    """What a provider's score is made from."""

    operations: int = 0
    on_time_operations: int = 0
    quantity_done: int = 0
    quantity_scrapped: int = 0
    response_samples: int = 0
    response_minutes_total: int = 0
    disputes: int = 0
    rating_count: int = 0
    rating_points: int = 0  # Σ (stars - 1), 0-4 per rating


@dataclass(frozen=True)
class BuyerInputs:
    """What a buyer's score is made from."""

    orders_placed: int = 0
    orders_cancelled: int = 0
    payments: int = 0
    payments_on_time: int = 0
    disputes: int = 0
    rating_count: int = 0
    rating_points: int = 0


def rating_component(rating_count: int, rating_points: int) -> Fraction:
    """Mean rating mapped to [0, 1] ((stars - 1) / 4), smoothed towards 4 stars."""
    return smoothed(Fraction(rating_points, 4), rating_count, RATING_PRIOR)


def provider_components(i: ProviderInputs) -> dict[str, Fraction]:
    """Each provider component in [0, 1]."""
    mean_response = (i.response_minutes_total + RESPONSE_PRIOR[0] * RESPONSE_PRIOR[1]) / Fraction(
        i.response_samples + RESPONSE_PRIOR[1]
    )
    return {
        "on_time": smoothed(i.on_time_operations, i.operations, ON_TIME_PRIOR),
        "quality": smoothed(i.quantity_done, i.quantity_done + i.quantity_scrapped, QUALITY_PRIOR),
        "rating": rating_component(i.rating_count, i.rating_points),
        "disputes": _clamp(1 - smoothed(i.disputes, i.operations, PROVIDER_DISPUTE_PRIOR)),
        "response": RESPONSE_HALF_MINUTES / (RESPONSE_HALF_MINUTES + mean_response),
    }


def buyer_components(i: BuyerInputs) -> dict[str, Fraction]:
    """Each buyer component in [0, 1]."""
    kept = max(0, i.orders_placed - i.orders_cancelled)
    return {
        "payment": smoothed(i.payments_on_time, i.payments, PAYMENT_PRIOR),
        "commitment": smoothed(kept, i.orders_placed, COMMITMENT_PRIOR),
        "rating": rating_component(i.rating_count, i.rating_points),
        "disputes": _clamp(1 - smoothed(i.disputes, i.orders_placed, BUYER_DISPUTE_PRIOR)),
    }


def _score(components: dict[str, Fraction], weights: dict[str, Fraction]) -> int:
    return round_half_up(1000 * sum((weights[k] * components[k] for k in weights), Fraction(0)))


def provider_score(i: ProviderInputs) -> int:
    """A provider's score, 0-1000 (778 with no history)."""
    return _score(provider_components(i), PROVIDER_WEIGHTS)


def buyer_score(i: BuyerInputs) -> int:
    """A buyer's score, 0-1000 (800 with no history)."""
    return _score(buyer_components(i), BUYER_WEIGHTS)


def matching_weight(score: int) -> float:
    """The multiplier matching applies to a provider: `0.5 + score / 2000`, in [0.5, 1.0].

    A provider with no history (score 778) weighs 0.889.
    """
    return 0.5 + max(0, min(1000, score)) / 2000
