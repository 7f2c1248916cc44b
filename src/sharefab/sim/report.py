"""Side-by-side results over seeds: means with Student-t 95 % confidence intervals, a table,
one JSON object and PNG charts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from sharefab.sim.metrics import METRICS

# Two-sided 97.5 % quantiles of Student's t by degrees of freedom (1-30); 1.96 beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("a confidence interval needs at least two values")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def mean_ci(values: Sequence[float]) -> dict[str, Any]:
    """Mean and 95 % confidence interval (Student t; a single value is its own interval)."""
    n = len(values)
    if n == 0:
        return {"mean": None, "ci95": [None, None]}
    mean = sum(values) / n
    if n == 1:
        return {"mean": mean, "ci95": [mean, mean]}
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile(n - 1) * math.sqrt(var / n)
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def summarise(
    per_policy: Mapping[str, Sequence[Mapping[str, float]]], seeds: Sequence[int]
) -> dict[str, Any]:
    """`{"policies": {policy: {metric: {"mean", "ci95"}}}, "seeds": [...]}`."""
    return {
        "policies": {
            policy: {m: mean_ci([run[m] for run in runs]) for m in METRICS}
            for policy, runs in per_policy.items()
        },
        "seeds": list(seeds),
    }


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric in ("utilisation", "on_time_rate"):
        return f"{100 * value:.1f} %"
    if metric.startswith("orders_"):
        return f"{value:.0f}" if value == round(value) else f"{value:.1f}"
    return f"{value:,.1f}"


def table(summary: Mapping[str, Any]) -> Table:
    """The summary as a table: one row per metric, one column per policy (mean ± half-width)."""
    policies = list(summary["policies"])
    n = len(summary["seeds"])
    out = Table(title=f"simulation over {n} seed{'s' if n != 1 else ''} (mean, 95 % CI)")
    out.add_column("metric")
    for p in policies:
        out.add_column(p, justify="right")
    for metric, label in METRICS.items():
        row = [label]
        for p in policies:
            cell = summary["policies"][p][metric]
            mean, (lo, hi) = cell["mean"], cell["ci95"]
            text = _fmt(metric, mean)
            if n > 1 and lo is not None and hi is not None and hi > lo:
                text += f" [{_fmt(metric, lo)}, {_fmt(metric, hi)}]"
            row.append(text)
        out.add_row(*row)
    return out


def markdown(summary: Mapping[str, Any]) -> str:
    """The summary as a Markdown table."""
    policies = list(summary["policies"])
    lines = [
        "| metric | " + " | ".join(policies) + " |",
        "| --- | " + " | ".join("---:" for _ in policies) + " |",
    ]
    for metric, label in METRICS.items():
        cells = []
        for p in policies:
            c = summary["policies"][p][metric]
            lo, hi = c["ci95"]
            cells.append(f"{_fmt(metric, c['mean'])} [{_fmt(metric, lo)}, {_fmt(metric, hi)}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_page(summary: Mapping[str, Any], command: str) -> str:
    """A Markdown page of results: the command that reproduces them, the cluster, the table."""
    cluster = summary.get("cluster", {})
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Simulation results",
        "",
        "```",
        command,
        "```",
        "",
        f"Measured {when}; seeds {', '.join(str(s) for s in summary['seeds'])}; "
        f"{summary.get('weeks', '?')} weeks; cluster: {cluster.get('organizations', '?')} "
        f"organisations, {cluster.get('resources', '?')} resources, "
        f"{cluster.get('orders', '?')} orders. Mean [95 % confidence interval] over the seeds.",
        "",
        markdown(summary),
        "",
    ]
    return "\n".join(lines)


def charts(
    directory: Path,
    daily: Mapping[str, Sequence[Sequence[float]]],
    lateness: Mapping[str, Sequence[float]],
) -> list[Path]:
    """Two PNGs: utilisation per day per policy (mean over seeds) and the lateness
    distribution per policy (all seeds pooled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(9, 4))
    for policy, runs in daily.items():
        if not runs:
            continue
        days = len(runs[0])
        mean = [sum(r[d] for r in runs) / len(runs) for d in range(days)]
        ax.plot(range(1, days + 1), [100 * v for v in mean], label=policy, marker=".")
    ax.set_xlabel("day")
    ax.set_ylabel("utilisation of offered capacity (%)")
    ax.set_title("Utilisation over time")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = directory / "utilisation.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)

    fig, ax = plt.subplots(figsize=(9, 4))
    labels = list(lateness)
    data = [list(lateness[p]) or [0.0] for p in labels]
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(labels) + 1), labels)
    ax.set_ylabel("lateness at delivery (h)")
    ax.set_title("Lateness distribution of delivered orders")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = directory / "lateness.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)
    return written
