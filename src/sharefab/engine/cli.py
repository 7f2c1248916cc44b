"""CLI adapters over the optimiser: `sharefab solve` and `sharefab bench ...` (placeholder)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(no_args_is_help=True)


def solve_command(file: str) -> None:
    """Solve an instance file (.fjs or .json)."""
    raise typer.Exit(code=2)
