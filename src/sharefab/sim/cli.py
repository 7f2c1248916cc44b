"""`sharefab simulate`: the value of sharing, measured on a cluster over weeks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sharefab.gen import SIZES, cluster_summary
from sharefab.gen.instance import ClusterInputError, read_cluster
from sharefab.sim.params import SimParams
from sharefab.sim.policies import POLICIES
from sharefab.sim.report import charts, results_page, table
from sharefab.sim.runner import simulate
from sharefab.sim.world import build_world, cluster_for

console = Console(stderr=True)


def simulate_command(
    cluster: Annotated[
        Path | None, typer.Option(help="A cluster JSON file (from `sharefab gen cluster`).")
    ] = None,
    size: Annotated[
        str, typer.Option(help="Generate a cluster of this size (S, M, L, XL, demo).")
    ] = "S",
    weeks: Annotated[int, typer.Option(min=1, max=52, help="Weeks to simulate.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the cluster and of the first run.")] = 1,
    seeds: Annotated[
        int, typer.Option(min=1, max=100, help="Runs with seeds seed, seed+1, ...")
    ] = 1,
    policy: Annotated[
        str, typer.Option(help=f"One of {', '.join(POLICIES)}, or several separated by commas.")
    ] = "sharefab",
    compare: Annotated[
        bool, typer.Option(help="Run all three policies on the same random streams.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (mean and 95 % CI).")
    ] = False,
    buyer_picks: Annotated[
        str,
        typer.Option(
            help="sharefab policy: the quote buyers accept (balanced, fastest, cheapest)."
        ),
    ] = "balanced",
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes to run seeds and policies in.")
    ] = 1,
    markdown_out: Annotated[
        Path | None,
        typer.Option("--markdown", help="Also write the results as Markdown (with the command)."),
    ] = None,
    chart_dir: Annotated[
        Path | None, typer.Option("--charts", help="Write PNG charts into this directory.")
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Keep each finished run in this directory; run again, the same command "
            "resumes where it stopped (a run is reused only for the same cluster, "
            "parameters and code)."
        ),
    ] = None,
) -> None:
    """Simulate orders arriving, machines breaking down and work running for `--weeks`, under
    one policy or all three (`--compare`), and report utilisation, delivery and money."""
    policies = list(POLICIES) if compare else [p.strip() for p in policy.split(",") if p.strip()]
    if buyer_picks not in ("balanced", "fastest", "cheapest"):
        console.print(
            f"[red]error:[/] --buyer-picks {buyer_picks!r}: balanced, fastest or cheapest"
        )
        raise typer.Exit(code=2)
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        console.print(
            f"[red]error:[/] unknown policy {', '.join(unknown)!r}; "
            f"choose from {', '.join(POLICIES)}"
        )
        raise typer.Exit(code=2)
    try:
        if cluster is not None:
            data = read_cluster(cluster)
        elif size in SIZES:
            data = cluster_for(SIZES[size], weeks, seed)
        else:
            console.print(f"[red]error:[/] unknown size {size!r}; choose one of {list(SIZES)}")
            raise typer.Exit(code=2)
    except (ClusterInputError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    world = build_world(data, weeks)
    run_seeds = list(range(seed, seed + seeds))
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f} %"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        runs = len(policies) * len(run_seeds)
        task = progress.add_task("simulating", total=runs * world.end)
        done = [0]

        def advance(name: str, s: int) -> None:
            done[0] += 1
            progress.update(task, completed=done[0] * world.end)

        def tick(name: str, s: int, minute: int) -> None:
            progress.update(
                task,
                completed=done[0] * world.end + minute,
                description=f"{name} seed {s} day {minute // 1440 + 1}",
            )

        result = simulate(
            world,
            policies,
            run_seeds,
            SimParams(buyer_picks=buyer_picks),
            on_run=advance,
            on_progress=tick,
            workers=workers,
            cache=cache,
        )
    summary = result.summary()
    summary["cluster"] = cluster_summary(data)
    summary["weeks"] = weeks
    written = charts(chart_dir, result.daily, result.lateness) if chart_dir else []
    if markdown_out is not None:
        markdown_out.parent.mkdir(parents=True, exist_ok=True)
        source = f"--cluster {cluster}" if cluster is not None else f"--size {size}"
        which = "--compare" if compare else f"--policy {','.join(policies)}"
        if buyer_picks != "balanced":
            which += f" --buyer-picks {buyer_picks}"
        command = (
            f"sharefab simulate {source} --weeks {weeks} --seed {seed} --seeds {seeds} {which}"
        )
        markdown_out.write_text(results_page(summary, command))
        written.append(markdown_out)
    if json_output:
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
        return
    out = Console()
    out.print(table(summary))
    for path in written:
        out.print(f"chart: {path}")
