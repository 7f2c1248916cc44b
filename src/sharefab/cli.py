"""The `sharefab` command line: one Typer app that mounts each room's commands."""

from __future__ import annotations

import typer

from sharefab.audit.cli import audit_app
from sharefab.engine.cli import bench_app, solve_command
from sharefab.engine.cluster_cli import bench_cluster_command, gen_app
from sharefab.integrity.cli import check_command
from sharefab.platform_cli import (
    db_app,
    demo_command,
    plan_app,
    seed_command,
    serve_command,
)
from sharefab.sim.cli import simulate_command

app = typer.Typer(
    name="sharefab",
    help="sharefab: an open-source shared manufacturing platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(demo_command)
app.command("serve")(serve_command)
app.command("seed")(seed_command)
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.command("solve")(solve_command)
app.command("simulate")(simulate_command)
app.add_typer(bench_app, name="bench", help="Benchmarks against public instances and peers.")
app.add_typer(gen_app, name="gen", help="Generate realistic data (industrial clusters).")
bench_app.command("cluster")(bench_cluster_command)
app.command("check")(check_command)
