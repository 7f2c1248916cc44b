"""`sharefab simulate` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sharefab.cli import app


def test_json_has_mean_and_ci_per_policy_and_metric(tmp_path: Path) -> None:
    """--json prints one object: per policy, each metric's mean and 95 % interval; the seeds."""
    runner = CliRunner()
    args = ["simulate", "--size", "S", "--weeks", "1", "--seed", "4", "--seeds", "2"]
    result = runner.invoke(app, [*args, "--policy", "greedy", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["seeds"] == [4, 5]
    cell = doc["policies"]["greedy"]["on_time_rate"]
    lo, hi = cell["ci95"]
    assert lo <= cell["mean"] <= hi
    again = runner.invoke(app, [*args, "--policy", "greedy", "--json"])
    assert again.stdout == result.stdout


def test_charts_are_written(tmp_path: Path) -> None:
    """--charts writes the utilisation-over-time and lateness PNGs."""
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--size",
            "S",
            "--weeks",
            "1",
            "--policy",
            "isolated",
            "--charts",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "utilisation.png").stat().st_size > 1000
    assert (tmp_path / "lateness.png").stat().st_size > 1000


def test_unknown_policy_is_refused() -> None:
    """A policy name that does not exist exits with status 2 and names the choices."""
    result = CliRunner().invoke(app, ["simulate", "--size", "S", "--weeks", "1", "--policy", "x"])
    assert result.exit_code == 2


def test_a_cluster_file_shorter_than_the_run_repeats_its_windows(tmp_path: Path) -> None:
    """A one-week cluster file simulated for two weeks: its capacity repeats, work continues."""
    import dataclasses

    from sharefab.gen import SIZES, cluster_to_json, generate_cluster

    spec = dataclasses.replace(SIZES["S"], factories=8, resources=40, orders=10, horizon_days=7)
    path = tmp_path / "cluster.json"
    path.write_text(cluster_to_json(generate_cluster(spec, 2)))
    result = CliRunner().invoke(
        app,
        ["simulate", "--cluster", str(path), "--weeks", "2", "--policy", "isolated,greedy"],
    )
    assert result.exit_code == 0, result.output
    assert "isolated" in result.stdout
    assert "greedy" in result.stdout
    assert "sharefab" not in result.stdout


def test_markdown_results_name_the_command(tmp_path: Path) -> None:
    """--markdown writes the table with the command that reproduces it."""
    out = tmp_path / "results.md"
    args = ["simulate", "--size", "S", "--weeks", "1", "--policy", "greedy", "--markdown", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| on-time rate" in text
    assert "greedy" in text
    assert "--weeks" in text
