"""Side-by-side results over seeds: means with Student-t 95 % confidence intervals, a table,
one JSON object and PNG charts; and a sweep of the same comparison over loads."""

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


def mean_ci(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean and 95 % confidence interval (Student t; a single value is its own interval) of
    the values that are not None (no value at all: None)."""
    xs = [v for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return {"mean": None, "ci95": [None, None]}
    mean = sum(xs) / n
    if n == 1:
        return {"mean": mean, "ci95": [mean, mean]}
    var = sum((v - mean) ** 2 for v in xs) / (n - 1)
    half = t_quantile(n - 1) * math.sqrt(var / n)
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def summarise(
    per_policy: Mapping[str, Sequence[Mapping[str, float]]],
    seeds: Sequence[int],
    reasons: Mapping[str, Sequence[Mapping[str, int]]] | None = None,
) -> dict[str, Any]:
    """`{"policies": {policy: {metric: {"mean", "ci95"}}}, "seeds": [...],
    "rejections": {policy: {reason: {"mean", "per_seed"}}}}` (a run without a metric, such as
    promises kept when nothing was promised, is left out of its mean; no run has it: None)."""
    out: dict[str, Any] = {
        "policies": {
            policy: {m: mean_ci([run.get(m) for run in runs]) for m in METRICS}
            for policy, runs in per_policy.items()
        },
        "seeds": list(seeds),
    }
    if reasons is not None:
        out["rejections"] = {
            policy: {
                reason: {
                    "mean": sum(run.get(reason, 0) for run in runs) / max(1, len(runs)),
                    "per_seed": [run.get(reason, 0) for run in runs],
                }
                for reason in sorted({k for run in runs for k in run})
            }
            for policy, runs in reasons.items()
        }
    return out


PERCENT = (
    "utilisation",
    "utilisation_ceiling",
    "on_time_rate",
    "on_time_feasible_rate",
    "promises_kept_rate",
)


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric in PERCENT:
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


def rejection_lines(summary: Mapping[str, Any]) -> list[str]:
    """Why orders were rejected, per policy: the mean count per run of each reason (the
    lines shown under the table; none when no order was rejected)."""
    lines = []
    n = len(summary["seeds"])
    for policy, reasons in summary.get("rejections", {}).items():
        for reason, cell in reasons.items():
            count = f"{cell['mean']:.1f}".removesuffix(".0")
            if n > 1:
                per = ", ".join(map(str, cell["per_seed"]))
                lines.append(f"{policy}: {count} a run, {reason} (per seed: {per})")
            else:
                lines.append(f"{policy}: {count}, {reason}")
    return lines


def markdown(summary: Mapping[str, Any]) -> str:
    """The summary as a Markdown table (and the rejection reasons under it)."""
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
            if c["mean"] is None:
                cells.append("-")
            else:
                cells.append(f"{_fmt(metric, c['mean'])} [{_fmt(metric, lo)}, {_fmt(metric, hi)}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    refused = rejection_lines(summary)
    if refused:
        lines += ["", "Rejected orders, by reason:", ""] + [f"- {line}" for line in refused]
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


SWEEP_METRIC = "on_time_rate"


def sweep_points(
    runs: Sequence[Mapping[str, Any]], metric: str = SWEEP_METRIC
) -> dict[str, list[dict[str, Any]]]:
    """Per policy, `metric` at each load of a sweep: `{"load", "mean", "ci95"}` in load order.
    `runs`: one `{"load": rho, "summary": summary}` per load."""
    out: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for policy, cells in run["summary"]["policies"].items():
            cell = cells[metric]
            out.setdefault(policy, []).append(
                {"load": run["load"], "mean": cell["mean"], "ci95": cell["ci95"]}
            )
    return out


def sweep_markdown(runs: Sequence[Mapping[str, Any]], metric: str = SWEEP_METRIC) -> str:
    """A Markdown table of a sweep: one row per load (with the utilisation ceiling of that
    world), one column per policy, `metric` as mean [95 % CI]."""
    points = sweep_points(runs, metric)
    policies = list(points)
    lines = [
        f"| load | utilisation ceiling | {' | '.join(policies)} |",
        "| ---: | ---: | " + " | ".join("---:" for _ in policies) + " |",
    ]
    for k, run in enumerate(runs):
        first = next(iter(run["summary"]["policies"].values()))
        cells = [
            f"{run['load']:g}",
            _fmt("utilisation_ceiling", first["utilisation_ceiling"]["mean"]),
        ]
        for p in policies:
            pt = points[p][k]
            lo, hi = pt["ci95"]
            if pt["mean"] is None:
                cells.append("-")
            elif lo is not None and hi is not None and hi > lo:
                cells.append(f"{_fmt(metric, pt['mean'])} [{_fmt(metric, lo)}, {_fmt(metric, hi)}]")
            else:
                cells.append(_fmt(metric, pt["mean"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_table(runs: Sequence[Mapping[str, Any]], metric: str = SWEEP_METRIC) -> Table:
    """The sweep as a terminal table (the rows of `sweep_markdown`)."""
    points = sweep_points(runs, metric)
    out = Table(title=f"{METRICS[metric]} against load (mean, 95 % CI)")
    out.add_column("load", justify="right")
    out.add_column("utilisation ceiling", justify="right")
    for p in points:
        out.add_column(p, justify="right")
    for line in sweep_markdown(runs, metric).splitlines()[2:]:
        out.add_row(*[c.strip() for c in line.strip("|").split("|")])
    return out


def sweep_chart(path: Path, runs: Sequence[Mapping[str, Any]], metric: str = SWEEP_METRIC) -> Path:
    """A PNG of `metric` against load: one line per policy, 95 % CI error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5))
    points = sweep_points(runs, metric)
    loads = [run["load"] for run in runs]
    # policies side by side at each load, so that their error bars do not hide each other
    dodge = 0.006 * (max(loads) - min(loads) or 1.0)
    for k, (policy, pts) in enumerate(points.items()):
        shown = [p for p in pts if p["mean"] is not None]
        shift = (k - (len(points) - 1) / 2) * dodge
        xs = [p["load"] + shift for p in shown]
        ys = [100 * p["mean"] for p in shown]
        lo = [100 * (p["mean"] - p["ci95"][0]) if p["ci95"][0] is not None else 0 for p in shown]
        hi = [100 * (p["ci95"][1] - p["mean"]) if p["ci95"][1] is not None else 0 for p in shown]
        ax.errorbar(xs, ys, yerr=[lo, hi], label=policy, marker="o", capsize=4)
    ax.set_xlabel("load (most loaded capability family's share of its offered time)")
    ax.set_ylabel(f"{METRICS[metric]} (%)")
    ax.set_ylim(0, 105)
    ax.set_xticks(loads, [f"{x:g}" for x in loads])
    ax.set_title(f"{METRICS[metric].capitalize()} against load (mean, 95 % CI)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
