"""Means and Student-t confidence intervals over seeds."""

from __future__ import annotations

import math

import pytest

from sharefab.sim.metrics import percentile
from sharefab.sim.report import mean_ci, summarise, t_quantile


def test_ci_of_one_to_five() -> None:
    """1..5: mean 3, s = sqrt(2.5), s/sqrt(5) = sqrt(0.5), t(4) = 2.776, half-width 1.963."""
    got = mean_ci([1, 2, 3, 4, 5])
    half = 2.776 * math.sqrt(0.5)
    assert got["mean"] == 3
    assert got["ci95"] == pytest.approx([3 - half, 3 + half])
    assert half == pytest.approx(1.963, abs=1e-3)


def test_ci_of_two_values_uses_t_with_one_degree_of_freedom() -> None:
    """10 and 12: mean 11, s/sqrt(2) = 1, half-width t(1) = 12.706."""
    assert mean_ci([10, 12])["ci95"] == pytest.approx([11 - 12.706, 11 + 12.706])


def test_ci_of_one_value_is_the_value() -> None:
    """A single seed has no spread to estimate: the interval is the point."""
    assert mean_ci([0.7]) == {"mean": 0.7, "ci95": [0.7, 0.7]}


def test_t_quantile_falls_back_to_normal_for_many_seeds() -> None:
    """Beyond 30 degrees of freedom the normal 1.96 is used."""
    assert t_quantile(1) == 12.706
    assert t_quantile(30) == 2.042
    assert t_quantile(100) == 1.96


def test_summary_shape() -> None:
    """Per policy, every metric has a mean and a two-sided interval; the seeds are listed."""
    run = {"utilisation": 0.5, "on_time_rate": 1.0}
    full = (
        dict.fromkeys(
            [
                "orders_arrived",
                "orders_completed",
                "orders_rejected",
                "lateness_mean_h",
                "lateness_p95_h",
                "transport_cost_cny",
                "revenue_per_factory_cny",
                "idle_hours_absorbed",
            ],
            0.0,
        )
        | run
    )
    out = summarise({"greedy": [full, full]}, [1, 2])
    assert out["seeds"] == [1, 2]
    assert out["policies"]["greedy"]["utilisation"] == {"mean": 0.5, "ci95": [0.5, 0.5]}


def test_percentile_interpolates() -> None:
    """The 95th percentile of 0..100 is 95; of nothing, 0."""
    assert percentile([float(x) for x in range(101)], 95) == pytest.approx(95)
    assert percentile([], 95) == 0.0


def test_a_metric_missing_from_some_runs_is_averaged_over_the_others() -> None:
    """A seed without a figure (nothing promised) is left out of the mean; none at all: None."""
    assert mean_ci([None, 0.5, None, 0.7])["mean"] == pytest.approx(0.6)
    assert mean_ci([None, None]) == {"mean": None, "ci95": [None, None]}
