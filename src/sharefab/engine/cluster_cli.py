"""CLI adapters: ``sharefab gen cluster`` and ``sharefab bench cluster``.

Mounted by the root CLI as::

    app.add_typer(gen_app, name="gen", help=...)
    bench_app.command("cluster")(bench_cluster_command)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sharefab.engine.base import ENGINES, EngineError, make_engine
from sharefab.gen.calibrate import cluster_loads
from sharefab.gen.cluster import MAX_LOAD, SIZES, ClusterSpec, cluster_summary, cluster_to_json
from sharefab.gen.instance import cluster_to_problem
from sharefab.optimize.data import ProblemDataError
from sharefab.optimize.io_json import to_dict

gen_app = typer.Typer(no_args_is_help=True, help="Generate realistic data.")


@gen_app.command("cluster")
def gen_cluster_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="Write the cluster here (JSON).")],
    size: Annotated[
        str | None, typer.Option(help=f"A named size: {', '.join(SIZES)} (sets the counts).")
    ] = None,
    factories: Annotated[int | None, typer.Option(help="Organisations in the cluster.")] = None,
    resources: Annotated[int | None, typer.Option(help="Resources (machines, lines...).")] = None,
    orders: Annotated[int | None, typer.Option(help="Orders.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = 1,
    horizon_days: Annotated[int | None, typer.Option(help="Planning horizon in days.")] = None,
    region: Annotated[str | None, typer.Option(help="suzhou or dongguan.")] = None,
    load: Annotated[
        float | None,
        typer.Option(
            help="Calibrate the cluster: take orders until the most loaded capability family "
            "gets this share of its offered time over the release days (then --orders is "
            f"only the order mix's size), in (0, {MAX_LOAD:g}]; due dates follow each "
            "order's flow time on empty machines."
        ),
    ] = None,
    interruptible: Annotated[
        bool,
        typer.Option(
            help="Piece and desk work may pause at a shift end and resume in the next window "
            "(--no-interruptible: every operation runs inside one window)."
        ),
    ] = True,
    instance: Annotated[
        bool,
        typer.Option(
            "--instance",
            help="Write the solver's sharefab-instance JSON instead of the full cluster.",
        ),
    ] = False,
) -> None:
    """Generate a realistic industrial cluster (organisations, sites, resources with classes,
    rates and capacity windows, orders with routings) and write it as JSON."""
    base = SIZES.get(size or "S")
    if base is None:
        typer.echo(f"error: unknown size {size!r}; known: {', '.join(SIZES)}", err=True)
        raise typer.Exit(code=2)
    if load is not None and not 0 < load <= MAX_LOAD:
        typer.echo(
            f"error: --load {load:g}: a load must be in (0, {MAX_LOAD:g}] (the share of its "
            "offered time the most loaded capability family gets)",
            err=True,
        )
        raise typer.Exit(code=2)
    try:
        spec = ClusterSpec(
            factories=factories if factories is not None else base.factories,
            resources=resources if resources is not None else base.resources,
            orders=orders if orders is not None else base.orders,
            horizon_days=horizon_days if horizon_days is not None else base.horizon_days,
            region=region or base.region,
            interruptible=interruptible,
            load=load,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    from sharefab.gen.cluster import generate_cluster

    cluster = generate_cluster(spec, seed)
    if instance:
        try:
            data = cluster_to_problem(cluster)
        except ProblemDataError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        doc = to_dict(data)
        doc["horizon"] = cluster.spec.horizon_min  # published windows end here (utilisation)
        out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    else:
        out.write_text(cluster_to_json(cluster) + "\n")
    s = cluster_summary(cluster)
    typer.echo(
        f"wrote {out}: {s['organizations']} factories, {s['sites']} sites, {s['resources']} "
        f"resources ({s['offered_share']:.0%} of their time offered), {s['orders']} orders, "
        f"{s['operations']} operations (seed {seed})"
    )
    loads = cluster_loads(cluster)
    typer.echo(
        f"load per capability family (work on the fastest capable resources over the time "
        f"offered in the first {loads.days} days; all work: {loads.overall:.0%} of all the "
        "offered time):"
    )
    for family, value in sorted(loads.family.items(), key=lambda kv: (-kv[1], kv[0])):
        typer.echo(f"  {family:<24} {value:6.1%}")


def bench_cluster_command(
    size: Annotated[str | None, typer.Option(help=f"Named size: {', '.join(SIZES)}.")] = None,
    instance: Annotated[
        Path | None, typer.Option(help="A cluster or sharefab-instance JSON file instead.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated cluster and the search.")] = 1,
    time_limit: Annotated[float, typer.Option(help="Seconds for sharefab's plan.")] = 120.0,
    engine: Annotated[str, typer.Option(help=f"Where the LNS runs: {', '.join(ENGINES)}.")] = (
        "local"
    ),
    address: Annotated[
        str | None, typer.Option(help="Dask scheduler, tcp://HOST:PORT (default: LocalCluster).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Workers (local pool or LocalCluster).")] = 1,
    connect_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the Dask scheduler to answer.")
    ] = 10.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    png: Annotated[
        Path | None, typer.Option(help="PNG of the objective over time (default: next to md).")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Append the table and the command to this Markdown file.")
    ] = None,
    params: Annotated[Path | None, typer.Option(help="Cluster planner parameters (TOML).")] = None,
    interruptible: Annotated[
        bool,
        typer.Option(
            help="Piece and desk work may pause at a shift end and resume in the next window "
            "(generated sizes; --no-interruptible: every operation runs inside one window)."
        ),
    ] = True,
) -> None:
    """Plan a whole cluster: the dispatch baseline and sharefab's plan side by side."""
    from sharefab.engine.bench_cluster import markdown_section, run_bench, table
    from sharefab.optimize.cluster.params import ClusterParams

    if (size is None) == (instance is None):
        typer.echo("error: give exactly one of --size and --instance", err=True)
        raise typer.Exit(code=2)
    command = " ".join(["sharefab", *sys.argv[1:]])
    name = size or (instance.stem if instance else "instance")
    if png is None:
        folder = markdown.parent if markdown is not None else Path(".")
        png = folder / f"cluster-{name}-{engine}.png"
    try:
        cluster_params = ClusterParams.from_file(params) if params else None
        eng = make_engine(engine, workers=workers, address=address, connect_timeout=connect_timeout)
    except (EngineError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    echo = None if json_output else typer.echo
    try:
        with eng:
            report = run_bench(
                size, instance, seed, time_limit, eng, cluster_params, png, echo, interruptible
            )
    except (ProblemDataError, ValueError, OSError) as exc:
        if json_output:
            typer.echo(json.dumps({"status": "invalid_input", "error": str(exc)}))
        else:
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if markdown is not None:
        with markdown.open("a") as fh:
            fh.write(markdown_section(report, command) + "\n")
    if json_output:
        typer.echo(json.dumps(report))
    else:
        typer.echo(table(report))
        typer.echo(f"objective over time: {png}")


def standalone_app() -> typer.Typer:
    """Both commands under one app (``python -m sharefab.engine.cluster_cli gen cluster ...``)."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
    app.add_typer(gen_app, name="gen")
    bench = typer.Typer(no_args_is_help=True)
    bench.command("cluster")(bench_cluster_command)
    app.add_typer(bench, name="bench")
    return app


if __name__ == "__main__":
    standalone_app()()
