"""CLI adapters: `sharefab audit verify` and `sharefab audit head`."""

from __future__ import annotations

import json

import typer

from sharefab.audit import service
from sharefab.kit.db import unit_of_work
from sharefab.platform_cli import DatabaseOption, console, fail, open_database

audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


@audit_app.command("verify")
def verify(database: DatabaseOption = None) -> None:
    """Walk the whole chain; exit 1 and name the first broken link if any."""
    engine = open_database(database)
    with unit_of_work(engine, write=False) as session:
        result = service.verify_chain(session)
    if not result.ok:
        raise fail(f"audit chain broken at seq {result.broken_seq}: {result.reason}")
    console.print(
        f"audit chain intact: {result.entries} entries, head seq {result.head_seq} "
        f"hash {result.head_hash}",
        highlight=False,
    )


@audit_app.command("head")
def head(database: DatabaseOption = None) -> None:
    """Print the chain head as JSON, to anchor it somewhere else."""
    engine = open_database(database)
    with unit_of_work(engine, write=False) as session:
        typer.echo(json.dumps(service.chain_head(session)))
