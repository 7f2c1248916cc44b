"""The `sharefab` command line: one Typer app that mounts each room's commands."""

from __future__ import annotations

import typer

from sharefab.engine.cli import bench_app, solve_command

app = typer.Typer(
    name="sharefab",
    help="sharefab: an open-source shared manufacturing platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("solve")(solve_command)
app.add_typer(bench_app, name="bench", help="Benchmarks against public instances and peers.")
