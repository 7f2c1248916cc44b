"""CLI adapter: `sharefab check` runs the integrity checks and exits 1 on any violation."""

from __future__ import annotations

import typer

from sharefab.integrity.service import run_checks
from sharefab.kit.db import unit_of_work
from sharefab.platform_cli import DatabaseOption, console, fail, open_database


def check_command(database: DatabaseOption = None) -> None:
    """Check the database's integrity: no overlap, whole plans, ledger, escrows, audit chain."""
    engine = open_database(database)
    with unit_of_work(engine, write=False) as session:
        results = run_checks(session)
    failed = 0
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        typer.echo(f"{mark} {result.name}: {result.description}")
        for violation in result.violations:
            typer.echo(f"     - {violation.message}")
        failed += 0 if result.ok else 1
    if failed:
        raise fail(f"{failed} of {len(results)} integrity checks failed")
    console.print(f"all {len(results)} integrity checks passed", highlight=False)
