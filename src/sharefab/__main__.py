"""`python -m sharefab` runs the CLI."""

from sharefab.cli import app

app()
