"""`sharefab simulate`: the value of sharing, measured on a cluster over weeks."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from sharefab.engine.base import ENGINES, Engine, EngineError, make_engine
from sharefab.gen import SIZES, Cluster, cluster_summary
from sharefab.gen.cluster import MAX_LOAD
from sharefab.gen.instance import ClusterInputError, read_cluster
from sharefab.sim.params import SimParams
from sharefab.sim.policies import KNOWN, POLICIES, compared
from sharefab.sim.report import (
    charts,
    rejection_lines,
    results_page,
    sweep_chart,
    sweep_markdown,
    sweep_points,
    sweep_table,
    table,
)
from sharefab.sim.runner import RunFailed, Simulation, simulate
from sharefab.sim.world import DEFAULT_LOAD, World, build_world, cluster_for

console = Console(stderr=True)

SWEEP_STEM = "on-time-vs-load"


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit status 2 (bad input; nothing has been written)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _check_load(option: str, value: float) -> None:
    if not 0 < value <= MAX_LOAD:
        _fail(
            f"{option} {value:g}: a load must be in (0, {MAX_LOAD:g}] (the share of its "
            "offered time the most loaded capability family gets)"
        )


def parse_loads(text: str) -> list[float]:
    """The loads of `--sweep-load` ("0.5,0.7,0.85"), each checked (exit 2 on a bad one)."""
    loads = []
    for part in text.split(","):
        token = part.strip()
        try:
            value = float(token)
        except ValueError:
            _fail(
                f"--sweep-load {token!r}: not a number; give loads in (0, {MAX_LOAD:g}] "
                "separated by commas, e.g. 0.5,0.7,0.85,0.95"
            )
        _check_load("--sweep-load", value)
        loads.append(value)
    if len(set(loads)) != len(loads):
        _fail(f"--sweep-load {text}: a load is given twice; give each load once")
    return sorted(loads)


def check_capabilities(path: Path, data: Cluster) -> None:
    """Refuse a cluster whose orders need a capability no resource of it offers."""
    offered = {c.code for r in data.resources for c in r.capabilities}
    for o in data.orders:
        for op in o.operations:
            if op.capability_code not in offered:
                _fail(
                    f"{path}: order {o.reference or o.key} operation {op.seq} needs capability "
                    f"{op.capability_code!r}, which no resource of the cluster offers; offered: "
                    f"{', '.join(sorted(offered)) or 'none'}"
                )


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
        str,
        typer.Option(help=f"One of {', '.join(KNOWN)}, or several separated by commas."),
    ] = "sharefab",
    compare: Annotated[
        bool,
        typer.Option(
            help=f"Run {', '.join(POLICIES)} (and clairvoyant, when it is installed) on the "
            "same random streams."
        ),
    ] = False,
    load: Annotated[
        float | None,
        typer.Option(
            help="Generated clusters: the most loaded capability family gets this share of "
            f"its offered time, in (0, {MAX_LOAD:g}] (default {DEFAULT_LOAD:g})."
        ),
    ] = None,
    sweep_load: Annotated[
        str | None,
        typer.Option(
            "--sweep-load",
            help="Run the comparison at each of these loads (e.g. 0.5,0.7,0.85,0.95; a fresh "
            f"cluster each) and report the on-time rate against load (--charts DIR: "
            f"DIR/{SWEEP_STEM}.png, .md and .json).",
        ),
    ] = None,
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
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes to run seeds and policies in (local pool or LocalCluster).",
        ),
    ] = 1,
    engine: Annotated[
        str,
        typer.Option(
            help=f"Where the runs go, the solver's worker pool: {', '.join(ENGINES)} "
            "(dask: a scheduler at --address, or a LocalCluster of --workers)."
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Dask scheduler, tcp://HOST:PORT (with --engine dask)."),
    ] = None,
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
    one policy or all of them (`--compare`), and report utilisation, delivery and money; with
    `--sweep-load`, the same comparison at several loads."""
    policies = list(compared()) if compare else [p.strip() for p in policy.split(",") if p.strip()]
    if buyer_picks not in ("balanced", "fastest", "cheapest"):
        _fail(f"--buyer-picks {buyer_picks!r}: balanced, fastest or cheapest")
    unknown = [p for p in policies if p not in KNOWN]
    if unknown or not policies:
        _fail(f"unknown policy {', '.join(unknown)!r}; choose from {', '.join(KNOWN)}")
    if load is not None:
        _check_load("--load", load)
    loads = parse_loads(sweep_load) if sweep_load is not None else None
    if load is not None and loads is not None:
        _fail("--load and --sweep-load: give one of them (the sweep sets the load of each run)")
    if cluster is not None and (load is not None or loads is not None):
        option = "--load" if load is not None else "--sweep-load"
        _fail(
            f"{option} applies to generated clusters (--size); a --cluster file is used as it "
            "is: generate one at another load with `sharefab gen cluster --load RHO`"
        )
    if cluster is None and size not in SIZES:
        _fail(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    data = None
    if cluster is not None:
        try:
            data = read_cluster(cluster)
        except (ClusterInputError, OSError) as exc:
            _fail(str(exc))
        check_capabilities(cluster, data)
    if engine not in ENGINES:
        _fail(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if address is not None and engine != "dask":
        _fail("--address is the Dask scheduler: add --engine dask")
    params = SimParams(buyer_picks=buyer_picks)
    run_seeds = list(range(seed, seed + seeds))
    command = _command(
        cluster, size, weeks, seed, seeds, compare, policies, buyer_picks, load, loads
    )
    points = loads if loads is not None else [load]
    try:
        pool = _pool(engine, workers, address)
    except EngineError as exc:
        _fail(str(exc))
    with (
        pool,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f} %"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        total = len(points) * len(policies) * len(run_seeds)
        task = progress.add_task("simulating", total=total)
        done = [0]
        runs: list[dict[str, Any]] = []
        for rho in points:
            if data is None or loads is not None:
                world_data = cluster_for(
                    SIZES[size], weeks, seed, DEFAULT_LOAD if rho is None else rho
                )
            else:
                world_data = data
            world = build_world(world_data, weeks)
            label = f"load {rho:g} " if loads is not None else ""
            try:
                result = _run(
                    world, policies, run_seeds, params, pool, cache, progress, task, done, label
                )
            except RunFailed as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=1) from None
            summary = result.summary()
            summary["cluster"] = cluster_summary(world_data)
            summary["weeks"] = weeks
            summary["load"] = world_data.spec.load
            runs.append({"load": rho, "summary": summary, "result": result})
    if loads is not None:
        _sweep_output(runs, command, run_seeds, weeks, json_output, markdown_out, chart_dir)
        return
    summary, result = runs[0]["summary"], runs[0]["result"]
    written = charts(chart_dir, result.daily, result.lateness) if chart_dir else []
    if markdown_out is not None:
        markdown_out.parent.mkdir(parents=True, exist_ok=True)
        markdown_out.write_text(results_page(summary, command))
        written.append(markdown_out)
    if json_output:
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
        return
    out = Console()
    out.print(table(summary))
    refused = rejection_lines(summary)
    if refused:
        out.print("rejected orders, by reason:", highlight=False)
    for line in refused:
        out.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)
    for path in written:
        out.print(f"chart: {path}")


