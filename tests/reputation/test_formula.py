"""The published credit formula: the worked examples of docs/credit-score.md, to the digit."""

from __future__ import annotations

from fractions import Fraction

from sharefab.reputation import formula
from sharefab.reputation.formula import BuyerInputs, ProviderInputs

EXAMPLE_PROVIDER = ProviderInputs(
    operations=20,
    on_time_operations=18,
    quantity_done=930,
    quantity_scrapped=20,
    response_samples=8,
    response_minutes_total=120,
    disputes=1,
    rating_count=3,
    rating_points=10,  # stars 5, 4, 4 -> 4 + 3 + 3
)
POOR_PROVIDER = ProviderInputs(
    operations=20,
    on_time_operations=9,
    quantity_done=100,
    quantity_scrapped=100,
    response_samples=6,
    response_minutes_total=2400,
    disputes=4,
    rating_count=2,
    rating_points=0,  # two 1-star ratings
)
EXAMPLE_BUYER = BuyerInputs(
    orders_placed=16,
    orders_cancelled=2,
    payments=8,
    payments_on_time=7,
    disputes=0,
    rating_count=2,
    rating_points=8,  # two 5-star ratings
)


def test_new_provider_gets_the_prior() -> None:
    """No history: 0.35×0.75 + 0.25×0.9 + 0.2×0.75 + 0.1×0.9 + 0.1×0.5 = 0.7775 -> 778."""
    parts = formula.provider_components(ProviderInputs())
    assert parts == {
        "on_time": Fraction(3, 4),
        "quality": Fraction(9, 10),
        "rating": Fraction(3, 4),
        "disputes": Fraction(9, 10),
        "response": Fraction(1, 2),
    }
    assert formula.provider_score(ProviderInputs()) == 778  # 777.5 rounds half up
    assert formula.matching_weight(778) == 0.889


def test_new_buyer_gets_the_prior() -> None:
    """No history: 0.4×0.8 + 0.3×0.8 + 0.2×0.75 + 0.1×0.9 = 0.80 -> 800."""
    assert formula.buyer_score(BuyerInputs()) == 800


def test_worked_provider_example() -> None:
    """Example A: 0.35×0.875 + 0.25×0.975 + 0.2×0.8 + 0.1×0.94 + 0.1×0.8 = 0.884 -> 884."""
    parts = formula.provider_components(EXAMPLE_PROVIDER)
    assert parts == {
        "on_time": Fraction(21, 24),  # (18 + 3) / (20 + 4)
        "quality": Fraction(975, 1000),  # (930 + 45) / (950 + 50)
        "rating": Fraction(4, 5),  # (10/4 + 1.5) / (3 + 2)
        "disputes": Fraction(94, 100),  # 1 - (1 + 0.5) / (20 + 5)
        "response": Fraction(4, 5),  # mean (120 + 480) / 10 = 60 min; 240 / 300
    }
    assert formula.provider_score(EXAMPLE_PROVIDER) == 884
    assert formula.matching_weight(884) == 0.942


def test_worked_poor_provider_example() -> None:
    """Example B: 0.35×0.5 + 0.25×0.58 + 0.2×0.375 + 0.1×0.82 + 0.1×0.4 = 0.517 -> 517."""
    parts = formula.provider_components(POOR_PROVIDER)
    assert parts == {
        "on_time": Fraction(1, 2),  # (9 + 3) / 24
        "quality": Fraction(58, 100),  # (100 + 45) / (200 + 50)
        "rating": Fraction(3, 8),  # (0 + 1.5) / 4
        "disputes": Fraction(82, 100),  # 1 - 4.5 / 25
        "response": Fraction(2, 5),  # mean (2400 + 480) / 8 = 360 min; 240 / 600
    }
    assert formula.provider_score(POOR_PROVIDER) == 517
    assert formula.matching_weight(517) == 0.7585


def test_worked_buyer_example() -> None:
    """Example C: 0.4×0.85 + 0.3×0.86 + 0.2×0.875 + 0.1×0.98 = 0.871 -> 871."""
    parts = formula.buyer_components(EXAMPLE_BUYER)
    assert parts == {
        "payment": Fraction(85, 100),  # (7 + 3.2) / (8 + 4)
        "commitment": Fraction(86, 100),  # (14 + 3.2) / (16 + 4)
        "rating": Fraction(7, 8),  # (8/4 + 1.5) / (2 + 2)
        "disputes": Fraction(98, 100),  # 1 - (0 + 0.4) / (16 + 4)
    }
    assert formula.buyer_score(EXAMPLE_BUYER) == 871


def test_scores_stay_in_range() -> None:
    """The worst and the best records stay within 0-1000 and the weight within 0.5-1.0."""
    worst = ProviderInputs(
        operations=10_000,
        quantity_scrapped=10**9,
        disputes=10**6,
        response_samples=10,
        response_minutes_total=10**9,
        rating_count=500,
    )
    best = ProviderInputs(
        operations=10_000,
        on_time_operations=10_000,
        quantity_done=10**9,
        response_samples=10_000,
        rating_count=10_000,
        rating_points=40_000,
    )
    assert 0 <= formula.provider_score(worst) < 100
    assert 950 < formula.provider_score(best) <= 1000
    assert formula.matching_weight(0) == 0.5
    assert formula.matching_weight(1000) == 1.0
    assert formula.matching_weight(5000) == 1.0


def test_weights_sum_to_one() -> None:
    """Each role's component weights add up to 1, so the score spans 0-1000."""
    assert sum(formula.PROVIDER_WEIGHTS.values()) == 1
    assert sum(formula.BUYER_WEIGHTS.values()) == 1
