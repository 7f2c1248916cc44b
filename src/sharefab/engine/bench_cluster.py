"""``sharefab bench cluster``: the dispatch baseline and sharefab's plan, side by side.

One run on one instance (a named size generated on the fly, or a file): first the baseline - what
a platform without optimisation does, first come first served on the earliest-finishing capable
resource - then sharefab (best dispatch start plan, then LNS on the chosen engine) within the time
limit. Both plans go through the independent validator. Prints a table (or one JSON object), and
writes a PNG of the objective over time and, if asked, a Markdown section with the command.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sharefab.engine.base import Engine
from sharefab.gen.cluster import SIZES, generate_cluster
from sharefab.gen.instance import cluster_from_dict, cluster_to_problem
from sharefab.optimize.cluster.bounds import (
    earliest_completions,
    makespan_bound,
    tardiness_bound,
)
from sharefab.optimize.cluster.checks import check_plannable
from sharefab.optimize.cluster.dispatch import dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.lns import ClusterResult, plan_cluster
from sharefab.optimize.cluster.metrics import plan_metrics
from sharefab.optimize.cluster.params import ClusterParams
from sharefab.optimize.cluster.plan import Plan
from sharefab.optimize.cluster.queue_bound import queue_bound
from sharefab.optimize.data import ProblemData
from sharefab.optimize.io_json import from_dict as instance_from_dict
from sharefab.optimize.validate import validate

Echo = Callable[[str], None]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Loaded:
    name: str
    data: ProblemData
    horizon: int | None
    load_s: float


def load_instance(
    size: str | None, path: Path | None, seed: int, interruptible: bool = True
) -> Loaded:
    """A named size generated with ``seed`` (``interruptible``: whether piece work may pause at a
    shift end), or a cluster / sharefab-instance JSON file."""
    t0 = time.perf_counter()
    if path is not None:
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and doc.get("format") == "sharefab-instance":
            data = instance_from_dict(doc)
            horizon = doc.get("horizon")  # written by `sharefab gen cluster --instance`
            horizon = horizon if isinstance(horizon, int) else None
            return Loaded(path.name, data, horizon, time.perf_counter() - t0)
        cluster = cluster_from_dict(doc)
        name = path.name
    else:
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
        spec = SIZES[size]
        if not interruptible:
            spec = dataclasses.replace(spec, interruptible=False)
        cluster = generate_cluster(spec, seed)
        name = size if interruptible else f"{size} (no interruptible operations)"
    data = cluster_to_problem(cluster)
    return Loaded(name, data, cluster.spec.horizon_min, time.perf_counter() - t0)


def _side(
    plan: Plan, horizon: int | None, first_s: float, iterations: int, peak: float, valid: bool
) -> dict[str, Any]:
    m = plan_metrics(plan, horizon)
    return {
        "weighted_tardiness": m.weighted_tardiness,
        "on_time_rate": round(m.on_time_rate, 4),
        "makespan": m.makespan,
        "total_cost": m.total_cost,
        "utilisation": round(m.utilisation, 4),
        "first_feasible_s": round(first_s, 3),
        "iterations": iterations,
        "peak_memory_mb": round(peak, 1),
        "valid": valid,
        "paused_operations": sum(plan.spans_gap(i) for i in range(len(plan.res))),
    }


def run_bench(
    size: str | None,
    path: Path | None,
    seed: int,
    time_limit: float,
    engine: Engine,
    params: ClusterParams | None = None,
    png: Path | None = None,
    echo: Echo | None = None,
    interruptible: bool = True,
) -> dict[str, Any]:
    """Run baseline and sharefab on one instance; return the JSON-ready report."""
    say = echo or (lambda _: None)
    loaded = load_instance(size, path, seed, interruptible)
    data = loaded.data
    say(
        f"instance {loaded.name}: {data.num_jobs} orders, {data.num_operations} operations, "
        f"{data.num_resources} resources ({loaded.load_s:.1f} s to build)"
    )
    t0 = time.perf_counter()
    index = ClusterIndex.from_problem(data)
    check_plannable(index)
    base_plan = dispatch(index, "fcfs")
    base_valid = not validate(data, base_plan.schedule())
    base_first = time.perf_counter() - t0
    baseline = _side(base_plan, loaded.horizon, base_first, 0, _rss_mb(), base_valid)
    say(
        f"baseline (fcfs dispatch): weighted tardiness {baseline['weighted_tardiness']:,} "
        f"in {base_first:.1f} s"
    )
    completions = earliest_completions(index)
    wt_relaxed = tardiness_bound(index, completions)
    mk_bound = makespan_bound(index, completions)
    t_bound = time.perf_counter()
    queues = queue_bound(index)
    wt_bound = max(wt_relaxed, queues.total)
    say(
        f"lower bound on weighted tardiness: {wt_bound:,} (capacity relaxed: {wt_relaxed:,}; "
        f"{len(queues.pools)} pool queue(s) priced, {time.perf_counter() - t_bound:.1f} s)"
    )
    say(f"sharefab on {engine.describe()} for {time_limit:g} s ...")
    result: ClusterResult = plan_cluster(index, engine, time_limit, seed, params)
    plan = Plan.from_schedule(index, result.schedule)
    peak = _rss_mb() + engine.peak_memory_mb()
    ours = _side(
        plan, loaded.horizon, result.first_feasible_s, result.iterations, peak, result.valid
    )
    ours["improvements"] = result.improvements
    ours["start_rule"] = result.start_rule
    ours["runtime_s"] = round(result.runtime_s, 2)
    ours["lns_s"] = round(result.lns_s, 2)
    ours["iterations_per_s"] = round(result.iterations / max(result.lns_s, 1e-9), 2)
    ours["cp_sat_statuses"] = result.statuses
    report: dict[str, Any] = {
        "size": loaded.name,
        "seed": seed,
        "orders": data.num_jobs,
        "operations": data.num_operations,
        "resources": data.num_resources,
        "modes": sum(len(x) for x in index.mode_res),
        "engine": engine.describe(),
        "time_limit_s": time_limit,
        "instance_build_s": round(loaded.load_s, 2),
        "lower_bound": {
            "weighted_tardiness": wt_bound,
            "weighted_tardiness_relaxed": wt_relaxed,
            "pools": [
                {
                    "resources": len(p.resources),
                    "operations": p.operations,
                    "orders": p.charged_orders,
                    "bound": p.bound,
                    "relaxed": p.relaxed,
                }
                for p in queues.pools
            ],
            "makespan": mk_bound,
        },
        "baseline": baseline,
        "sharefab": ours,
        "history": [[round(t, 2), wt, cost] for t, wt, cost in result.history],
        "neighbourhoods": {
            k: {"tries": s.tries, "improvements": s.improvements, "size": round(s.size)}
            for k, s in result.kinds.items()
        },
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if png is not None:
        write_png(report, png)
        report["png"] = str(png)
    return report


def _gap(value: int, bound: int) -> str:
    if value <= 0:
        return "0.0%"
    return f"{100.0 * (value - bound) / value:.1f}%"


def table(report: dict[str, Any]) -> str:
    """The side-by-side table as Markdown."""
    b, s = dict(report["baseline"]), report["sharefab"]
    b.setdefault("iterations_per_s", 0.0)
    lb = report["lower_bound"]
    rows = [
        ("weighted tardiness (weight x min)", "weighted_tardiness", "{:,}"),
        ("on-time rate", "on_time_rate", "{:.1%}"),
        ("makespan (min)", "makespan", "{:,}"),
        ("total cost (CNY)", "total_cost", None),
        ("utilisation of offered capacity", "utilisation", "{:.1%}"),
        ("time to first feasible plan (s)", "first_feasible_s", "{:.2f}"),
        ("LNS iterations", "iterations", "{:,}"),
        ("LNS iterations per second", "iterations_per_s", "{:.2f}"),
        ("peak memory (MiB)", "peak_memory_mb", "{:,.0f}"),
        ("operations paused over a shift end", "paused_operations", "{:,}"),
        ("valid (independent validator)", "valid", "{}"),
    ]
    lines = ["| | baseline (FCFS dispatch) | sharefab |", "| --- | ---: | ---: |"]
    for label, key, fmt in rows:
        if fmt is None:
            cells = [f"{v[key] / 100:,.0f}" for v in (b, s)]
        else:
            cells = [fmt.format(v[key]) for v in (b, s)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    ratio = s["weighted_tardiness"] / b["weighted_tardiness"] if b["weighted_tardiness"] else 0
    lines.append(f"| weighted tardiness vs baseline | 100% | {ratio:.1%} |")
    wt_lb, mk_lb = lb["weighted_tardiness"], lb["makespan"]
    lines.append(
        f"| gap to tardiness lower bound {wt_lb:,} | {_gap(b['weighted_tardiness'], wt_lb)} "
        f"| {_gap(s['weighted_tardiness'], wt_lb)} |"
    )
    lines.append(
        f"| gap to makespan lower bound {mk_lb:,} | {_gap(b['makespan'], mk_lb)} "
        f"| {_gap(s['makespan'], mk_lb)} |"
    )
    return "\n".join(lines)


def write_png(report: dict[str, Any], path: Path) -> None:
    """Weighted tardiness over time: sharefab's incumbent, the baseline, the lower bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = report["history"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ts = [h[0] for h in hist] + [report["sharefab"]["runtime_s"]]
    wts = [h[1] for h in hist] + [hist[-1][1]]
    ax.step(ts, wts, where="post", label="sharefab (dispatch, iterated dispatch, then LNS)")
    ax.axhline(
        report["baseline"]["weighted_tardiness"],
        color="tab:red",
        ls="--",
        label="baseline: FCFS dispatch",
    )
    ax.axhline(
        report["lower_bound"]["weighted_tardiness"], color="tab:green", ls=":", label="lower bound"
    )
    ax.set_xlabel("seconds")
    ax.set_ylabel("weighted tardiness (weight x minutes)")
    ax.set_title(f"{report['size']}: {report['operations']:,} operations, {report['engine']}")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_section(report: dict[str, Any], command: str) -> str:
    return (
        f"### {report['size']}: {report['orders']:,} orders, {report['operations']:,} "
        f"operations, {report['resources']:,} resources - {report['engine']}, "
        f"{report['time_limit_s']:g} s\n\n"
        f"`{command}` ({report['date']}, seed {report['seed']})\n\n"
        f"{table(report)}\n"
    )