def _pool(engine: str, workers: int, address: str | None) -> Engine | contextlib.nullcontext[None]:
    """The worker pool the runs go to (none: they run here, one after the other, with a
    progress bar that moves by simulated day)."""
    if engine == "local" and workers <= 1:
        return contextlib.nullcontext()
    return make_engine(engine, workers=workers, address=address)


def _run(
    world: World,
    policies: Sequence[str],
    seeds: Sequence[int],
    params: SimParams,
    pool: Engine | contextlib.nullcontext[None],
    cache: Path | None,
    progress: Progress,
    task: TaskID,
    done: list[int],
    label: str,
) -> Simulation:
    """Every policy on every seed of one world, with the progress bar kept current."""

    def advance(name: str, s: int) -> None:
        done[0] += 1
        progress.update(task, completed=done[0])

    def tick(name: str, s: int, minute: int) -> None:
        progress.update(
            task,
            completed=done[0] + minute / world.end,
            description=f"{label}{name} seed {s} day {minute // 1440 + 1}",
        )

    return simulate(
        world,
        policies,
        seeds,
        params,
        on_run=advance,
        on_progress=tick,
        cache=cache,
        engine=pool if isinstance(pool, Engine) else None,
    )


def _command(
    cluster: Path | None,
    size: str,
    weeks: int,
    seed: int,
    seeds: int,
    compare: bool,
    policies: Sequence[str],
    buyer_picks: str,
    load: float | None,
    loads: Sequence[float] | None,
) -> str:
    """The command line that reproduces a run."""
    source = f"--cluster {cluster}" if cluster is not None else f"--size {size}"
    which = "--compare" if compare else f"--policy {','.join(policies)}"
    if buyer_picks != "balanced":
        which += f" --buyer-picks {buyer_picks}"
    if load is not None:
        which += f" --load {load:g}"
    if loads is not None:
        which += f" --sweep-load {','.join(f'{x:g}' for x in loads)}"
    return f"sharefab simulate {source} --weeks {weeks} --seed {seed} --seeds {seeds} {which}"


def _sweep_output(
    runs: list[dict[str, Any]],
    command: str,
    seeds: Sequence[int],
    weeks: int,
    json_output: bool,
    markdown_out: Path | None,
    chart_dir: Path | None,
) -> None:
    """The sweep's table (terminal, Markdown, JSON) and chart of on-time rate against load."""
    kept = [{"load": r["load"], "summary": r["summary"]} for r in runs]
    doc = {
        "sweep": {
            "metric": "on_time_rate",
            "loads": [r["load"] for r in runs],
            "seeds": list(seeds),
            "weeks": weeks,
            "command": command,
            "points": sweep_points(kept),
            "runs": kept,
        }
    }
    page = "\n".join(
        [
            "# On-time rate against load",
            "",
            "```",
            command,
            "```",
            "",
            f"Seeds {', '.join(map(str, seeds))}; {weeks} week{'s' if weeks != 1 else ''}; "
            "a fresh cluster per load "
            "(the most loaded capability family gets that share of its offered time). "
            "On-time rate of the orders due in the period, mean [95 % confidence interval] "
            "over the seeds.",
            "",
            sweep_markdown(kept),
            "",
        ]
    )
    written: list[Path] = []
    if chart_dir is not None:
        written.append(sweep_chart(chart_dir / f"{SWEEP_STEM}.png", kept))
        (chart_dir / f"{SWEEP_STEM}.md").write_text(page)
        (chart_dir / f"{SWEEP_STEM}.json").write_text(json.dumps(doc, sort_keys=True) + "\n")
        written += [chart_dir / f"{SWEEP_STEM}.md", chart_dir / f"{SWEEP_STEM}.json"]
    if markdown_out is not None:
        markdown_out.parent.mkdir(parents=True, exist_ok=True)
        markdown_out.write_text(page)
        written.append(markdown_out)
    if json_output:
        sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
        return
    out = Console()
    out.print(sweep_table(kept))
    for path in written:
        out.print(f"written: {path}")
